import pytest

from rag.errors import RagError
from rag.question import (
    DATE,
    MONEY,
    NAME,
    NUMBER,
    OTHER,
    PERCENT,
    PLACE,
    analyse_question,
    answer_type,
    closest_word,
    normalise_question,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "question,kind",
    [
        ("When did the company open its first store?", DATE),
        ("in which year was the plant built", DATE),
        ("How many people work there?", NUMBER),
        ("how much revenue did it make", MONEY),
        ("What percentage of phones are made locally?", PERCENT),
        ("Who runs the Indian business?", NAME),
        ("which company assembles the TVs", NAME),
        ("Where are the new stores?", PLACE),
        ("which cities get new showrooms", PLACE),
        ("Why is the firm investing in villages?", OTHER),
        ("What is the company banking on?", OTHER),
    ],
)
def test_answer_type(question, kind):
    assert answer_type(question) == kind


def test_who_is_a_named_person_asks_for_a_description():
    assert analyse_question("Who is Atul Lall?").kind == OTHER
    assert analyse_question("Who is the chairman of Dixon?").kind == NAME


def test_names_and_numbers_are_required_terms():
    analysed = analyse_question("How many stores did Acme open in Kenya in 2019?")
    required = {t.stem for t in analysed.required}
    assert required == {"acm", "kenya", "2019"}
    assert "store" in {t.stem for t in analysed.terms}


def test_corpus_proper_nouns_make_lowercase_names_required():
    analysed = analyse_question("who is the ceo of acme", proper_nouns=frozenset({"acm"}))
    assert {t.stem for t in analysed.required} == {"acm"}


def test_context_terms_are_never_required():
    analysed = analyse_question("who took over?", context="Acme drop 2022")
    assert not analysed.required
    assert {"acm", "drop", "2022"} <= {t.stem for t in analysed.terms}


@pytest.mark.parametrize("bad", ["", "   \n\t ", "\x00\x01", "🙂🙂🙂", "?!"])
def test_unaskable_input_is_a_clear_error(bad):
    with pytest.raises(RagError):
        normalise_question(bad)


def test_huge_question_is_refused_and_control_characters_removed():
    with pytest.raises(RagError, match="characters"):
        normalise_question("why " * 25_000)
    assert normalise_question("when\x00 did\x1b it\nhappen?") == "when did it happen?"


@pytest.mark.parametrize(
    "word,expected",
    [
        ("xiamoi", "xiaomi"),  # a swap of two neighbours is one edit
        ("manufactring", "manufacturing"),
        ("manufcturng", "manufacturing"),  # two edits in a long word
        ("samsnug", "samsung"),
        ("shipmetns", "shipments"),
        ("xaiomo", None),  # two edits in a short word: another word, not a typo
        ("dixn", None),  # too short to tell
        ("samsung", "samsung"),
    ],
)
def test_a_typo_is_read_as_the_nearest_article_word(word, expected):
    vocabulary = frozenset({"xiaomi", "manufacturing", "samsung", "shipments", "dixon"})
    assert closest_word(word, vocabulary) == expected


def test_equally_near_words_are_chosen_the_same_way_every_time():
    assert closest_word("bcdef", frozenset({"bcdeg", "bcdea", "acdef"})) == "acdef"


def test_misspelt_words_are_read_as_the_article_word_they_nearly_spell():
    vocabulary = frozenset({"xiaomi", "manufacturing", "samsung", "shipments"})
    question = analyse_question("how much did Xiamoi shipmetns fall", vocabulary=vocabulary)
    stems = {t.stem for t in question.terms}
    assert {"xiaomi", "shipment"} <= stems
    # A real word that is merely similar is not "corrected".
    question = analyse_question("did samsong or xiaomax grow", vocabulary=vocabulary)
    assert "xiaomi" not in {t.stem for t in question.terms}
