"""scripts/reader/to_torch.py: the shipped reader back as torch weights, the same answers."""

from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="module")
def to_torch(reader_script):
    return reader_script("to_torch")


def test_the_shipped_reader_comes_back_with_the_same_logits(to_torch, tmp_path):
    from transformers import AutoModelForQuestionAnswering

    shipped = ROOT / "models" / "reader" / "model.onnx"
    assert to_torch.main([str(shipped), "--out", str(tmp_path / "torch")]) == 0
    model = AutoModelForQuestionAnswering.from_pretrained(tmp_path / "torch").eval()
    assert to_torch.largest_difference(shipped, model) < 1e-3
    assert (tmp_path / "torch" / "tokenizer.json").exists()


def test_a_model_of_another_architecture_is_refused(to_torch, tmp_path):
    from transformers import BertConfig, BertForQuestionAnswering

    other = BertForQuestionAnswering(
        BertConfig(hidden_size=32, num_hidden_layers=1, num_attention_heads=2, intermediate_size=64)
    )
    with pytest.raises(SystemExit, match="no weights"):
        to_torch.torch_state(ROOT / "models" / "reader" / "model.onnx", other)
