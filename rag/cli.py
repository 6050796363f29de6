"""The ``rag`` command line: ingest, index, search (and later ask, eval, chat)."""

from __future__ import annotations

import contextlib
import functools
import json
import sys
import textwrap
from pathlib import Path

import click

from .errors import RagError
from .settings import Settings, load_settings

# Documents named per line of `rag index` output; a big corpus gets a count for the rest.
MAX_LISTED = 20


class RagGroup(click.Group):
    """Turns every user-caused error into one clear line and a non-zero exit."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except RagError as error:
            click.secho(f"Error: {error}", fg="red", err=True)
            sys.exit(1)
        except KeyboardInterrupt:
            click.echo("Interrupted.", err=True)
            sys.exit(130)


def settings_options(command):
    """Flags every command shares; they override config file and environment."""

    @click.option(
        "--articles",
        "--seeds",
        "articles_dir",
        type=click.Path(path_type=Path),
        help="Articles folder (default: seeds/).",
    )
    @click.option("--index-dir", type=click.Path(path_type=Path), help="Index folder.")
    @click.option("--chunk-size", type=click.IntRange(16, 512), help="Chunk size in tokens.")
    @click.option(
        "--overlap",
        "chunk_overlap",
        type=click.IntRange(0, 5),
        help="Sentences shared by neighbouring chunks.",
    )
    @click.option(
        "--config",
        "config_file",
        type=click.Path(path_type=Path, dir_okay=False),
        help="Config file (default: ./rag.toml or $RAG_CONFIG).",
    )
    @functools.wraps(command)
    def wrapper(*args, config_file=None, **kwargs):
        overrides = {
            name: kwargs.pop(name)
            for name in ("articles_dir", "index_dir", "chunk_size", "chunk_overlap", "k")
            if name in kwargs
        }
        settings = load_settings(config_file=config_file).with_overrides(**overrides)
        return command(*args, settings=settings, **kwargs)

    return wrapper


def say(message: str) -> None:
    click.echo(message, err=True)


def load_engine(settings: Settings, *, allow_rebuild: bool = True, rebuild: bool = False):
    from .engine import Engine
    from .index import check_index_dir

    check_index_dir(settings.index_dir)  # before seconds of model loading, not after
    return Engine(
        settings, allow_rebuild=allow_rebuild, rebuild=rebuild, show_progress=True, say=say
    )


def check_question(question: str, settings: Settings) -> None:
    """RagError for an empty or oversized question, before the model and index load."""
    from .question import normalise_question

    normalise_question(question, max_chars=settings.max_question_chars)


@click.group(cls=RagGroup)
@click.version_option(package_name="rag")
def cli():
    """Offline Q&A over news articles, with cited passages."""


@cli.command()
@settings_options
@click.option("--explain", is_flag=True, help="Show metadata and every dropped line per article.")
def ingest(settings: Settings, explain: bool):
    """Read and clean the articles (nothing is written)."""

    corpus = settings.read_corpus()
    for article in corpus.articles:
        words = len(article.body.split())
        click.secho(article.doc_id, bold=True)
        title_note = " (first sentence; no headline found)" if article.title_from_text else ""
        click.echo(f"  title: {article.title}{title_note}")
        if article.date:
            source = f" (from {article.date_source})" if explain and article.date_source else ""
            click.echo(f"  date:  {article.date}{source}")
        else:
            click.echo("  date:  unknown (not stated in the article)")
        pages = f", {len(article.pages)} pages" if article.pages else ""
        encoding = f", read as {article.encoding}" if explain and article.encoding else ""
        click.echo(
            f"  body:  {words} words, {len(article.body.splitlines())} paragraphs{pages} "
            f"({article.kind}{encoding})"
        )
        if explain:
            click.echo(f"  dropped {len(article.dropped)} line(s):")
            for dropped in article.dropped:
                line = textwrap.shorten(dropped.line, 100, placeholder=" …")
                click.echo(f"    - [{dropped.rule}] {line}")
    for skipped in corpus.skipped:
        click.secho(f"skipped {skipped.reason}", fg="yellow", err=True)
    click.echo(f"{len(corpus.articles)} article(s) read, {len(corpus.skipped)} skipped.")


@cli.command()
@settings_options
@click.option("--rebuild", is_flag=True, help="Rebuild from scratch, re-embedding everything.")
@click.option(
    "--watch", is_flag=True, help="Then follow the folder, re-indexing whatever changes in it."
)
def index(settings: Settings, rebuild: bool, watch: bool):
    """Build or update the index (only changed articles are re-embedded)."""
    from .embedding import Embedder
    from .index import open_index

    embedder = Embedder()

    def build(rebuild: bool):
        corpus = settings.read_corpus()
        for skipped in corpus.skipped:
            say(f"skipped {skipped.reason}")
        return open_index(
            corpus,
            settings=settings,
            embedder=embedder,
            rebuild=rebuild,
            show_progress=True,
            say=say,
        )

    def publish(index) -> None:
        """Copy the build's vectors to Milvus now, when one is configured (not at first ask)."""
        if settings.vector_uri:
            from .vectorstore import open_store

            store = open_store(index, settings.vector_uri)
            click.echo(f"Milvus: {store.collection} at {store.uri} ({store.size} vectors)")

    index, report = build(rebuild)
    click.echo(report.summary())
    for label, docs in (
        ("embedded", report.embedded),
        ("unchanged", report.reused),
        ("removed", report.removed),
    ):
        if docs:
            shown = ", ".join(docs[:MAX_LISTED])
            more = f" and {len(docs) - MAX_LISTED} more" if len(docs) > MAX_LISTED else ""
            click.echo(f"  {label}: {shown}{more}")
    publish(index)
    if watch:
        from .watch import update_message, watch_corpus

        known = set(index.articles)

        def on_change() -> None:
            nonlocal known
            try:
                index, report = build(False)
                if report.wrote:
                    click.echo(f"{update_message(known, report)} ({report.summary()})")
                    publish(index)
            except RagError as error:  # e.g. the folder was emptied: say so, keep watching
                say(f"not re-indexed: {error}")
                return
            known = set(index.articles)

        click.echo(f"Watching {settings.articles_dir} for changes (Ctrl+C to stop)")
        with contextlib.suppress(KeyboardInterrupt):  # Ctrl+C ends the watch, quietly
            watch_corpus(settings.articles_dir, on_change)


