"""scripts/reader/export.py: ensembles, and weights split into parts the reader checks."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from rag.answering.reader import Reader
from rag.errors import RagError


@pytest.fixture(scope="module")
def export(reader_script):
    return reader_script("export")


@pytest.fixture(scope="module")
def second_reader_dir(tiny_reader_dir, tmp_path_factory):
    """Another tiny reader: the same architecture and tokenizer, other weights."""
    import torch
    from transformers import AutoModelForQuestionAnswering

    folder = tmp_path_factory.mktemp("second-reader")
    shutil.copytree(tiny_reader_dir, folder, dirs_exist_ok=True)
    model = AutoModelForQuestionAnswering.from_pretrained(tiny_reader_dir)
    torch.manual_seed(1)
    for parameter in model.parameters():
        parameter.data += 0.05 * torch.randn_like(parameter)
    model.save_pretrained(folder)
    return folder


def _sample(rows: int = 3, tokens: int = 24):
    ids = np.random.RandomState(0).randint(1000, 20000, (rows, tokens)).astype(np.int64)
    return ids, np.ones_like(ids), np.zeros_like(ids)


def _onnx_logits(path, ids, mask, types):
    import onnxruntime

    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    names = {i.name for i in session.get_inputs()}
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}
    return session.run(None, {k: v for k, v in feed.items() if k in names})


def _torch_logits(folder, ids, mask, types):
    import torch
    from transformers import AutoModelForQuestionAnswering

    model = AutoModelForQuestionAnswering.from_pretrained(folder).eval()
    with torch.inference_mode():
        out = model(
            input_ids=torch.from_numpy(ids),
            attention_mask=torch.from_numpy(mask),
            token_type_ids=torch.from_numpy(types),
        )
    return out.start_logits.numpy(), out.end_logits.numpy()


def test_an_ensemble_reads_as_the_mean_of_its_members(
    export, tiny_reader_dir, second_reader_dir, tmp_path
):
    out = tmp_path / "ensemble"
    code = export.main(
        [str(tiny_reader_dir), str(second_reader_dir), "--out", str(out), "--weights", "fp32"]
    )
    assert code == 0
    sample = _sample()
    first = _torch_logits(tiny_reader_dir, *sample)
    second = _torch_logits(second_reader_dir, *sample)
    got = _onnx_logits(out / "model.onnx", *sample)
    for mine, a, b in zip(got, first, second, strict=True):
        assert not np.allclose(a, b, atol=1e-3)  # the members do differ
        np.testing.assert_allclose(mine, (a + b) / 2, atol=1e-4)


@pytest.fixture(scope="module")
def split_reader(export, tiny_reader_dir, tmp_path_factory):
    """The tiny reader exported with its weights in parts of at most 1 MB."""
    out = tmp_path_factory.mktemp("split")
    assert export.main([str(tiny_reader_dir), "--out", str(out), "--part-mb", "1"]) == 0
    return out


def test_a_large_model_is_split_into_parts_the_reader_checks(split_reader, tiny_reader_dir):
    import onnx

    card = json.loads((split_reader / "reader.json").read_text())
    parts = card["weight_parts"]
    assert len(parts) >= 2
    tensors_in: dict[str, int] = {}
    graph = onnx.load(str(split_reader / card["weights"]), load_external_data=False).graph
    for tensor in graph.initializer:
        for entry in tensor.external_data:
            if entry.key == "location":
                tensors_in[entry.value] = tensors_in.get(entry.value, 0) + 1
    assert set(tensors_in) == set(parts)
    for name in parts:  # a tensor larger than a part sits in one of its own
        assert (split_reader / name).stat().st_size <= 1e6 or tensors_in[name] == 1
    assert (split_reader / card["weights"]).stat().st_size < 0.1e6
    reader = Reader(split_reader)
    sample = _sample()
    got = reader._model(*sample)
    want = _torch_logits(tiny_reader_dir, *sample)
    for a, b in zip(got, want, strict=True):
        np.testing.assert_allclose(a, b, atol=2e-3)  # fp16 storage


def _copy(folder, tmp_path):
    target = tmp_path / "reader"
    shutil.copytree(folder, target)
    return target, json.loads((target / "reader.json").read_text())


def test_a_damaged_part_fails_the_sha256_check(split_reader, tmp_path):
    folder, card = _copy(split_reader, tmp_path)
    part = folder / sorted(card["weight_parts"])[-1]
    data = bytearray(part.read_bytes())
    data[len(data) // 2] ^= 0xFF
    part.write_bytes(bytes(data))
    with pytest.raises(RagError, match="sha256"):
        Reader(folder)


def test_a_missing_part_is_named(split_reader, tmp_path):
    folder, card = _copy(split_reader, tmp_path)
    name = sorted(card["weight_parts"])[0]
    (folder / name).unlink()
    with pytest.raises(RagError, match=f"weights not found: .*{name}"):
        Reader(folder)


def test_a_part_outside_the_folder_is_refused(split_reader, tmp_path):
    folder, card = _copy(split_reader, tmp_path)
    card["weight_parts"] = {"../elsewhere.bin": "0" * 64}
    (folder / "reader.json").write_text(json.dumps(card))
    with pytest.raises(RagError, match="outside its folder"):
        Reader(folder)


@pytest.mark.parametrize("parts", [["model-0.bin"], "model-0.bin", None])
def test_weight_parts_that_are_not_a_mapping_are_one_clear_error(split_reader, tmp_path, parts):
    folder, card = _copy(split_reader, tmp_path)
    card["weight_parts"] = parts
    (folder / "reader.json").write_text(json.dumps(card))
    with pytest.raises(RagError, match="unreadable"):
        Reader(folder)
