"""Follow-ups: rewritten only when they lean on an earlier turn, from its question and answer."""

import pytest

from rag.question.followup import rewrite_with_history


@pytest.mark.parametrize(
    "history,question,expected",
    [
        (
            ["When did Acme drop to third?"],
            "and who took the top spot?",
            "who took the top spot (Acme, third)?",
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
        # A contraction is spelled out, never glued to the name that stands in.
        (
            ["Who founded Acme?"],
            "how many stores has it said they've opened?",
            "how many stores has Acme said Acme have opened?",
        ),
        # "what about <phrase>?": the phrase is the question; the earlier names and ranks context.
        (
            ["When did Acme drop to third?"],
            "what about the neckbands?",
            "the neckbands (Acme, third)?",
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


@pytest.mark.unit
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


@pytest.mark.unit
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


def chat(question: str, answer: str) -> list[dict]:
    return [{"role": "user", "content": question}, {"role": "assistant", "content": answer}]


@pytest.mark.parametrize(
    "history,question,expected",
    [
        # The answer named a company: "it" is that company.
        (
            chat("Who is Acme's manufacturing partner?", "Optiemus Electronics Ltd. [1]"),
            "who else is it a strategic partner of?",
            "who else is Optiemus Electronics a strategic partner of?",
        ),
        # A person's name spaCy has no label for, answering "who": "he" is that person.
        (
            chat("Who heads Acme India?", "Muralikrishnan B"),
            "when did he join?",
            "when did Muralikrishnan B join?",
        ),
        # A count, a person or a place is never what "it" stands for: the subject is.
        (
            chat("How many stores did Acme open?", "14"),
            "what is its market share?",
            "what is Acme's market share?",
        ),
        (
            chat("Who is the CEO of Acme India?", "Manu Kumar Jain"),
            "what is its market share?",
            "what is Acme India's market share?",
        ),
        (
            chat("Which city got the first Mi Home?", "Bengaluru"),
            "when did it open?",
            "when did Mi Home open?",
        ),
        # A product answering "what": "it" is the product.
        (
            chat("What is Acme's best-selling phone?", "the Redmi Note 4"),
            "how much does it cost?",
            "how much does Redmi Note 4 cost?",
        ),
        # An unanswered "who": "his" is that unknown person, never the company asked about;
        # the earlier names go along as context.
        (
            chat("Who did the Acme team meet in May 2023?", "The articles don't say."),
            "what's his position?",
            "what's his position (May 2023, Acme team)?",
        ),
        # A refusal names nothing.
        (
            chat("Who makes Acme's phones?", "The articles don't say. The closest passages …"),
            "where are their factories?",
            "where are Acme's factories?",
        ),
        # `rag ask --json` records and (question, answer) pairs are histories too.
        (
            [
                {
                    "question": "Who overtook Acme?",
                    "answer": "Samsung did [1].",
                    "short_answer": "Samsung",
                    "abstained": False,
                }
            ],
            "what is their market share?",
            "what is Samsung's market share?",
        ),
        (
            [("Who makes Acme's phones?", "<p>Foxconn makes them [1].</p>")],
            "where are its factories?",
            "where are Foxconn's factories?",
        ),
        # A new time replaces the earlier one, a quarter as well as a year.
        (
            chat("Where did Acme rank in Q4 2016 according to IDC?", "second"),
            "what about Q1 2023?",
            "Where did Acme rank in Q1 2023 according to IDC?",
        ),
        # No words of its own: the earlier names, ranks and answer go along as context.
        (
            chat("When did Acme drop to third?", "Q1 2023"),
            "why?",
            "why (Acme, third, Q1 2023)?",
        ),
        (
            chat("When did Acme drop to third?", "Q1 2023"),
            "and who took the top spot?",
            "who took the top spot (Acme, third, Q1 2023)?",
        ),
        # "that growth" points back even without a pronoun.
        (
            chat("How much did Acme grow in 2017?", "328 percent"),
            "which phones drove that growth",
            "which phones drove that growth (Acme, 2017, 328 percent)?",
        ),
    ],
)
def test_the_earlier_answer_says_what_a_follow_up_means(history, question, expected):
    assert rewrite_with_history(question, history).standalone == expected


def test_context_is_never_required_and_the_question_keeps_its_own_words():
    rewrite = rewrite_with_history(
        "and how many in Delhi?", chat("How many stores did Acme open?", "14")
    )
    assert rewrite.focus == "how many in Delhi?"
    assert "Acme" in rewrite.context and "stores" in rewrite.context


@pytest.mark.parametrize(
    "answer,expected",
    [
        # The chat window's HTML: only its answer counts, badges and warning sign dropped.
        (
            '<div class="rag-answer">Muralikrishnan B <a class="rag-marker" href="#t1-1" '
            'title="x">1</a>.</div><div class="rag-cite">1 Xiaomi India names a president</div>',
            "when did Muralikrishnan B join?",
        ),
        (
            '<div class="rag-answer">⚠️ <em>The articles don\'t say.</em></div>'
            '<div class="rag-cite">Related: Samsung leads</div>',
            "when did the president of Acme India join?",
        ),
        # A date, an amount or a rank is never who "he" is.
        ("In 2017", "when did the president of Acme India join?"),
        ("About 40 percent", "when did the president of Acme India join?"),
    ],
)
def test_what_the_window_shows_is_read_as_the_answer(answer, expected):
    history = chat("Who is the president of Acme India?", answer)
    assert rewrite_with_history("when did he join?", history).standalone == expected


def test_a_history_of_any_size_is_read_safely():
    # Before the caps, this answer alone kept spaCy's tokenizer (and every thread) busy
    # for minutes; a lone surrogate made it raise.
    huge_answer = chat("Who heads Acme India?", "<" * 80_000 + "\ud800")
    many_turns = [m for n in range(5_000) for m in chat(f"Question {n} about Acme?", "Beta")]
    assert rewrite_with_history("when did he join?", huge_answer).standalone
    assert rewrite_with_history("what is its revenue?", many_turns).standalone == (
        "what is Beta's revenue?"
    )


def by_shared_words(phrase: str, others: list[str]) -> list[float]:
    """A stand-in for embedding similarity: the share of ``phrase``'s words in each other."""
    words = set(phrase.lower().split())
    return [len(words & set(o.lower().split())) / len(words) for o in others]


@pytest.mark.parametrize(
    "earlier,question,expected",
    [
        # The phrase of the same number and kind, the most similar one: not "Acme".
        (
            "How many Mi Preferred Partners does Acme have in its offline network?",
            "and Mi Home stores?",
            "How many Mi Home stores does Acme have in its offline network?",
        ),
        # Coordinated phrases are replaced together; what a "which" asks for is not replaced.
        (
            "Which contract manufacturers does Acme use to assemble smartphones and TVs?",
            "and for audio products?",
            "Which contract manufacturers does Acme use to assemble audio products?",
        ),
        # Among names, the most similar one, not the last.
        (
            "Where did Acme Corp rank according to IDC?",
            "what about Beta Corp?",
            "Where did Beta Corp rank according to IDC?",
        ),
        # A question phrase asks instead of the earlier one.
        (
            "Which Chinese bank has Acme's payments service tied up with?",
            "and which card network?",
            "which card network has Acme's payments service tied up with?",
        ),
        (
            "How many phones did Acme sell in 2017?",
            "and how many TVs?",
            "how many TVs did Acme sell in 2017?",
        ),
        # Nothing of its kind to replace: the phrase is the question, the earlier names context.
        (
            "When did Acme drop to third?",
            "what about the neckbands?",
            "the neckbands (Acme, third)?",
        ),
        # A determiner is not part of what is swapped; a possessor is a phrase of its own.
        (
            "What was the revenue of Acme in India?",
            "and the profit?",
            "What was the profit of Acme in India?",
        ),
        ("Who is Acme Corp's India head?", "and Beta Corp's?", "Who is Beta Corp's India head?"),
        # A company never stands in for a place: the earlier names go along as context.
        (
            "What did Samsung launch in India in 2020?",
            "and Apple?",
            "Apple (Samsung, India, 2020)?",
        ),
        # A bare "who", or another kind of question phrase, is not swapped.
        ("Who is the CEO of Acme India?", "and which company?", "which company (CEO, Acme India)?"),
        (
            "How many stores does Acme have in Pune?",
            "and which city?",
            "which city (Acme, Pune, stores)?",
        ),
        # "how many in Delhi" says where, not what: not swapped for "How many stores".
        (
            "How many stores did Acme open?",
            "and how many in Delhi?",
            "how many in Delhi (Acme, stores)?",
        ),
    ],
)
def test_a_bare_phrase_takes_the_place_of_its_kind(earlier, question, expected):
    assert rewrite_with_history(question, [earlier], by_shared_words).standalone == expected
