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


@pytest.mark.unit
def test_ingest_explain_shows_metadata_and_dropped_lines(run, seeds_copy):
    out = run("ingest", "--explain", "--articles", str(seeds_copy))
    assert out.exit_code == 0
    assert "date:  2017-07-19" in out.output
    assert "date:  unknown" in out.output
    assert "[subscription prompt] Subscribe to our daily newsletter" in out.output
    assert "[image credit] Image Source: Xiaomi" in out.output
    assert "5 article(s) read" in out.output


@pytest.mark.unit
@pytest.mark.parametrize(
    "args,message",
    [
        (["ingest", "--articles", "/no/such/folder"], "articles folder not found"),
        (["search", "q", "--k", "0"], "Invalid value for '--k'"),
        (["search", "q", "--chunk-size", "5"], "Invalid value for '--chunk-size'"),
    ],
)
def test_user_errors_exit_non_zero_with_one_clear_line(run, args, message):
    out = run(*args)
    assert out.exit_code != 0
    assert message in out.output
    assert "Traceback" not in out.output


@pytest.mark.unit
def test_empty_corpus_is_an_error(run, tmp_path):
    out = run("index", "--articles", str(tmp_path), "--index-dir", str(tmp_path / "i"))
    assert out.exit_code == 1 and "no readable articles" in out.output


def test_no_rebuild_stops_with_a_message_when_there_is_no_index(run, tmp_path, seeds_copy):
    out = run(
        "search",
        "xiaomi",
        "--articles",
        str(seeds_copy),
        "--index-dir",
        str(tmp_path),
        "--no-rebuild",
    )
    assert out.exit_code == 1
    assert "no index" in out.output and "rag index" in out.output


def test_index_twice_then_search_json(run, seeds_copy, tmp_path):
    index_dir = str(tmp_path / "index")
    first = run("index", "--articles", str(seeds_copy), "--index-dir", index_dir)
    assert first.exit_code == 0 and "embedded 5" in first.output
    second = run("index", "--articles", str(seeds_copy), "--index-dir", index_dir)
    assert "nothing embedded" in second.output
    out = run(
        "search",
        "rural stores",
        "--json",
        "--k",
        "2",
        "--articles",
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


@pytest.fixture
def no_engine(monkeypatch):
    """Fail the test the moment anything starts loading the model and the index."""

    def refuse(*args, **kwargs):
        raise AssertionError("the model and index were loaded before the input was checked")

    monkeypatch.setattr("rag.engine.Engine", refuse)


def one_error_line(out) -> str:
    """The single ``Error: ...`` line a user error must produce (and nothing else)."""
    assert out.exit_code == 1, out.output
    lines = out.output.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("Error: "), out.output
    return lines[0]


@pytest.mark.unit
@pytest.mark.parametrize("command", ["ask", "search"])
@pytest.mark.parametrize(
    "question,message",
    [
        ("", "Please type a question"),
        ("  \n\t ", "Please type a question"),
        ("x" * 100_000, "100,000 characters long"),
    ],
    ids=["empty", "whitespace", "100KB"],
)
def test_unusable_questions_are_refused_before_anything_loads(
    run, no_engine, command, question, message
):
    assert message in one_error_line(run(command, question))


@pytest.mark.unit
def test_python_api_refuses_an_empty_question_before_anything_loads(no_engine):
    import rag
    from rag.errors import RagError

    with pytest.raises(RagError, match="Please type a question"):
        rag.ask("   ")


@pytest.mark.unit
def test_a_config_file_that_does_not_exist_is_an_error(run, no_engine, tmp_path):
    missing = tmp_path / "missing.toml"
    line = one_error_line(run("ask", "who leads Xiaomi India?", "--config", str(missing)))
    assert line == f"Error: config file {missing} not found"


@pytest.mark.unit
@pytest.mark.parametrize("command", ["ask", "search", "index"])
def test_an_index_dir_that_is_a_file_is_one_clear_error(run, no_engine, tmp_path, command):
    not_a_folder = tmp_path / "index.txt"
    not_a_folder.write_text("not an index")
    args = [command, "--index-dir", str(not_a_folder)]
    if command != "index":
        args.append("who leads Xiaomi India?")
    line = one_error_line(run(*args))
    assert f"index folder {not_a_folder} is a file" in line
    assert not_a_folder.read_text() == "not an index"


def test_skipped_files_are_reported_by_the_build_not_by_every_ask(run, tmp_path, seeds_copy):
    (seeds_copy / "photo.txt").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(64))
    index = str(tmp_path / "index")
    first = run(
        "ask", "Who is Xiaomi's founder?", "--articles", str(seeds_copy), "--index-dir", index
    )
    assert first.exit_code == 0 and "skipped photo.txt: a PNG image" in first.output
    again = run(
        "ask", "Who is Xiaomi's founder?", "--articles", str(seeds_copy), "--index-dir", index
    )
    assert again.exit_code == 0 and "skipped" not in again.output