def hit_json(hit, rank: int) -> dict:
    chunk = hit.chunk
    return {
        "rank": rank,
        "chunk_id": chunk.chunk_id,
        "doc": chunk.doc_id,
        "title": chunk.title,
        "date": chunk.date,
        "page": chunk.page,
        "text": chunk.text,
        "span": [chunk.start, chunk.end],
        "score": round(hit.score, 6),
        "dense_rank": hit.dense_rank,
        "bm25_rank": hit.bm25_rank,
    }


@cli.command()
@settings_options
@click.argument("question")
@click.option("--k", "k", type=click.IntRange(1, 50), help="Number of passages.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-rebuild", is_flag=True, help="Stop instead of (re)building the index.")
def search(settings: Settings, question: str, as_json: bool, no_rebuild: bool):
    """Print the passages that best match QUESTION (hybrid dense + BM25)."""
    check_question(question, settings)
    engine = load_engine(settings, allow_rebuild=not no_rebuild)
    hits = engine.search(question, k=settings.k)
    if as_json:
        payload = {
            "query": question,
            "k": settings.k,
            "hits": [hit_json(hit, rank) for rank, hit in enumerate(hits, start=1)],
        }
        click.echo(json.dumps(payload, ensure_ascii=False, indent=2))
        return
    for rank, hit in enumerate(hits, start=1):
        chunk = hit.chunk
        ranks = f"dense #{hit.dense_rank or '-'}, bm25 #{hit.bm25_rank or '-'}"
        click.secho(f"[{rank}] {chunk.doc_id}  ({chunk.where})", bold=True)
        click.echo(f"    {chunk.title}")
        click.echo(f"    score {hit.score:.4f} ({ranks}) · {chunk.chunk_id}")
        click.echo(textwrap.indent(textwrap.fill(chunk.text, 96), "    "))
        click.echo()


def print_answer(result) -> None:
    if result.reason.startswith("LLM unavailable"):
        click.secho(result.reason, fg="yellow", err=True)
    if result.rewritten_query != result.question:
        click.secho(f"(asked as: {result.rewritten_query})", dim=True)
    click.secho(
        textwrap.fill(result.answer, 96),
        fg="yellow" if result.abstained else None,
        bold=not result.abstained,
    )
    for citation in result.citations:
        chunk = citation.chunk
        click.echo(f"[{citation.n}] {chunk.doc_id} ({chunk.where}) {chunk.title}")
        click.echo(textwrap.indent(textwrap.fill(f"“{citation.quote}”", 92), "    "))
    if result.abstained and result.related:
        click.secho("Related reading (not an answer):", dim=True)
        for related in result.related:
            chunk = related.chunk
            click.echo(f"  - {chunk.doc_id} ({chunk.where}) {chunk.title}")
            click.echo(textwrap.indent(textwrap.fill(f"“{related.quote}”", 90), "      "))


