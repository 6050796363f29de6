"""`rag ask` end to end on the default reader: the JSON contract, bad input, the Python API."""

import json

import pytest
from click.testing import CliRunner

from rag.cli import cli

ANSWERED = "Who is Xiaomi's founder?"


def test_ask_json_contract(seed_settings, engine):
    runner = CliRunner()
    out = runner.invoke(
        cli,
        ["ask", ANSWERED, "--json", "--index-dir", str(seed_settings.index_dir), "--no-rebuild"],
    )
    assert out.exit_code == 0, out.output
    payload = json.loads(out.stdout)
    assert set(payload) >= {
        "question",
        "answer",
        "abstained",
        "rewritten_query",
        "citations",
        "related",
        "timings_ms",
    }
    assert payload["citations"][0].keys() >= {
        "n",
        "doc",
        "title",
        "date",
        "chunk_id",
        "text",
        "quote",
    }
    assert all("n" not in r for r in payload["related"])
    assert set(payload["timings_ms"]) == {"retrieve", "answer", "total"}
    assert len(payload["answer"]) < 400


@pytest.mark.parametrize(
    "question",
    [
        "",
        "   ",
        "\x00\x07",
        "🙂🙂",
        "x" * 100_000,
        "¿Quién es el director de Xiaomi?",
        "小米什么时候跌到第三？",
    ],
)
def test_bad_input_gets_a_clear_reply_and_never_touches_the_index(seed_settings, question):
    index_dir = seed_settings.index_dir
    before = sorted((p.name, p.stat().st_mtime_ns) for p in index_dir.rglob("*") if p.is_file())
    out = CliRunner().invoke(cli, ["ask", question, "--index-dir", str(index_dir), "--no-rebuild"])
    assert "Traceback" not in out.output
    assert out.exception is None or isinstance(out.exception, SystemExit)
    if out.exit_code:
        assert out.output.strip().startswith("Error:") and len(out.output.splitlines()) == 1
    else:
        assert "don't say" in out.output
    after = sorted((p.name, p.stat().st_mtime_ns) for p in index_dir.rglob("*") if p.is_file())
    assert before == after


def test_python_api_returns_the_cli_json_object(seed_settings):
    import rag

    result = rag.ask(ANSWERED, settings=seed_settings)
    payload = result.to_json()
    assert payload["citations"] and not payload["abstained"]
    assert rag.get_engine(seed_settings) is rag.get_engine(seed_settings)  # loaded once
