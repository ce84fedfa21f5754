"""The admin home lists the newsletter text waiting for a medical approval, for
medical reviewers and for those who send ({% newsletter_review_queue %})."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from newsletter import selectors
from newsletter.issues import services as issue_services
from newsletter.models import Issue
from tests.factories import (
    make_article,
    make_issue,
    make_role_user,
    make_welcome_email,
    newsletter_reviewer,
    newsletter_sender,
)

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def queue_section(html: str) -> str:
    found = re.search(
        r'<div class="module dashboard-section" id="dashboard-newsletter-review">'
        r"(.*?)</div>",
        html,
        re.S,
    )
    return found.group(1) if found else ""


def test_reviewers_see_unapproved_and_changed_text_not_approved_or_sent(client):
    waiting = make_issue(subject="Spring skin")
    approved = make_issue(subject="Already approved", approved=True)
    changed = make_issue(subject="Changed after approval", approved=True)
    changed.body = "<p>A new claim.</p>"
    issue_services.save_issue(issue=changed, user=newsletter_sender())
    make_issue(subject="Sent long ago", status=Issue.Status.SENT)
    make_welcome_email(approved=False)
    client.force_login(newsletter_reviewer())
    section = queue_section(client.get(reverse("admin:index")).text)
    assert "Spring skin" in section and "Not yet approved" in section
    assert "Changed after approval" in section and "Changed since approved" in section
    assert reverse("admin:newsletter_issue_change", args=[waiting.pk]) in section
    assert "Already approved" not in section and approved.subject not in section
    assert "Sent long ago" not in section
    assert "Never approved: no welcome email goes out" in section
    assert '<span class="dashboard-count">3</span>' in section


def test_an_issue_whose_featured_article_changed_is_waiting_again(client):
    article = make_article(title="Urea creams")
    issue = make_issue(subject="With a card")
    issue.articles.add(article)
    issue = Issue.objects.get(pk=issue.pk)
    issue_services.approve_issue(
        issue=issue,
        user=newsletter_reviewer(),
        verdict="approved",
        seen_hash=selectors.issue_review(issue).content_hash,
    )
    assert selectors.texts_awaiting_review().issues == []
    article.title = "Urea creams cure it"
    article.save()
    assert [i.subject for i, _ in selectors.texts_awaiting_review().issues] == [
        "With a card"
    ]


def test_those_who_send_see_it_and_writers_do_not(client):
    make_issue(subject="Spring skin")
    client.force_login(newsletter_sender())
    assert "Spring skin" in queue_section(client.get(reverse("admin:index")).text)
    client.force_login(make_role_user("Writer"))
    page = client.get(reverse("admin:index")).text
    assert "dashboard-newsletter-review" not in page


def test_the_list_is_read_in_a_fixed_number_of_queries():
    def count() -> int:
        with CaptureQueriesContext(connection) as captured:
            selectors.texts_awaiting_review()
        return len(captured.captured_queries)

    make_welcome_email(approved=False)
    make_issue().articles.add(make_article())
    few = count()
    for _ in range(6):
        make_issue().articles.add(make_article(), make_article())
    # issues, cards, corrections, approvals; the welcome email twice
    assert count() == few == 6
