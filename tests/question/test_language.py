"""Questions in a language the articles are not in get a notice, English ones never do."""

import json
import time
from pathlib import Path

import pytest

from rag.errors import RagError
from rag.ingest import read_corpus
from rag.question import normalise_question
from rag.question.language import LANGUAGE_NOTICE, LanguageCheck, english_words

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
GOLD = [json.loads(line)["question"] for line in (ROOT / "evals" / "gold.jsonl").open()]


@pytest.fixture(scope="module")
def check() -> LanguageCheck:
    corpus = read_corpus(ROOT / "seeds")
    texts = [a.title for a in corpus.articles] + [a.body for a in corpus.articles]
    return LanguageCheck.from_texts(texts, lexicon=english_words())


@pytest.mark.parametrize(
    "question",
    [
        "शाओमी भारत में कब तीसरे स्थान पर आया?",  # Hindi
        "小米什么时候在印度跌到第三?",  # Chinese
        "¿Quién fundó Xiaomi?",  # Spanish
        "Quel est le fondateur de Xiaomi ?",  # French
        "Wann ist Xiaomi auf Platz drei gefallen?",  # German
    ],
)
def test_questions_in_other_languages_get_the_notice(check, question):
    assert check.is_foreign(question)
    with pytest.raises(RagError) as raised:
        check.check(question)
    assert str(raised.value) == LANGUAGE_NOTICE


@pytest.mark.parametrize(
    "question",
    GOLD
    + [
        "Who is Sundar Pichai?",  # names the articles lack are not another language
        "how much did Xiamoi shipmetns fall?",  # typos of article words
        "Xiaomi ka market share kya hai?",  # mostly article words
        "What is the weather in Paris tomorrow?",
        "Does Xiaomi sell refrigerators or washing machines?",  # English, not in the articles
        "How tall is the tallest building in Mumbai?",
        "1. When did Xiaomi drop to third?",
    ],
)
def test_english_questions_pass(check, question):
    assert not check.is_foreign(question), check.unknown_words(question)


def test_each_notice_says_what_it_means():
    with pytest.raises(RagError) as raised:
        normalise_question("🙂🙂🙂")
    assert str(raised.value) == "Please ask a question in words."
    assert LANGUAGE_NOTICE == "The articles are in English; please ask in English."


def test_empty_and_huge_questions_get_their_own_messages_before_any_scan(check):
    with pytest.raises(RagError, match="characters"):
        check.check("zzqx " * 25_000)
    with pytest.raises(RagError, match="Please type a question"):
        check.check("   ")


def test_a_long_question_of_unknown_words_is_decided_quickly(check):
    started = time.perf_counter()
    assert check.is_foreign(" ".join(f"qwertz{n}x plonkety" for n in range(60))[:1000])
    assert time.perf_counter() - started < 2
