import shutil

import numpy as np
import pytest

from rag.embedding import Embedder, model_dir, verify_weights
from rag.errors import RagError


@pytest.mark.unit
def test_weights_match_the_published_hash():
    verify_weights(model_dir())  # raises on mismatch


@pytest.mark.unit
def test_tampered_weights_are_rejected_naming_the_file(tmp_path):
    fake = tmp_path / "model"
    shutil.copytree(model_dir(), fake)
    weights = fake / "model.safetensors"
    with weights.open("r+b") as handle:
        handle.seek(1000)
        handle.write(b"\x00\x01\x02")
    with pytest.raises(RagError, match=str(weights)):
        Embedder(fake)


def test_embeddings_are_normalised(embedder):
    vectors = embedder.encode(["Xiaomi in India", "a different sentence"])
    assert vectors.shape == (2, embedder.dimension)
    assert np.allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)


def test_a_span_that_fills_its_window_pools_to_the_plain_encoding(embedder):
    """Late pooling over one window that is exactly ``title\\ntext`` is the plain encode."""
    from rag.embedding import SpanRequest, encode_spans

    body = "Xiaomi took third place in India. Samsung was first, with 22% of the market."
    request = SpanRequest("Xiaomi slips", body, [(0, len(body))], [0, 34], window=192)
    (pooled,) = list(encode_spans(embedder, [request]))
    plain = embedder.encode([f"Xiaomi slips\n{body}"])
    assert float(pooled[0] @ plain[0]) > 0.99999


def test_every_span_gets_a_unit_vector_across_windows(embedder):
    from rag.embedding import SpanRequest, encode_spans

    sentences = [f"Sentence number {i} talks about phones made in factory {i}." for i in range(40)]
    body = " ".join(sentences)
    starts = [body.index(s) for s in sentences]
    # Spans of three sentences, overlapping, across windows of at most 32 tokens.
    spans = [(starts[i], starts[i + 3] - 1) for i in range(0, 36, 2)]
    requests = [SpanRequest("Factories", body, spans, starts, window=32)] * 3
    results = list(encode_spans(embedder, requests))
    assert len(results) == 3 and all(r.shape == (len(spans), embedder.dimension) for r in results)
    assert np.allclose(np.linalg.norm(results[0], axis=1), 1.0, atol=1e-5)
    assert np.allclose(results[0], results[2])  # batching does not change a vector


@pytest.mark.unit
@pytest.mark.parametrize(
    ("starts", "breaks", "budget", "expected"),
    [
        ([0, 5, 10, 15, 20, 25], [0, 10, 20], 4, [(0, 4), (4, 6)]),
        ([0, 5, 10, 15, 20, 25], [0, 10, 20], 3, [(0, 2), (2, 4), (4, 6)]),
        ([0, 5, 10, 15, 20, 25], [0, 15], 4, [(0, 3), (3, 6)]),
        ([0, 5, 10, 15, 20, 25], [0], 4, [(0, 4), (4, 6)]),  # one long sentence: cut
        ([0, 5], [0], 10, [(0, 2)]),
    ],
)
def test_windows_end_where_a_sentence_starts(starts, breaks, budget, expected):
    from rag.embedding import window_bounds

    assert window_bounds(np.array(starts), breaks, budget) == expected


def test_a_damaged_cached_export_is_not_used(tmp_path, embedder):
    from rag.embedding import EXPORT_RECORD, _cached_export

    embedder.encode(["make sure the export exists"])
    source = embedder._cache
    copy = tmp_path / "export"
    shutil.copytree(source, copy)
    assert _cached_export(copy) == copy / "model.onnx"
    with (copy / "model.onnx").open("r+b") as handle:
        handle.seek(5000)
        handle.write(b"\xff\xfe\xfd")
    assert _cached_export(copy) is None
    (copy / EXPORT_RECORD).write_text("not json")
    assert _cached_export(copy) is None


def test_a_body_the_tokenizer_drops_entirely_still_gets_a_vector(embedder):
    from rag.embedding import SpanRequest, encode_spans

    body = "\u200b\u200b\u200b"  # zero-width spaces: text to spaCy, nothing to WordPiece
    assert embedder.count_tokens(body) == 2
    request = SpanRequest("A title", body, [(0, len(body))], [0], window=192)
    (vectors,) = list(encode_spans(embedder, [request]))
    assert np.isclose(np.linalg.norm(vectors[0]), 1.0, atol=1e-5)
