import pytest

from rag.terms import (
    EXTRA_STOP_WORDS,
    MEANINGFUL,
    STOP_WORDS,
    countries,
    country_stem,
    initialisms,
    ranks,
    terms,
    without_rank_positions,
)

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text,expected",
    [
        ("Acme took third place in the market.", {"rank3"}),
        ("Acme was reduced to number three in Q1.", {"rank3"}),
        ("Acme is No. 1 again.", {"rank1"}),
        ("Acme lost the top spot to Zeta.", {"rank1"}),
        ("Acme, the market leader, grew.", {"rank1"}),
        ("Acme is the second-largest seller.", {"rank2"}),
        ("Sales dropped to fourth.", {"rank4"}),
        # Not rankings: an ordinal of time, a count after "number", a first glance.
        ("For the first time, Acme sold phones.", set()),
        ("The number of stores rose.", set()),
        ("It sold number 1 million units.", set()),
        ("At first glance it looked fine.", set()),
        ("No one knows, and no two phones match.", set()),
    ],
)
def test_ranks_read_a_position_however_it_is_phrased(text, expected):
    assert ranks(text) == expected


def test_rank_position_words_are_part_of_the_rank_not_a_count():
    assert terms("took third place") == ["took", "place", "rank3"]
    assert "3" in terms("three new plants")
    assert without_rank_positions("fell to third") == "fell to      "


def test_nationality_words_stand_for_their_country():
    assert countries("Indian and Chinese makers") == {"india", "china"}
    assert country_stem("korean") == country_stem("korea")
    assert countries("Acme makes phones") == frozenset()


def test_one_of_is_an_idiom_not_a_count():
    assert "1" not in terms("It is one of the key tasks.")
    assert "1" in terms("It opened one store.")


def test_initialisms_of_word_runs():
    assert initialisms("the managing director of Acme")["md"] == ("manag", "director")
    spelled = initialisms("said Jane Roe, Chief Executive Officer of Acme", capitalised_only=True)
    assert spelled["ceo"] == ("chief", "execut", "offic")
    # Punctuation ends a run: "Roe, Chief" is not one name.
    assert "rc" not in spelled


@pytest.mark.parametrize(
    "word", ["third", "first", "last", "top", "two", "not", "before", "may", "made", "since"]
)
def test_words_that_carry_meaning_are_not_stop_words(word):
    assert word not in STOP_WORDS


@pytest.mark.parametrize("word", ["the", "however", "whereas", "according", "said", "tell"])
def test_function_words_are_stop_words(word):
    assert word in STOP_WORDS


def test_the_stop_words_are_spacys_list_less_the_meaningful_words():
    from spacy.lang.en.stop_words import STOP_WORDS as SPACY

    spacy_words = {w for w in SPACY if w.isalpha()}
    assert spacy_words - MEANINGFUL == STOP_WORDS - EXTRA_STOP_WORDS
