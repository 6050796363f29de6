import json

import pytest
from click.testing import CliRunner

from rag.cli import cli


@pytest.fixture
def run():
    runner = CliRunner()

    def invoke(*args):
        return runner.invoke(cli, list(args))

    return invoke


def test_ingest_explain_shows_metadata_and_dropped_lines(run, seeds_copy):
    out = run("ingest", "--explain", "--seeds", str(seeds_copy))
    assert out.exit_code == 0
    assert "date:  2017-07-19" in out.output
    assert "date:  unknown" in out.output
    assert "[subscription prompt] Subscribe to our daily newsletter" in out.output
    assert "[image credit] Image Source: Xiaomi" in out.output
    assert "5 article(s) read" in out.output


@pytest.mark.parametrize(
    "args,message",
    [
        (["ingest", "--seeds", "/no/such/folder"], "seeds folder not found"),
        (["search", "q", "--k", "0"], "Invalid value for '--k'"),
        (["search", "q", "--chunk-size", "5"], "Invalid value for '--chunk-size'"),
    ],
)
def test_user_errors_exit_non_zero_with_one_clear_line(run, args, message):
    out = run(*args)
    assert out.exit_code != 0
    assert message in out.output
    assert "Traceback" not in out.output


def test_empty_corpus_is_an_error(run, tmp_path):
    out = run("index", "--seeds", str(tmp_path), "--index-dir", str(tmp_path / "i"))
    assert out.exit_code == 1 and "no readable articles" in out.output


def test_no_rebuild_stops_with_a_message_when_there_is_no_index(run, tmp_path, seeds_copy):
    out = run(
        "search", "xiaomi", "--seeds", str(seeds_copy), "--index-dir", str(tmp_path), "--no-rebuild"
    )
    assert out.exit_code == 1
    assert "no index" in out.output and "rag index" in out.output


def test_index_twice_then_search_json(run, seeds_copy, tmp_path):
    index_dir = str(tmp_path / "index")
    first = run("index", "--seeds", str(seeds_copy), "--index-dir", index_dir)
    assert first.exit_code == 0 and "embedded 5" in first.output
    second = run("index", "--seeds", str(seeds_copy), "--index-dir", index_dir)
    assert "nothing embedded" in second.output
    out = run(
        "search",
        "rural stores",
        "--json",
        "--k",
        "2",
        "--seeds",
        str(seeds_copy),
        "--index-dir",
        index_dir,
    )
    payload = json.loads(out.stdout)
    assert payload["k"] == 2 and len(payload["hits"]) == 2
    hit = payload["hits"][0]
    assert hit.keys() >= {
        "chunk_id",
        "doc",
        "title",
        "date",
        "text",
        "score",
        "dense_rank",
        "bm25_rank",
    }


def test_environment_overrides_defaults(run, seeds_copy, tmp_path, monkeypatch):
    monkeypatch.setenv("RAG_SEEDS_DIR", str(seeds_copy))
    monkeypatch.setenv("RAG_INDEX_DIR", str(tmp_path / "env-index"))
    out = run("index")
    assert out.exit_code == 0
    assert (tmp_path / "env-index" / "current").exists()
