"""spaCy analysis: sentences and lemmas at index time, entities on demand."""

from __future__ import annotations

import pytest

from rag.ingest import read_corpus
from rag.nlp import EntityFinder, analyse, analyse_many, load_pipeline


@pytest.fixture(scope="module")
def seed_articles(seed_settings):
    return read_corpus(seed_settings.articles_dir).articles


def test_batched_analysis_matches_one_article_at_a_time(seed_articles):
    together = dict(analyse_many((a.doc_id, a.body) for a in seed_articles))
    assert list(together) == [a.doc_id for a in seed_articles]
    for article in seed_articles:
        assert together[article.doc_id] == analyse(article.doc_id, article.body)


def test_articles_without_paragraphs_keep_their_place():
    out = list(analyse_many([("a", ""), ("b", "One sentence. Two sentences."), ("c", "\n\n")]))
    assert [doc_id for doc_id, _ in out] == ["a", "b", "c"]
    assert [len(sentences) for _, sentences in out] == [0, 2, 0]


def test_entities_on_demand_are_those_the_whole_pipeline_finds(seed_articles):
    """What the rules answerer reads now equals what the index once stored."""
    nlp = load_pipeline()
    article = seed_articles[0]
    finder = EntityFinder({article.doc_id: article.body})
    offset = 0
    expected = []
    for line in article.body.split("\n"):
        if line.strip():
            doc = nlp(line)
            for sent in (s for s in doc.sents if s.text.strip()):
                expected.append(
                    [(offset + e.start_char, offset + e.end_char, e.label_) for e in sent.ents]
                )
        offset += len(line) + 1
    found = [
        [(e.start, e.end, e.label) for e in finder.with_entities(s).entities]
        for s in analyse(article.doc_id, article.body)
    ]
    assert found == expected
    assert any(found)
