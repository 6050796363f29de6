"""The loaded pipeline: settings, model, index and retriever, built once per process."""

from __future__ import annotations

from collections.abc import Callable

from .answering import Answerer
from .embedding import Embedder
from .evidence import EvidenceIndex
from .index import BuildReport, Index, open_index
from .ingest import read_corpus
from .language import LanguageCheck
from .pipeline import AskResult, ask
from .question import normalise_question
from .retrieve import Hit, HybridRetriever, Query, Retriever
from .settings import Settings


class Engine:
    """Everything a question needs, loaded once: reuse one Engine for many questions."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        rebuild: bool = False,
        allow_rebuild: bool = True,
        show_progress: bool = False,
        say: Callable[[str], None] = lambda message: None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder()
        self.embedder.encode(["warm-up"])  # load the model now, not on the first question
        corpus = read_corpus(settings.seeds_dir)
        for skipped in corpus.skipped:
            say(f"skipped {skipped.reason}")
        self.index: Index
        self.build_report: BuildReport
        self.index, self.build_report = open_index(
            corpus,
            settings=settings,
            embedder=self.embedder,
            rebuild=rebuild,
            allow_rebuild=allow_rebuild,
            show_progress=show_progress,
            say=say,
        )
        self.retriever: Retriever = HybridRetriever(self.index)
        self.evidence = EvidenceIndex(self.index)
        self.language = LanguageCheck.from_index(self.index)
        self.answerer: Answerer = make_answerer(settings, self.evidence)

    def query(self, text: str) -> Query:
        return Query.embed(normalise_question(text), self.embedder)

    def search(self, text: str, *, k: int | None = None) -> list[Hit]:
        return self.retriever.search(self.query(text), k=k or self.settings.k)

    def ask(self, question: str, *, history=None, k: int | None = None) -> AskResult:
        self.language.check(question)  # a polite notice, not an abstention
        return ask(
            question,
            history=history,
            embedder=self.embedder,
            retriever=self.retriever,
            answerer=self.answerer,
            evidence=self.evidence,
            k=k or self.settings.k,
        )


def make_answerer(settings: Settings, evidence: EvidenceIndex) -> Answerer:
    """The trained reader (or the earlier rules), with an LLM in front when one is configured."""
    if settings.answerer == "rules":
        from .answering.rules import ExtractiveAnswerer

        embedded: Answerer = ExtractiveAnswerer(evidence)
    else:
        from .answering.choose import ReaderAnswerer
        from .answering.reader import Reader

        embedded = ReaderAnswerer(Reader(settings.reader_dir), evidence)
    if not settings.llm_url:
        return embedded
    from .answering.llm import LLMAnswerer

    return LLMAnswerer(
        evidence,
        url=settings.llm_url,
        model=settings.llm_model or "default",
        api_key=settings.llm_api_key,
        fallback=embedded,
    )
