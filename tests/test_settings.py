from pathlib import Path

import pytest

from rag.errors import RagError
from rag.settings import Settings, load_settings


def test_precedence_defaults_config_env_flags(tmp_path: Path):
    config = tmp_path / "rag.toml"
    config.write_text('[rag]\nchunk_size = 100\nk = 7\nseeds_dir = "articles"\n')
    settings = load_settings(config_file=config, environ={})
    assert (settings.chunk_size, settings.k, settings.seeds_dir) == (100, 7, Path("articles"))
    settings = load_settings(config_file=config, environ={"RAG_K": "9"})
    assert settings.k == 9 and settings.chunk_size == 100
    settings = settings.with_overrides(k=3, chunk_size=None)
    assert settings.k == 3 and settings.chunk_size == 100
    assert load_settings(config_file=tmp_path / "missing.toml", environ={}) == Settings()


@pytest.mark.parametrize(
    "environ,message",
    [
        ({"RAG_K": "many"}, "must be a number"),
        ({"RAG_K": "0"}, "between 1 and 50"),
        ({"RAG_CHUNK_SIZE": "4"}, "chunk size"),
    ],
)
def test_bad_values_are_clear_errors(environ, message):
    with pytest.raises(RagError, match=message):
        load_settings(config_file=Path("/nonexistent.toml"), environ=environ)


def test_bad_config_file(tmp_path: Path):
    config = tmp_path / "rag.toml"
    config.write_text("k = [")
    with pytest.raises(RagError, match="not valid TOML"):
        load_settings(config_file=config, environ={})
    config.write_text("colour = 'blue'")
    with pytest.raises(RagError, match="unknown setting"):
        load_settings(config_file=config, environ={})
