"""Articles in any common encoding, layout characters made plain, and the folder's caps."""

from __future__ import annotations

from pathlib import Path

import pytest

from rag.formats import decode, plain_characters
from rag.ingest import read_corpus
from rag.nlp import MAX_PARAGRAPH_CHARS, analyse

ARTICLE = (
    "Café owners in Zürich say “prices rose 12%” — a €5 coffee\n\n"
    "The council met on Monday. It decided nothing.\n"
)


@pytest.mark.unit
@pytest.mark.parametrize(
    "encoding,named",
    [
        ("utf-8", "utf-8"),
        ("utf-8-sig", "utf-8 (byte-order mark)"),
        ("utf-16", "utf-16 (byte-order mark)"),
        ("utf-16-le", "utf-16-le"),
        ("utf-16-be", "utf-16-be"),
        ("cp1252", "cp1252"),
    ],
)
def test_text_is_read_in_the_encoding_it_was_saved_in(encoding, named):
    text, used = decode(ARTICLE.encode(encoding), "a.txt")
    assert text == ARTICLE
    assert used == named


@pytest.mark.unit
def test_latin_1_without_cp1252_characters_still_reads():
    text, used = decode("Crème brûlée à la carte, s'il vous plaît.".encode("latin-1"), "a.txt")
    assert text == "Crème brûlée à la carte, s'il vous plaît."
    assert used in {"cp1252", "latin-1", "latin_1", "iso8859_15"}


@pytest.mark.unit
def test_layout_characters_are_made_plain_but_superscripts_stay():
    assert plain_characters("ﬁrst ﬂoor ofﬁce") == "first floor office"
    assert (
        plain_characters("10\u00a0km, co\u00adoperate, 10⁶ units") == "10 km, cooperate, 10⁶ units"
    )


@pytest.mark.unit
def test_the_folder_reads_each_encoding_and_says_how(tmp_path: Path):
    (tmp_path / "windows.txt").write_bytes(ARTICLE.encode("cp1252"))
    (tmp_path / "sixteen.txt").write_bytes(ARTICLE.encode("utf-16"))
    corpus = read_corpus(tmp_path)
    read = {a.doc_id: a for a in corpus.articles}
    assert set(read) == {"windows.txt", "sixteen.txt"}, corpus.skipped
    assert read["windows.txt"].encoding == "cp1252"
    assert read["sixteen.txt"].encoding == "utf-16 (byte-order mark)"
    assert all("€5 coffee" in a.title + a.body for a in read.values())


@pytest.mark.unit
def test_files_over_the_caps_and_subfolders_are_skipped_with_one_line_each(tmp_path: Path):
    (tmp_path / "fine.txt").write_text(ARTICLE, encoding="utf-8")
    (tmp_path / "big.txt").write_bytes(b"Words and more words. " * 60_000)  # 1.3 MB
    (tmp_path / "long.txt").write_text("A sentence of text. " * 200, encoding="utf-8")
    (tmp_path / "more").mkdir()
    (tmp_path / "more" / "inside.txt").write_text(ARTICLE, encoding="utf-8")
    corpus = read_corpus(tmp_path, max_file_mb=1, max_text_chars=2_000)
    assert [a.doc_id for a in corpus.articles] == ["fine.txt"]
    reasons = sorted(s.reason for s in corpus.skipped)
    assert len(reasons) == 3
    assert reasons[0].startswith("big.txt: 1.3 MB, over the 1 MB per-file cap")
    assert reasons[1].startswith("long.txt: 4,000 characters of text, over the cap of 2,000")
    assert reasons[2].startswith("more/: a subfolder")


def test_a_paragraph_longer_than_spacy_takes_is_read_in_pieces():
    body = "Sentence number one is here. " * (3 * MAX_PARAGRAPH_CHARS // 29)
    sentences = analyse("long.txt", body)
    assert len(sentences) > 100
    assert all(body[s.start : s.end] == s.text for s in sentences)
    assert sentences[-1].end >= len(body.rstrip()) - 1
