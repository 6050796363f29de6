from pathlib import Path

import pytest

from rag.errors import RagError
from rag.ingest import clean_article, noise_rule, read_corpus

pytestmark = pytest.mark.unit

NOISY_PAGE = """menu search
Follow us on

Startup raises funds in Pune
date line is not here
Acme Corp raised $5 million from investors on Monday, its founder said.
Image Credit: Reuters
Advertisement
The company plans to hire 200 engineers in Pune next year.
Sign up for our weekly newsletter to get the latest news!
By Jane Doe The regulator has been looking into the sector for a while now and...
Related Stories
Copyright 2024 Example Media. All rights reserved.
If you find an error in this story, tell us.
Great news! @alice @bob pic.twitter.com/abc123
"""


@pytest.mark.parametrize(
    "line",
    [
        "Advertisement",
        "Advertisement. Scroll to continue reading.",
        "Subscribe to our daily newsletter",
        "Your email address:*",
        "© 2008-2021 Some Media Pvt. Ltd.",
        "Copyright 2024 Example Media",
        "Image Source: Xiaomi",
        "Photo credit: AP",
        "If you notice an error, select it with the mouse and press CTRL + ENTER.",
        "Please enter all required fields Click to hide",
        "Connect with us",
        "You May Also Like",
        "By A Writer The recent difference of opinions between the two sides brings...",
        "March 3, 2021 10:15 am | Updated 10:20 am IST",
        "Thanks to @one and @two for the tip",
        "the launch — Some Person (@someone) May 30, 2023",
        "wordpress blog stats",
    ],
)
def test_noise_lines_are_dropped(line):
    assert noise_rule(line) is not None


@pytest.mark.parametrize(
    "line",
    [
        "Xiaomi reported a growth of 328 percent compared to the same period in 2016.",
        "2) New manufacturing plant",
        "The company said it would sign up 500 new retail partners.",  # 'sign up' inside prose
        "Once a dominating smartphone brand, Xiaomi was reduced to number three in Q1 2023.",
        'He said, "Offline retail is still a huge segment in our country.',
        "Mr. Lall said the Indian EMS industry is well-positioned.",
    ],
)
def test_article_lines_are_kept(line):
    assert noise_rule(line) is None


def test_clean_article_finds_title_and_drops_chrome():
    article = clean_article("x.txt", NOISY_PAGE)
    assert article.title == "Startup raises funds in Pune"
    assert article.date is None
    assert "Acme Corp raised $5 million" in article.body
    assert "hire 200 engineers" in article.body
    assert "newsletter" not in article.body
    assert "Advertisement" not in article.body
    assert "Reuters" not in article.body
    rules = {d.rule for d in article.dropped}
    assert {"advertisement", "subscription prompt", "image credit", "copyright"} <= rules


def test_date_prefix_is_metadata_and_title_follows():
    article = clean_article(
        "a.txt", " date 2017-07-19 Xiaomi Aims For Growth In India\n\nBody text here."
    )
    assert article.date == "2017-07-19"
    assert article.title == "Xiaomi Aims For Growth In India"
    assert article.body == "Body text here."


def test_date_prefix_followed_by_a_sentence_keeps_it_as_body():
    article = clean_article(
        "b.txt", " date 2018-11-20 Xiaomi today said it opened stores.\n\nMore."
    )
    assert article.date == "2018-11-20"
    assert article.body.startswith("Xiaomi today said it opened stores.")
    assert article.title_from_text


def test_article_without_date_has_unknown_date():
    article = clean_article("c.txt", "Some first sentence here. Another one.")
    assert article.date is None
    assert article.title == "Some first sentence here"


def test_non_text_files_are_skipped_not_fatal(tmp_path: Path):
    (tmp_path / "good.txt").write_text("A fine article. It has text.", encoding="utf-8")
    (tmp_path / "controls.txt").write_bytes(bytes(range(1, 32)) * 40)
    (tmp_path / "binary.bin").write_bytes(b"\x89PNG\x00\x00")
    (tmp_path / "empty.txt").write_text("Advertisement\n", encoding="utf-8")
    corpus = read_corpus(tmp_path)
    assert [a.doc_id for a in corpus.articles] == ["good.txt"]
    reasons = " ".join(s.reason for s in corpus.skipped)
    assert "not text" in reasons and "binary" in reasons and "no article text" in reasons


def test_missing_or_empty_corpus_is_a_clear_error(tmp_path: Path):
    with pytest.raises(RagError, match="not found"):
        read_corpus(tmp_path / "nope")
    with pytest.raises(RagError, match="no readable articles"):
        read_corpus(tmp_path)


def test_seed_articles_metadata():
    corpus = read_corpus(Path(__file__).parent.parent / "seeds")
    by_id = {a.doc_id: a for a in corpus.articles}
    assert len(by_id) == 5
    assert by_id["000_5e51f4d8eddf348c.txt"].date == "2017-07-19"
    assert by_id["002_38dd1345af9d5afe.txt"].date is None
    assert by_id["004_27bc064c97c57b8b.txt"].date == "2023-05-31"
    assert "Updated 04:11 pm" not in by_id["004_27bc064c97c57b8b.txt"].body
    assert "pic.twitter.com" not in by_id["004_27bc064c97c57b8b.txt"].body
    medianama = by_id["001_e15dc324c000415f.txt"]
    assert medianama.title.startswith("6 things that Xiaomi CEO Lei Jun said")
    assert "Subscribe" not in medianama.body and "©" not in medianama.body
    assert medianama.body.rstrip().endswith("Indonesia.")
