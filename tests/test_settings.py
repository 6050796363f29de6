from pathlib import Path

import pytest

from rag.errors import RagError
from rag.settings import Settings, load_settings

pytestmark = pytest.mark.unit


def test_precedence_defaults_config_env_flags(tmp_path: Path):
    config = tmp_path / "rag.toml"
    config.write_text('[rag]\nchunk_size = 100\nk = 7\narticles_dir = "articles"\n')
    settings = load_settings(config_file=config, environ={})
    assert (settings.chunk_size, settings.k, settings.articles_dir) == (100, 7, Path("articles"))
    settings = load_settings(config_file=config, environ={"RAG_K": "9"})
    assert settings.k == 9 and settings.chunk_size == 100
    settings = settings.with_overrides(k=3, chunk_size=None)
    assert settings.k == 3 and settings.chunk_size == 100
    assert load_settings(config_file=None, environ={"RAG_CONFIG": str(config)}).k == 7


def test_the_articles_folder_is_also_read_under_its_earlier_name(tmp_path: Path):
    config = tmp_path / "rag.toml"
    config.write_text('[rag]\nseeds_dir = "old"\n')
    assert load_settings(config_file=config, environ={}).articles_dir == Path("old")
    assert load_settings(config_file=config, environ={"RAG_SEEDS_DIR": "env"}).articles_dir == (
        Path("env")
    )
    both = {"RAG_SEEDS_DIR": "earlier", "RAG_ARTICLES_DIR": "current"}
    assert load_settings(config_file=config, environ=both).articles_dir == Path("current")


@pytest.mark.parametrize("named_by", ["argument", "environment"])
def test_a_named_config_file_that_does_not_exist_is_an_error(tmp_path: Path, named_by):
    missing = tmp_path / "missing.toml"
    if named_by == "argument":
        kwargs = {"config_file": missing, "environ": {}}
    else:
        kwargs = {"environ": {"RAG_CONFIG": str(missing)}}
    with pytest.raises(RagError, match=f"config file {missing} not found"):
        load_settings(**kwargs)


def test_the_default_config_file_may_be_absent(tmp_path: Path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # no rag.toml here
    assert load_settings(environ={}) == Settings()


@pytest.mark.parametrize(
    "environ,message",
    [
        ({"RAG_K": "many"}, "must be a number"),
        ({"RAG_K": "0"}, "between 1 and 50"),
        ({"RAG_CHUNK_SIZE": "4"}, "chunk size"),
        ({"RAG_FEEDBACK_CAP": "-1"}, "feedback cap"),
    ],
)
def test_bad_values_are_clear_errors(environ, message, tmp_path: Path):
    empty_config = tmp_path / "rag.toml"
    empty_config.write_text("")
    with pytest.raises(RagError, match=message):
        load_settings(config_file=empty_config, environ=environ)


def test_bad_config_file(tmp_path: Path):
    config = tmp_path / "rag.toml"
    config.write_text("k = [")
    with pytest.raises(RagError, match="not valid TOML"):
        load_settings(config_file=config, environ={})
    config.write_text("colour = 'blue'")
    with pytest.raises(RagError, match="unknown setting"):
        load_settings(config_file=config, environ={})


def test_feedback_cap_defaults_to_ten_thousand_votes_and_can_be_set(tmp_path: Path):
    empty_config = tmp_path / "rag.toml"
    empty_config.write_text("")
    assert load_settings(config_file=empty_config, environ={}).feedback_cap == 10_000
    settings = load_settings(config_file=empty_config, environ={"RAG_FEEDBACK_CAP": "50"})
    assert settings.feedback_cap == 50


def test_the_chat_windows_limits_are_settings(tmp_path: Path):
    from rag.question import normalise_question

    empty_config = tmp_path / "rag.toml"
    empty_config.write_text("")
    default = load_settings(config_file=empty_config, environ={})
    assert (default.max_question_chars, default.max_request_mb, default.chat_concurrency) == (
        1000,
        64,
        8,
    )
    settings = load_settings(
        config_file=empty_config,
        environ={
            "RAG_MAX_QUESTION_CHARS": "40",
            "RAG_MAX_REQUEST_MB": "32",
            "RAG_CHAT_CONCURRENCY": "2",
        },
    )
    assert (settings.max_request_mb, settings.chat_concurrency) == (32, 2)
    with pytest.raises(RagError, match="at most 40 characters"):
        normalise_question("x" * 41, max_chars=settings.max_question_chars)
    for bad in ({"max_question_chars": 5}, {"max_request_mb": 10}, {"chat_concurrency": 0}):
        with pytest.raises(RagError):
            default.with_overrides(**bad)


def test_vector_store_and_ann_threshold_come_from_the_environment():
    settings = load_settings(
        environ={"RAG_VECTOR_URI": "http://milvus:19530", "RAG_ANN_THRESHOLD": "50000"},
        config_file=None,
    )
    assert settings.vector_uri == "http://milvus:19530"
    assert settings.ann_threshold == 50_000


def test_a_negative_ann_threshold_is_refused():
    with pytest.raises(RagError, match="ann_threshold"):
        Settings(ann_threshold=-1)


def test_examples_come_from_the_config_file_or_the_environment(tmp_path):
    config = tmp_path / "rag.toml"
    config.write_text('[rag]\ntitle = "Archive"\nexamples = ["Who won?", "When?"]\n')
    settings = load_settings(config_file=config, environ={})
    assert settings.corpus_title() == "Archive"
    assert settings.corpus_examples(["A headline"]) == ["Who won?", "When?"]
    from_env = load_settings(environ={"RAG_EXAMPLES": '["Where?"]', "RAG_CONFIG": str(config)})
    assert from_env.examples == ("Where?",)


@pytest.mark.parametrize("raw", ["not json", '{"a": 1}', "[1, 2]"])
def test_examples_must_be_a_list_of_strings(raw):
    with pytest.raises(RagError, match="examples"):
        load_settings(environ={"RAG_EXAMPLES": raw})


def test_only_the_seed_folder_is_branded(tmp_path):
    seeds = Settings()
    assert "Xiaomi" in seeds.corpus_title()
    assert all("Xiaomi" in e for e in seeds.corpus_examples(["ignored"]))
    other = Settings(articles_dir=tmp_path)
    assert other.corpus_title() == "Ask the articles"
    headlines = ["Bridge opens", "Bridge opens", "Mayor re-elected", "", "Rain", "Snow", "Fog"]
    assert other.corpus_examples(headlines) == ["Bridge opens", "Mayor re-elected", "Rain", "Snow"]


def test_the_retired_rules_answerer_is_one_clear_error():
    with pytest.raises(RagError, match='"rules" answerer was retired') as raised:
        load_settings(config_file=None, environ={"RAG_ANSWERER": "rules"})
    assert "\n" not in str(raised.value)
