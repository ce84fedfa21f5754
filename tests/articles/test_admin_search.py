"""The article list's search goes through the site's full-text index
(articles/admin/article_search.py), never a LIKE over every body."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from articles.search import engine
from tests.factories import make_article, make_draft

pytestmark = pytest.mark.django_db

LIST = "admin:articles_article_changelist"


def found(staff_client, query: str) -> list[str]:
    response = staff_client.get(reverse(LIST), {"q": query})
    return sorted(a.title for a in response.context["cl"].result_list)


@pytest.fixture
def articles():
    made = [
        make_article(
            title="Thick patches on the elbows",
            body="<p>Years of rubbing cause lichenification of the skin.</p>",
        ),
        make_draft(
            title="Starting a retinoid",
            body="<p>Begin twice a week.</p>",
            summary="Irritation fades.",
        ),
        make_article(title="Sunscreen basics", body="<p>Apply generously.</p>"),
    ]
    engine.index_articles(made)


def test_a_word_in_the_body_finds_the_article_through_the_index(staff_client, articles):
    assert found(staff_client, "lichenification") == ["Thick patches on the elbows"]
    # Stemmed by the index: a LIKE would not find "retinoid" for "retinoids".
    assert found(staff_client, "retinoids") == ["Starting a retinoid"]
    assert found(staff_client, "irritation") == ["Starting a retinoid"]  # summary


def test_part_of_a_title_still_finds_it(staff_client, articles):
    assert found(staff_client, "Sunscr") == ["Sunscreen basics"]
    # A stopword alone is no words to the index: titles holding it still match.
    assert found(staff_client, "the") == ["Thick patches on the elbows"]


def test_no_query_reads_the_bodies(staff_client, articles):
    with CaptureQueriesContext(connection) as queries:
        staff_client.get(reverse(LIST), {"q": "lichenification"})
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert "LIKE" in sql  # the title's
    assert not re.search(r'"(body|summary)"(::text)?\)? LIKE', sql)


def test_the_list_offers_no_filter_counts_even_when_asked(staff_client, articles):
    # Facets would count every choice of every filter with a scan of its own.
    with CaptureQueriesContext(connection) as queries:
        response = staff_client.get(reverse(LIST), {"_facets": "True"})
    assert response.status_code == 200
    assert "counts</a>" not in response.content.decode()  # Show or Hide counts
    sql = " ".join(q["sql"] for q in queries.captured_queries)
    assert " FILTER (WHERE" not in sql
