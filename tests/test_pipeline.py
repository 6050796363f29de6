from types import SimpleNamespace

import pytest

from rag.pipeline import _with_resolved_dates

pytestmark = pytest.mark.unit


def claim_dated(article_date):
    return SimpleNamespace(chunk=SimpleNamespace(date=article_date))


@pytest.mark.parametrize(
    "quote,article_date,shown",
    [
        (
            "Shipments fell 10% last year.",
            "2023-02-01",
            "Shipments fell 10% last year (2022).",
        ),
        (
            "It cut prices two years ago, then again.",
            "2023-02-01",
            "It cut prices two years ago (2021), then again.",
        ),
        (
            "The ban began last week.",
            "2023-03-07",
            "The ban began last week (the week of 27 February 2023).",
        ),
        ("It was announced yesterday.", "2023-03-07", "It was announced yesterday (6 March 2023)."),
        (
            "Sales will grow next year, after falling last year.",
            "2023-02-01",
            "Sales will grow next year (2024), after falling last year (2022).",
        ),
        (
            "Last week's vote was close.",
            "2023-03-07",
            "Last week's (the week of 27 February 2023) vote was close.",
        ),
        ("The previous year it lost money.", "2023-08-15", "The previous year it lost money."),
        ("It listed 1.5 years ago.", "2023-08-15", "It listed 1.5 years ago."),
        (
            "In the last week of January it rained.",
            "2023-08-15",
            "In the last week of January it rained.",
        ),
        ("Shipments fell 10% last year.", None, "Shipments fell 10% last year."),
        ("Shipments fell 10% in 2022.", "2023-02-01", "Shipments fell 10% in 2022."),
    ],
)
def test_a_quote_shows_what_its_relative_date_means(quote, article_date, shown):
    assert _with_resolved_dates(quote, claim_dated(article_date)) == shown