@cli.command()
@settings_options
@click.argument("question")
@click.option(
    "--history",
    "history",
    multiple=True,
    metavar="TEXT",
    help="An earlier question in this conversation (repeat, oldest first).",
)
@click.option(
    "--history-answer",
    "history_answers",
    multiple=True,
    metavar="TEXT",
    help="The answer given to the --history question in the same place (repeat, oldest "
    'first); it tells a follow-up\'s "he" or "it" who or what was named.',
)
@click.option("--k", "k", type=click.IntRange(1, 50), help="Passages to read.")
@click.option("--json", "as_json", is_flag=True, help="Print one JSON object.")
@click.option("--no-rebuild", is_flag=True, help="Stop instead of (re)building the index.")
def ask(
    settings: Settings,
    question: str,
    history: tuple[str, ...],
    history_answers: tuple[str, ...],
    as_json: bool,
    no_rebuild: bool,
):
    """Answer QUESTION from the articles, citing the sentences that say so.

    \b
    A follow-up, with the turns before it:
      rag ask "when did he join?" --history "Who heads Xiaomi India?" \\
          --history-answer "Muralikrishnan B"
    """
    check_question(question, settings)
    if len(history_answers) > len(history):
        raise RagError(
            f"{len(history_answers)} --history-answer for {len(history)} --history question(s); "
            "give each answer after the question it answers."
        )
    turns = [
        (asked, history_answers[n] if n < len(history_answers) else None)
        for n, asked in enumerate(history)
    ]
    engine = load_engine(settings, allow_rebuild=not no_rebuild)
    result = engine.ask(question, history=turns)
    if as_json:
        click.echo(json.dumps(result.to_json(), ensure_ascii=False, indent=2))
    else:
        print_answer(result)


@cli.command(name="eval")
@settings_options
@click.option(
    "--gold",
    "gold_path",
    type=click.Path(path_type=Path, dir_okay=False),
    default=Path("evals/gold.jsonl"),
    show_default=True,
    help="Gold Q&A pairs (JSONL).",
)
@click.option(
    "--out",
    "out_dir",
    type=click.Path(path_type=Path, file_okay=False),
    default=Path("evals/out"),
    show_default=True,
    help="Where to write the reports.",
)
@click.option("--k", "k", type=click.IntRange(1, 50), help="Passages per question.")
@click.option("--no-rebuild", is_flag=True, help="Stop instead of (re)building the index.")
@click.option(
    "--squad",
    "squad_path",
    type=click.Path(path_type=Path, dir_okay=False),
    help="Score a SQuAD 2.0-format file instead (its articles indexed into OUT/squad/).",
)
@click.option(
    "--paragraph-given", is_flag=True, help="With --squad: the reader alone, on each paragraph."
)
def evaluate(
    settings: Settings,
    gold_path: Path,
    out_dir: Path,
    no_rebuild: bool,
    squad_path: Path | None,
    paragraph_given: bool,
):
    """Run every gold question through `rag ask` and write metrics and reports."""
    from tqdm import tqdm

    from .evaluate import load_gold, run_eval, write_reports

    if paragraph_given and squad_path is None:
        raise RagError("--paragraph-given needs --squad FILE")
    if squad_path is not None:
        evaluate_squad(settings, squad_path, out_dir, paragraph_given=paragraph_given)
        return
    gold = load_gold(gold_path)
    engine = load_engine(settings, allow_rebuild=not no_rebuild)
    with tqdm(
        total=len(gold), desc="Evaluating", unit="q", leave=False, disable=not sys.stderr.isatty()
    ) as bar:
        outcomes = run_eval(engine, gold, k=settings.k, on_step=lambda: bar.update(1))
    report = write_reports(outcomes, out_dir, k=settings.k, gold_path=gold_path)
    o = report["overall"]
    click.echo(f"Wrote {out_dir}/predictions.jsonl, report.json, report.md, report.png")
    click.echo(
        f"questions {o['questions']} ({o['answerable']} answerable) | "
        f"accuracy {o['overall_accuracy']:.1%} | answerable correct {o['answerable_accuracy']:.1%}"
        f" (with gold citation {o['supported_accuracy']:.1%}) | F1 {o['answer_f1']:.3f}"
    )
    click.echo(
        f"citations P {o['citation_precision']:.1%} R {o['citation_recall']:.1%} | "
        f"abstain on unanswerable {o['abstain_rate']:.1%} | "
        f"false abstain {o['false_abstain_rate']:.1%}"
    )
    answered = sum(not x.abstained for x in outcomes if x.item.answerable)
    click.echo(
        f"answered {answered} of {o['answerable']} answerable ({o['answered_share']:.1%}) | "
        f"F1 of the answered {o['answered_f1']:.3f}"
    )
    click.echo(
        "retrieval recall@{k} / MRR / nDCG@10: ".format(k=o["k"])
        + " | ".join(
            f"{m} {o[f'{m}_recall_at_k']:.1%} / {o[f'{m}_mrr_at_k']:.3f} / "
            f"{o[f'{m}_ndcg_at_10']:.3f}"
            for m in ("bm25", "dense", "hybrid")
        )
    )
    click.echo(
        f"SQuAD-style: EM {o['squad_exact']:.1%} | F1 {o['squad_f1']:.1%} "
        "(an unanswerable question scores 1 only when abstained)"
    )
    click.echo(
        f"latency p50/p95 ms: retrieve {o['latency_retrieve_p50_ms']:.1f}/"
        f"{o['latency_retrieve_p95_ms']:.1f} | answer {o['latency_answer_p50_ms']:.1f}/"
        f"{o['latency_answer_p95_ms']:.1f} | total {o['latency_total_p50_ms']:.1f}/"
        f"{o['latency_total_p95_ms']:.1f}"
    )


