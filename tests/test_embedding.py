import shutil

import numpy as np
import pytest

from rag.embedding import Embedder, model_dir, verify_weights
from rag.errors import RagError


def test_weights_match_the_published_hash():
    verify_weights(model_dir())  # raises on mismatch


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
