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
    normalise_question,
    rewrite_with_history,
    typo_distance,
)


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


@pytest.mark.parametrize(
    "history,question,expected",
    [
        (
            ["When did Acme drop to third?"],
            "and who took the top spot?",
            "who took the top spot (Acme drop to third)?",
        ),
        (
            ["When did Acme drop to third?"],
            "what about 2023?",
            "When did Acme drop to third in 2023?",
        ),
        (["What was Acme's revenue in 2017?"], "and in 2016?", "What was Acme's revenue in 2016?"),
        (
            ["When did Acme open stores in Pune?"],
            "what about Delhi?",
            "When did Acme open stores in Delhi?",
        ),
        (["Who founded Acme?"], "what is its revenue target?", "what is Acme's revenue target?"),
        (
            ["Who founded Acme?"],
            "How many stores does Beta Corp have?",
            "How many stores does Beta Corp have?",
        ),
        ([], "and who took the top spot?", "and who took the top spot?"),
        # A pronoun stands for the earlier question's subject, never for a title in it.
        (
            ["Who is the CEO of Xiaomi India?"],
            "what is its market share?",
            "what is Xiaomi India's market share?",
        ),
        (
            ["Who is Acme's founder?"],
            "when did he start it?",
            "when did Acme's founder start Acme?",
        ),
        # "what about <phrase>?": the phrase is the question, the earlier words only context.
        (
            ["When did Acme drop to third?"],
            "what about the neckbands?",
            "the neckbands (Acme drop to third)?",
        ),
    ],
)
def test_follow_ups_are_rewritten_standalone(history, question, expected):
    assert rewrite_with_history(question, history).standalone == expected


@pytest.mark.parametrize(
    "history,question",
    [
        # No pronoun and no elliptical lead: it does not depend on the earlier turn.
        (
            ["<script>alert('boo')</script> when did Xiaomi drop to third?"],
            "शाओमी भारत में कब तीसरे स्थान पर आया?",
        ),
        (["When did Xiaomi drop to third?"], "What is Redmi?"),
        (["Who is the CEO of Xiaomi India?"], "What is the market share of Samsung?"),
        # The pronoun points at the question's own name.
        (["Who is the CEO of Xiaomi India?"], "What did Samsung say about its sales?"),
        (["When did Xiaomi drop to third?"], "Is it true that Samsung leads?"),
    ],
)
def test_independent_questions_are_never_rewritten(history, question):
    rewrite = rewrite_with_history(question, history)
    assert (rewrite.standalone, rewrite.focus, rewrite.context) == (question, question, "")


def test_unanswerable_earlier_turns_are_skipped_and_gradio_messages_are_read():
    history = [
        {"role": "user", "content": [{"type": "text", "text": "When did Acme drop to third?"}]},
        {"role": "assistant", "content": [{"type": "text", "text": "In 2022 [1]."}]},
        {"role": "user", "content": "🙂🙂🙂"},
        {"role": "assistant", "content": "Please ask a question in words."},
    ]
    assert rewrite_with_history("what about 2023?", history).standalone == (
        "When did Acme drop to third in 2023?"
    )


def test_history_in_chat_message_form_and_chained_follow_ups():
    history = [
        {"role": "user", "content": "When did Acme drop to third?"},
        {"role": "assistant", "content": "In 2022 [1]."},
        {"role": "user", "content": "what about 2023?"},
        {"role": "assistant", "content": "..."},
    ]
    assert rewrite_with_history("and 2024?", history).standalone == (
        "When did Acme drop to third in 2024?"
    )


@pytest.mark.parametrize("bad", ["", "   \n\t ", "\x00\x01", "🙂🙂🙂", "?!"])
def test_unaskable_input_is_a_clear_error(bad):
    with pytest.raises(RagError):
        normalise_question(bad)


def test_huge_question_is_refused_and_control_characters_removed():
    with pytest.raises(RagError, match="characters"):
        normalise_question("why " * 25_000)
    assert normalise_question("when\x00 did\x1b it\nhappen?") == "when did it happen?"


@pytest.mark.parametrize(
    "a,b,distance",
    [
        ("xiamoi", "xiaomi", 1),
        ("manufactring", "manufacturing", 1),
        ("dixon", "dixon", 0),
        ("abc", "", 3),
        ("samsung", "xiaomi", 7),
    ],
)
def test_typo_distance_counts_a_swap_as_one_edit(a, b, distance):
    assert typo_distance(a, b) == distance


def test_misspelt_words_are_read_as_the_article_word_they_nearly_spell():
    vocabulary = frozenset({"xiaomi", "manufacturing", "samsung", "shipments"})
    question = analyse_question("how much did Xiamoi shipmetns fall", vocabulary=vocabulary)
    stems = {t.stem for t in question.terms}
    assert {"xiaomi", "shipment"} <= stems
    # A real word that is merely similar is not "corrected".
    question = analyse_question("did samsong or xiaomax grow", vocabulary=vocabulary)
    assert "xiaomi" not in {t.stem for t in question.terms}