def evaluate_squad(settings: Settings, path: Path, out_dir: Path, *, paragraph_given: bool):
    """SQuAD 2.0 scoring: the whole system over a scratch index, or the reader alone."""
    from tqdm import tqdm

    from . import squad

    articles, questions = squad.load_squad(path)
    bar = tqdm(
        total=len(questions),
        desc="Evaluating",
        unit="q",
        leave=False,
        disable=not sys.stderr.isatty(),
    )
    if paragraph_given:
        from .answering.reader import Reader

        reader = Reader(settings.reader_dir)
        rows = squad.predict_paragraph(reader, reader.threshold, questions, bar.update)
    else:
        scratch = out_dir / "squad"
        squad.write_corpus(articles, scratch / "articles")
        settings = settings.with_overrides(
            articles_dir=scratch / "articles", index_dir=scratch / "index"
        )
        rows = squad.predict_open(load_engine(settings), questions, bar.update)
    bar.close()
    summary = squad.summarise(questions, {r["id"]: r["prediction"] for r in rows})
    summary["setting"] = "paragraph given" if paragraph_given else "open (all articles indexed)"
    summary["file"] = str(path)
    out_dir.mkdir(parents=True, exist_ok=True)
    with (out_dir / "squad_predictions.jsonl").open("w", encoding="utf-8") as handle:
        for row in rows:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    (out_dir / "squad_report.json").write_text(json.dumps(summary, indent=2), encoding="utf-8")
    click.echo(f"Wrote {out_dir}/squad_predictions.jsonl, squad_report.json")
    click.echo(f"{summary['setting']}: {squad.summary_line(summary)}")


@cli.command()
@settings_options
@click.option("--host", default="127.0.0.1", show_default=True, help="Address to bind.")
@click.option("--port", default=7860, show_default=True, type=click.IntRange(1, 65535))
@click.option(
    "--share", is_flag=True, help="Also open a public Gradio share link (off by default)."
)
@click.option("--no-rebuild", is_flag=True, help="Stop instead of (re)building the index.")
@click.option(
    "--watch", is_flag=True, help="Follow the articles folder; re-index whatever changes in it."
)
def chat(settings: Settings, host: str, port: int, share: bool, no_rebuild: bool, watch: bool):
    """Serve the chat window (builds or refreshes the index first if needed)."""
    import socket

    with socket.socket() as probe:  # a clear message beats a traceback from deep in uvicorn
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if probe.connect_ex((host, port)) == 0:
            raise RagError(f"port {port} on {host} is already in use; try --port {port + 1}")
    engine = load_engine(settings, allow_rebuild=not no_rebuild)
    from ui.server import launch

    click.echo(f"Serving the chat window on http://{host}:{port}  (Ctrl+C to stop)")
    launch(
        engine,
        host=host,
        port=port,
        share=share,
        feedback_path=settings.feedback_file,
        watch=watch,
    )
