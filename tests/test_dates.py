import pytest

from rag.dates import implied_years, resolve

pytestmark = pytest.mark.unit


@pytest.mark.parametrize(
    "text,article_date,display,key",
    [
        ("this year", "2017-07-19", "2017", (2017, 1, 1)),
        ("last year", "2023-05-31", "2022", (2022, 1, 1)),
        ("the first half of this year", "2017-07-19", "the first half of 2017", (2017, 1, 1)),
        ("May this year", "2017-07-19", "May 2017", (2017, 5, 1)),
        ("this month", "2017-07-19", "July 2017", (2017, 7, 1)),
        ("this quarter", "2017-07-19", "Q3 2017", (2017, 7, 1)),
        ("Tuesday", "2023-05-31", "30 May 2023", (2023, 5, 30)),
        ("on Monday", "2023-03-07", "6 March 2023", (2023, 3, 6)),
        ("yesterday afternoon", "2015-09-12", "11 September 2015", (2015, 9, 11)),
        ("next Tuesday", "2023-05-31", "6 June 2023", (2023, 6, 6)),
        ("last Wednesday", "2023-05-31", "24 May 2023", (2023, 5, 24)),
        ("May 29", "2023-05-31", "May 29, 2023", (2023, 5, 29)),
        ("December 29", "2023-05-31", "December 29, 2022", (2022, 12, 29)),
        ("today", "2018-11-20", "20 November 2018", (2018, 11, 20)),
        ("this week", "2018-11-20", "20 November 2018", (2018, 11, 20)),
        ("the last quarter of 2022", None, "the last quarter of 2022", (2022, 10, 1)),
        ("Q1 2023", None, "Q1 2023", (2023, 1, 1)),
        ("last week", "2023-03-07", "the week of 27 February 2023", (2023, 2, 27)),
        ("next week", "2023-03-12", "the week of 13 March 2023", (2023, 3, 13)),
        ("two years ago", "2023-03-07", "2021", (2021, 1, 1)),
        ("3 days ago", "2023-03-02", "27 February 2023", (2023, 2, 27)),
        ("six months ago", "2023-03-07", "September 2022", (2022, 9, 1)),
        ("a month ago", "2023-01-15", "December 2022", (2022, 12, 1)),
        ("four weeks ago", "2023-03-07", "about 7 February 2023", (2023, 2, 7)),
        ("last week", "2023-03-12", "the week of 27 February 2023", (2023, 2, 27)),
        ("Friday of last week", "2023-03-07", "3 March 2023", (2023, 3, 3)),
        ("Monday last week", "2023-03-07", "27 February 2023", (2023, 2, 27)),
        ("Monday of next week", "2023-03-07", "13 March 2023", (2023, 3, 13)),
        ("the last week of March", "2023-03-07", "the last week of March, 2023", (2023, 3, 1)),
        ("the last year of his term", "2023-03-07", "the last year of his term", None),
        ("1.5 years ago", "2023-03-07", "1.5 years ago", None),
    ],
)
def test_resolution_against_article_date(text, article_date, display, key):
    resolved = resolve(text, article_date)
    assert resolved.display == display
    assert resolved.sort_key == key


@pytest.mark.parametrize(
    "text", ["last year", "this year", "July last year", "May 29", "last week", "two years ago"]
)
def test_undated_articles_get_no_year(text):
    resolved = resolve(text, None)
    assert resolved.display == text and resolved.sort_key is None


@pytest.mark.parametrize(
    "text,article_date,shown",
    [
        ("on Monday", "2023-03-07", "on Monday (6 March 2023)"),
        ("last year", "2023-05-31", "last year (2022)"),
        ("May 29", "2023-05-31", "May 29, 2023"),
        ("Q1 2023", "2023-05-31", "Q1 2023"),
    ],
)
def test_shown_keeps_the_articles_words(text, article_date, shown):
    assert resolve(text, article_date).shown == shown


@pytest.mark.parametrize(
    "text,article_date,years",
    [
        ("Shipments fell 10% last year.", "2023-02-01", {"2022"}),
        ("Sales will double next year.", "2017-07-19", {"2018"}),
        ("It opened a year ago.", "2020-01-05", {"2019"}),
        ("It was announced yesterday.", "2023-01-01", {"2022"}),
        ("Two years ago it sold 5m phones.", "2023-02-01", {"2021"}),
        ("Three months ago it cut prices.", "2023-02-01", {"2022"}),
        ("Profit rose from a year earlier.", "2023-02-01", {"2022"}),
        ("It was listed 1.5 years ago.", "2023-03-07", set()),
        ("The previous year it lost money.", "2023-08-15", set()),
        ("Shipments fell 10% last year.", None, set()),
        ("Shipments fell 10% in 2021.", "2023-02-01", set()),
    ],
)
def test_implied_years(text, article_date, years):
    assert implied_years(text, article_date) == years
