"""spaCy analysis: sentences and lemmas at index time."""

from __future__ import annotations

import pytest

from rag.ingest import read_corpus
from rag.nlp import analyse, analyse_many


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
