import pytest

from rag.chunking import chunk_article, count_tokens
from rag.ingest import clean_article
from rag.nlp import analyse

TEXT = (
    "Xiaomi opened a store in Pune. It sold phones and watches. The launch drew a crowd. "
    "Prices were not announced. The company plans more stores next year. "
    "Analysts expect growth.\nA new paragraph starts here. It has two sentences."
)


@pytest.fixture(scope="module")
def article_and_sentences():
    article = clean_article("t.txt", TEXT)
    return article, analyse(article.doc_id, article.body)


@pytest.mark.parametrize("size,overlap", [(16, 0), (24, 1), (40, 2), (512, 0)])
def test_chunks_respect_size_and_sentence_boundaries(article_and_sentences, size, overlap):
    article, sentences = article_and_sentences
    chunks = chunk_article(article, sentences, size=size, overlap=overlap)
    boundaries_start = {s.start for s in sentences}
    boundaries_end = {s.end for s in sentences}
    for chunk in chunks:
        assert article.body[chunk.start : chunk.end] == chunk.text
        assert chunk.start in boundaries_start and chunk.end in boundaries_end
        single = chunk.first_sentence == chunk.last_sentence
        assert count_tokens(chunk.text) <= size or single
    # Every sentence is covered, in order.
    covered = set()
    for chunk in chunks:
        covered.update(range(chunk.first_sentence, chunk.last_sentence + 1))
    assert covered == set(range(len(sentences)))
    assert [c.start for c in chunks] == sorted(c.start for c in chunks)


def test_overlap_shares_sentences(article_and_sentences):
    article, sentences = article_and_sentences
    chunks = chunk_article(article, sentences, size=24, overlap=1)
    for left, right in zip(chunks, chunks[1:], strict=False):
        if left.last_sentence > left.first_sentence:
            assert right.first_sentence == left.last_sentence


def test_overlong_sentence_is_split_by_tokens():
    long_sentence = " ".join(["word"] * 300) + "."
    article = clean_article("long.txt", long_sentence)
    chunks = chunk_article(article, analyse("long.txt", article.body), size=50, overlap=0)
    assert len(chunks) >= 6
    assert all(count_tokens(c.text) <= 50 for c in chunks)
    assert all(article.body[c.start : c.end] == c.text for c in chunks)


@pytest.mark.parametrize("limit", [24, 40, 256])
def test_model_limit_is_enforced(article_and_sentences, embedder, limit):
    article, sentences = article_and_sentences

    class Limited:
        max_tokens = limit
        count_tokens_batch = staticmethod(embedder.count_tokens_batch)

    chunks = chunk_article(article, sentences, size=512, overlap=0, model=Limited())
    if limit < 256:
        assert len(chunks) > 1
    assert all(embedder.count_tokens(c.embedding_text()) <= limit for c in chunks)


def test_model_tokens_of_a_chunk_are_the_sum_of_its_sentences(engine, embedder):
    """What lets the chunker tokenize each sentence once (rag/chunking.py)."""
    for chunk in engine.index.chunks:
        sentences = engine.index.sentences[chunk.doc_id]
        if chunk.text != engine.index.articles[chunk.doc_id].body[chunk.start : chunk.end]:
            continue
        parts = [chunk.title] + [
            s.text for s in sentences[chunk.first_sentence : chunk.last_sentence + 1]
        ]
        summed = sum(count - 2 for count in embedder.count_tokens_batch(parts)) + 2
        assert summed == embedder.count_tokens(chunk.embedding_text()), chunk.chunk_id


def test_chunk_ids_are_stable(article_and_sentences):
    article, sentences = article_and_sentences
    first = chunk_article(article, sentences, size=24, overlap=1)
    second = chunk_article(article, sentences, size=24, overlap=1)
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert first[0].chunk_id == "t.txt#000"


def test_no_seed_chunk_exceeds_the_model_sequence_length(engine, embedder):
    assert engine.index.chunks
    for chunk in engine.index.chunks:
        assert embedder.count_tokens(chunk.embedding_text()) <= embedder.max_tokens
        assert count_tokens(chunk.text) <= engine.settings.chunk_size


def test_pdf_chunks_know_their_page():
    from rag.formats import PAGE_BREAK, PDF

    raw = "Acme opened a store in Pune. It sold phones." + PAGE_BREAK + "Prices were not given."
    article = clean_article("r.pdf", raw, kind=PDF, title="Acme in Pune")
    chunks = chunk_article(article, analyse("r.pdf", article.body), size=12, overlap=0)
    assert [(c.text, c.page) for c in chunks] == [
        ("Acme opened a store in Pune. It sold phones.", 1),
        ("Prices were not given.", 2),
    ]
    assert chunks[1].where == "date unknown, p. 2"
