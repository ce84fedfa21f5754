"""A correction that changes the advice, told now, end to end in Chromium: the
editor publishes it from the article's workflow panel, a medical reviewer approves
the notice it drafted, a newsletter editor sends it, and the reader's email (the
file the development email backend writes) tells them what changed."""

import pytest
from playwright.sync_api import expect

from articles.editorial import revisions, workflow
from newsletter.models import Issue
from tests.browser_fixtures import log_in
from tests.factories import (
    make_article,
    make_listed_subscriber,
    make_reviewer,
    make_role_user,
    make_topic,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

CORRECTION = "We said SPF 15 was enough; we now advise SPF 30 or more, every day."


def test_editor_tells_readers_now_reviewer_approves_newsletter_editor_sends(
    live_server, new_context, settings, tmp_path
):
    settings.EMAIL_BACKEND = "django.core.mail.backends.filebased.EmailBackend"
    settings.EMAIL_FILE_PATH = tmp_path
    settings.NEWSLETTER_RATE_PER_SECOND = 0
    editor = make_role_user("Editor")
    reviewer = make_reviewer()
    sender = make_role_user("Newsletter editor")
    sun = make_topic(name="Sun care", medical=False)
    article = make_article(
        topic=sun,
        title="Sunscreen basics",
        summary="A summary long enough to pass the content checks for summaries.",
    )
    data = revisions.snapshot(article)
    data["body"] = "<p>Use SPF 30 or more, every day.</p>"
    workflow.save_draft(article=article, data=data, user=editor)
    reader = make_listed_subscriber(email="ada@example.com", first_name="Ada")
    reader.topics.set([sun])

    page = new_context().new_page()
    log_in(page, live_server, editor)
    page.goto(f"{live_server.url}/admin/articles/article/{article.pk}/change/")
    page.get_by_label("Correction for readers (optional)").fill(CORRECTION)
    page.get_by_label("It changes the advice (not a typo)").check()
    page.get_by_label("Tell them now", exact=False).check()
    page.get_by_role("button", name="Publish changes").click()
    expect(page.locator(".messagelist")).to_contain_text("Published")
    notice = Issue.objects.get(kind=Issue.Kind.NOTICE)
    change = f"{live_server.url}/admin/newsletter/issue/{notice.pk}/change/"

    review = new_context().new_page()
    log_in(review, live_server, reviewer)
    review.goto(f"{live_server.url}/admin/")
    review.get_by_role("link", name=notice.subject).first.click()
    expect(review).to_have_url(change)
    review.get_by_role("button", name="Approve this text").click()
    expect(review.locator(".messagelist")).to_contain_text("Recorded")

    send = new_context().new_page()
    log_in(send, live_server, sender)
    send.goto(f"{live_server.url}/admin/newsletter/issue/{notice.pk}/send/")
    send.get_by_role("button", name="Yes, send it to 1 subscriber now").click()

    notice.refresh_from_db()
    assert notice.status == Issue.Status.SENT
    [written] = list(tmp_path.iterdir())
    message = written.read_text()
    assert "To: ada@example.com" in message
    assert "Our advice changed: Sunscreen basics" in message
    assert "we now advise SPF 30 or more" in message
