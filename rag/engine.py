"""The loaded pipeline: settings, model, index and retriever, built once per process."""

from __future__ import annotations

import threading
from collections.abc import Callable

from .answering import Answerer
from .embedding import Embedder
from .evidence import EvidenceIndex
from .index import BuildReport, Index, Progress, current_index, known_articles, open_index
from .pipeline import AskResult, ask
from .question import normalise_question
from .question.language import LanguageCheck
from .retrieve import Hit, HybridRetriever, Query, Retriever
from .settings import Settings
from .vectorstore import VectorStore, open_store


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
        # ask() takes the index's parts together under this lock; refresh() swaps them whole.
        self._swap = threading.Lock()
        self._refreshing = threading.Lock()
        # (articles embedded, new or changed articles to embed) while refresh() builds;
        # None when no build runs, or while it has not yet found what changed.
        self.progress: tuple[int, int] | None = None
        self.answerer: Answerer | None = None
        self.embedder = embedder or Embedder()
        self.embedder.encode(["warm-up"])  # load the model now, not on the first question
        # Loaded once: unchanged files are not read again, and the index not twice.
        loaded = None if rebuild else current_index(settings)
        corpus = settings.read_corpus(known_articles(loaded, settings, self.embedder))
        index, report = open_index(
            corpus,
            settings=settings,
            embedder=self.embedder,
            rebuild=rebuild,
            allow_rebuild=allow_rebuild,
            show_progress=show_progress,
            say=say,
            loaded=loaded,
        )
        if report.wrote:  # the build that found them says so; later loads are quiet
            for skipped in corpus.skipped:
                say(f"skipped {skipped.reason}")
        self._serve(index, report)

    def _serve(self, index: Index, report: BuildReport) -> None:
        """Make what answering needs from ``index`` and swap it in whole (at start-up, and
        after every refresh that wrote a new index)."""
        store = open_store(index, self.settings.vector_uri)
        retriever = HybridRetriever(index, store=store)
        evidence = EvidenceIndex(index, self.embedder)
        language = LanguageCheck.from_index(index)
        if self.answerer is None:
            answerer = make_answerer(self.settings, evidence)
        else:  # the loaded model and its settings, reading the new index's evidence
            answerer = rebind_answerer(self.answerer, evidence)
        with self._swap:
            self.index: Index = index
            self.build_report: BuildReport = report
            self.store: VectorStore = store
            self.retriever: Retriever = retriever
            self.evidence: EvidenceIndex = evidence
            self.language: LanguageCheck = language
            self.answerer = answerer

    @property
    def updating(self) -> bool:
        """True while refresh() is re-indexing the articles folder."""
        return self._refreshing.locked()

    def wait_until_updated(self, timeout: float) -> bool:
        """Wait for a refresh in progress to finish; False if it is still running at timeout."""
        if not self._refreshing.acquire(timeout=timeout):
            return False
        self._refreshing.release()
        return True

    def refresh(
        self,
        *,
        say: Callable[[str], None] = lambda message: None,
        progress: Progress | None = None,
    ) -> BuildReport:
        """Re-read the corpus folder and bring the index up to date.

        Only changed articles are embedded; questions asked meanwhile are answered from the
        previous index, and the new one takes over whole, between two questions. One refresh
        at a time per engine, and one build at a time per index folder (the build lock).
        While it builds, ``self.progress`` says how far it is (and ``progress`` is told).
        """
        with self._refreshing:
            self.progress = None

            def step(done: int, total: int) -> None:
                self.progress = (done, total)
                if progress is not None:
                    progress(done, total)

            try:
                return self._refresh(say, step)
            finally:
                self.progress = None

    def _refresh(self, say: Callable[[str], None], progress: Progress) -> BuildReport:
        corpus = self.settings.read_corpus(known_articles(self.index, self.settings, self.embedder))
        index, report = open_index(
            corpus, settings=self.settings, embedder=self.embedder, say=say, progress=progress
        )
        if not report.wrote:
            return report
        for skipped in corpus.skipped:
            say(f"skipped {skipped.reason}")
        self._serve(index, report)
        return report

    def query(self, text: str) -> Query:
        return Query.embed(normalise_question(text), self.embedder)

    def search(self, text: str, *, k: int | None = None) -> list[Hit]:
        return self.retriever.search(self.query(text), k=k or self.settings.k)

    def ask(self, question: str, *, history=None, k: int | None = None) -> AskResult:
        with self._swap:  # one index's parts, even while refresh() swaps in the next
            language, retriever, answerer, evidence = (
                self.language,
                self.retriever,
                self.answerer,
                self.evidence,
            )
        # A polite notice, not an abstention; the one normalisation of the question.
        text = language.check(question, max_chars=self.settings.max_question_chars)
        return ask(
            text,
            history=history,
            embedder=self.embedder,
            retriever=retriever,
            answerer=answerer,
            evidence=evidence,
            k=k or self.settings.k,
            read=self.settings.passages_read,
        )


def rebind_answerer(answerer: Answerer, evidence: EvidenceIndex) -> Answerer:
    """The same answerer (its loaded model and settings) reading a new index's evidence."""
    import copy

    rebound = copy.copy(answerer)
    rebound.evidence = evidence
    fallback = getattr(answerer, "fallback", None)
    if fallback is not None:  # an LLM answerer's extractive fallback reads the index too
        rebound.fallback = rebind_answerer(fallback, evidence)
    return rebound


def make_answerer(settings: Settings, evidence: EvidenceIndex) -> Answerer:
    """The trained reader, with an LLM in front when one is configured."""
    from .answering.choose import ReaderAnswerer
    from .answering.reader import Reader

    embedded: Answerer = ReaderAnswerer(
        Reader(settings.reader_dir), evidence, passages=settings.passages_read
    )
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