@pytest.mark.unit
def test_ingest_explain_names_the_encoding(run, tmp_path):
    (tmp_path / "windows.txt").write_bytes(
        "Prices rose in Zürich\n\nCafé owners said “prices rose 12%” on Monday.\n".encode("cp1252")
    )
    out = run("ingest", "--explain", "--seeds", str(tmp_path))
    assert out.exit_code == 0 and "read as cp1252" in out.output


def test_an_index_says_which_folder_it_was_built_from(run, tmp_path, seeds_copy):
    index = str(tmp_path / "index")
    assert run("index", "--seeds", str(seeds_copy), "--index-dir", index).exit_code == 0
    other = tmp_path / "other"
    other.mkdir()
    (other / "bridge.txt").write_text(
        "Bridge opens after ten years\n\nThe new bridge opened on Monday.\n", encoding="utf-8"
    )
    out = run("index", "--seeds", str(other), "--index-dir", index)
    assert out.exit_code == 0
    assert f"was built from {seeds_copy.resolve()}, not {other.resolve()}" in out.output
    assert "changed" not in out.output


def test_removed_articles_are_reported_as_removed(run, tmp_path, seeds_copy):
    index = str(tmp_path / "index")
    assert run("index", "--seeds", str(seeds_copy), "--index-dir", index).exit_code == 0
    for path in sorted(seeds_copy.iterdir())[:2]:
        path.unlink()
    out = run("index", "--seeds", str(seeds_copy), "--index-dir", index)
    assert out.exit_code == 0
    assert "2 removed since the index was built" in out.output


@pytest.mark.unit
def test_more_history_answers_than_questions_is_one_clear_error(run, no_engine):
    out = run("ask", "when did he join?", "--history-answer", "Muralikrishnan B")
    assert "--history-answer" in one_error_line(out)


@pytest.mark.unit
def test_history_answers_go_with_their_questions(run, monkeypatch):
    asked = {}

    class Result:
        def to_json(self):
            return {"answer": "ok"}

    class Engine:
        def ask(self, question, history=None):
            asked.update(question=question, history=history)
            return Result()

    monkeypatch.setattr("rag.cli.load_engine", lambda settings, allow_rebuild: Engine())
    out = run(
        "ask",
        "when did he join?",
        "--json",
        "--history",
        "Who heads Acme?",
        "--history-answer",
        "Jane Roe",
        "--history",
        "Where is Acme based?",
    )
    assert out.exit_code == 0, out.output
    assert asked["history"] == [("Who heads Acme?", "Jane Roe"), ("Where is Acme based?", None)]


@pytest.mark.unit
def test_the_retired_rules_answerer_is_one_error_line(run, no_engine, monkeypatch):
    monkeypatch.setenv("RAG_ANSWERER", "rules")
    line = one_error_line(run("ask", "who leads Xiaomi India?"))
    assert '"rules" answerer was retired' in line
