"""Shared fixtures: one embedding model and one seed index per test session."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from rag.embedding import Embedder
from rag.engine import Engine
from rag.settings import Settings

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    return Embedder()


@pytest.fixture(scope="session")
def seed_settings(tmp_path_factory) -> Settings:
    return Settings(seeds_dir=SEEDS, index_dir=tmp_path_factory.mktemp("seed-index"))


@pytest.fixture(scope="session")
def engine(seed_settings, embedder) -> Engine:
    return Engine(seed_settings, embedder=embedder)


@pytest.fixture
def seeds_copy(tmp_path) -> Path:
    """A private, writable copy of the seed articles."""
    target = tmp_path / "seeds"
    shutil.copytree(SEEDS, target)
    return target
