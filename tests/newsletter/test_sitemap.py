"""The public newsletter archive in /sitemap.xml: the archive page and every issue
it shows (sent ones), never a draft or a scheduled issue."""

from datetime import timedelta

import pytest
from django.utils import timezone

from newsletter.models import Issue
from tests.articles.test_feeds_seo import SITE, count_queries, sitemap_entries
from tests.factories import make_issue

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE


def test_the_sitemap_lists_the_archive_and_its_issues_with_their_send_date(client):
    sent_at = timezone.now() - timedelta(days=3)
    sent = make_issue(status=Issue.Status.SENT, sent_at=sent_at)
    draft = make_issue()
    scheduled = make_issue(
        status=Issue.Status.SCHEDULED,
        scheduled_at=timezone.now() + timedelta(days=1),
    )
    entries = sitemap_entries(client)
    assert f"{SITE}/newsletter/archive/" in entries
    assert entries[f"{SITE}{sent.get_absolute_url()}"] == f"{sent_at:%Y-%m-%d}"
    for absent in (draft, scheduled):
        assert f"{SITE}{absent.get_absolute_url()}" not in entries


def test_the_archive_adds_a_constant_number_of_sitemap_queries(client):
    make_issue(status=Issue.Status.SENT, sent_at=timezone.now())

    few = count_queries(lambda: sitemap_entries(client))
    for _ in range(10):
        make_issue(status=Issue.Status.SENT, sent_at=timezone.now())
    assert count_queries(lambda: sitemap_entries(client)) == few
