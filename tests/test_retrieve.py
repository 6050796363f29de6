import pytest

from rag.retrieve import BM25Retriever, DenseRetriever, HybridRetriever, reciprocal_rank_fusion

SAMPLE = "when did Xiaomi drop to third?"


def reference_rrf(rankings, k):
    scores = {}
    for ranking in rankings:
        for position, item in enumerate(ranking):
            scores[item] = scores.get(item, 0) + 1 / (k + position + 1)
    return scores


@pytest.mark.unit
@pytest.mark.parametrize(
    "rankings", [[[1, 2, 3], [3, 2, 1]], [[5], []], [[1, 2], [2, 9, 1, 4]], [[], []]]
)
def test_rrf_matches_reference(rankings):
    assert reciprocal_rank_fusion(rankings, k=60) == pytest.approx(reference_rrf(rankings, 60))


@pytest.mark.unit
def test_rrf_prefers_items_ranked_well_by_both():
    fused = reciprocal_rank_fusion([[1, 2, 3], [2, 3, 1]], k=60)
    assert max(fused, key=fused.get) == 2


def test_sample_question_top3_has_both_articles(engine):
    hits = engine.search(SAMPLE, k=3)
    docs = {hit.chunk.doc_id for hit in hits}
    assert {"002_38dd1345af9d5afe.txt", "004_27bc064c97c57b8b.txt"} <= docs


def test_hits_report_fused_score_and_both_ranks(engine):
    hits = engine.search(SAMPLE, k=5)
    assert len(hits) == 5
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert all(h.dense_rank is not None or h.bm25_rank is not None for h in hits)
    assert any(h.dense_rank and h.bm25_rank for h in hits)


@pytest.mark.parametrize("retriever_type", [DenseRetriever, BM25Retriever, HybridRetriever])
def test_each_retriever_finds_the_rural_stores_article(engine, retriever_type):
    hits = retriever_type(engine.index).search(engine.query("how many rural shops opened"), k=3)
    assert hits[0].chunk.doc_id == "003_1fb2797fe9db0d38.txt"


def test_query_of_only_unknown_words_still_returns_dense_hits(engine):
    hits = engine.search("zzqx blorf", k=3)
    assert len(hits) == 3 and all(h.bm25_rank is None for h in hits)
