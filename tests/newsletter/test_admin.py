"""The newsletter's staff side in the admin: subscribers, issues, sending."""

import pytest
from django.contrib.auth import get_user_model
from django.contrib.messages import get_messages
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from django_tasks_db.models import DBTaskResult

from newsletter.models import Delivery, Issue, IssueArticle, Subscriber, counters
from tests.factories import (
    approve_issue,
    make_article,
    make_issue,
    make_listed_subscriber,
    make_staff,
    make_user,
)

pytestmark = pytest.mark.django_db

S = Subscriber.Status


def messages_of(response) -> list[str]:
    return [str(m) for m in get_messages(response.wsgi_request)]


def one_of_each_status() -> dict[str, Subscriber]:
    return {
        status: make_listed_subscriber(status, email=f"{status}@example.com")
        for status in S.values
    }


def make_sending_issue() -> Issue:
    """An issue half-way through its send, with one of each delivery outcome."""
    issue = make_issue(status=Issue.Status.SENDING, recipient_count=6)
    for n, status in enumerate(Delivery.Status.values):
        Delivery.objects.create(
            issue=issue,
            subscriber=make_listed_subscriber(email=f"r{n}@example.com"),
            status=status,
            smtp_code=550 if status == Delivery.Status.FAILED else None,
            error={
                Delivery.Status.FAILED: "550 5.1.1 No such mailbox",
                Delivery.Status.UNCERTAIN: "The worker stopped while sending.",
            }.get(status, ""),
        )
    # Made here rather than by a send: counted as the backfill counts rows.
    counters.reset(issue=issue)
    return issue


# Who can reach what -------------------------------------------------------------------


def staff_urls(issue: Issue, subscriber: Subscriber) -> list[str]:
    pk = issue.pk
    return [
        reverse("admin:newsletter_subscriber_changelist"),
        reverse("admin:newsletter_subscriber_change", args=[subscriber.pk]),
        reverse("admin:newsletter_subscriber_import"),
        reverse("admin:newsletter_subscriber_export"),
        reverse("admin:newsletter_issue_changelist"),
        reverse("admin:newsletter_issue_add"),
        reverse("admin:newsletter_issue_change", args=[pk]),
        reverse("admin:newsletter_issue_preview", args=[pk]),
        reverse("admin:newsletter_issue_preview_html", args=[pk]),
        reverse("admin:newsletter_issue_send", args=[pk]),
        reverse("admin:newsletter_issue_schedule", args=[pk]),
        reverse("admin:newsletter_issue_progress", args=[pk]),
        reverse("admin:newsletter_issue_resend_uncertain", args=[pk]),
    ]


POST_ONLY = ["send_test", "cancel_schedule", "resume"]


def test_admin_pages_load_for_staff(staff_client):
    issue = make_issue()
    subscriber = make_listed_subscriber()
    for url in staff_urls(issue, subscriber):
        response = staff_client.get(url)
        assert response.status_code == 200, url


@pytest.mark.parametrize("status", Issue.Status.values)
def test_issue_change_page_loads_in_every_status(staff_client, status):
    issue = make_issue(status=status)
    url = reverse("admin:newsletter_issue_change", args=[issue.pk])
    assert staff_client.get(url).status_code == 200


def test_visitors_and_non_staff_reach_none_of_the_newsletter_admin(client):
    issue = make_sending_issue()
    subscriber = Subscriber.objects.first()
    urls = staff_urls(issue, subscriber)
    post_urls = [
        reverse(f"admin:newsletter_issue_{name}", args=[issue.pk]) for name in POST_ONLY
    ] + [
        reverse("admin:newsletter_issue_send", args=[issue.pk]),
        reverse("admin:newsletter_issue_resend_uncertain", args=[issue.pk]),
        reverse("admin:newsletter_subscriber_import"),
    ]
    for user in [None, make_user()]:
        if user:
            client.force_login(user)
        for url in urls:
            response = client.get(url)
            assert response.status_code == 302, url
            assert reverse("admin:login") in response["Location"]
        for url in post_urls:
            response = client.post(url)
            assert response.status_code == 302, url
            assert reverse("admin:login") in response["Location"]
    assert DBTaskResult.objects.count() == 0
    issue.refresh_from_db()
    assert issue.status == Issue.Status.SENDING


def test_the_action_urls_refuse_get(staff_client):
    issue = make_issue(status=Issue.Status.SCHEDULED)
    for name in POST_ONLY:
        url = reverse(f"admin:newsletter_issue_{name}", args=[issue.pk])
        assert staff_client.get(url).status_code == 405


# Subscribers --------------------------------------------------------------------------


def test_subscriber_list_shows_counts_per_status(staff_client):
    one_of_each_status()
    make_listed_subscriber(S.CONFIRMED)
    make_listed_subscriber(S.PENDING)
    response = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    counts = response.context["status_counts"]
    assert counts["total"] == 7
    by_status = {row["value"]: row["count"] for row in counts["statuses"]}
    assert by_status == {
        "pending": 2,
        "confirmed": 2,
        "unsubscribed": 1,
        "bounced": 1,
        "complained": 1,
    }
    text = response.text
    assert 'class="status-counts"' in text
    assert "?status__exact=complained" in text
    assert "Import CSV" in text and "Export this list (CSV)" in text


def test_status_counts_take_one_query(staff_client):
    from newsletter.admin.subscribers import SubscriberAdmin
    from newsletter.models import Subscriber as Model

    one_of_each_status()
    model_admin = SubscriberAdmin(Model, None)
    with CaptureQueriesContext(connection) as queries:
        model_admin.status_counts()
    assert len(queries) == 1


def test_subscriber_list_columns_filters_and_search(staff_client):
    make_listed_subscriber(S.CONFIRMED, email="ada@example.com", first_name="Ada")
    make_listed_subscriber(S.PENDING, email="bob@example.com", first_name="Bob")
    url = reverse("admin:newsletter_subscriber_changelist")
    response = staff_client.get(url, {"q": "ada"})
    assert [s.email for s in response.context["cl"].result_list] == ["ada@example.com"]
    response = staff_client.get(url, {"status__exact": "pending"})
    assert [s.email for s in response.context["cl"].result_list] == ["bob@example.com"]
    text = response.text
    headings = ["Email", "First name", "Status", "Source", "Consented", "Confirmed"]
    for heading in headings:
        assert heading in text
    filters = [spec.title for spec in response.context["cl"].filter_specs]
    assert filters == ["status", "frequency", "consent source", "left how"]


def test_subscriber_detail_shows_proof_of_consent_and_history(staff_client):
    subscriber = make_listed_subscriber(
        S.UNSUBSCRIBED,
        email="ada@example.com",
        consent_text="Yes, email me the newsletter, twice a month.",
        consent_version="2026-11-v1",
        consent_ip="198.51.100.7",
        confirmed_ip="198.51.100.8",
        left_how=Subscriber.LeftHow.ONE_CLICK,
    )
    subscriber.events.create(kind="signed_up", ip="198.51.100.7", detail="footer")
    subscriber.events.create(kind="confirmed", ip="198.51.100.8")
    subscriber.events.create(kind="unsubscribed")
    response = staff_client.get(
        reverse("admin:newsletter_subscriber_change", args=[subscriber.pk])
    )
    text = response.text
    for value in [
        "Proof of consent",
        "Yes, email me the newsletter, twice a month.",
        "2026-11-v1",
        "198.51.100.7",
        "198.51.100.8",
        "Footer form",
        "One-click (mail client)",
        "Signed up",
        "Confirmed",
        "Unsubscribed",
        "History",
    ]:
        assert value in text, value
    form = response.context["adminform"].form
    assert list(form.fields) == ["first_name"]
    # History is read-only: no inputs for events.
    assert 'name="events-0-kind"' not in text


def test_staff_can_edit_the_first_name_only(staff_client):
    subscriber = make_listed_subscriber(S.PENDING, email="ada@example.com")
    url = reverse("admin:newsletter_subscriber_change", args=[subscriber.pk])
    response = staff_client.post(
        url,
        {
            "first_name": "Ada",
            "status": "confirmed",
            "email": "eve@example.com",
            "consent_text": "forged",
            "events-TOTAL_FORMS": "0",
            "events-INITIAL_FORMS": "0",
        },
    )
    assert response.status_code == 302
    subscriber.refresh_from_db()
    assert subscriber.first_name == "Ada"
    assert subscriber.status == S.PENDING
    assert subscriber.email == "ada@example.com"
    assert subscriber.consent_text != "forged"


def test_subscribers_cannot_be_added_by_hand(staff_client):
    response = staff_client.get(reverse("admin:newsletter_subscriber_add"))
    assert response.status_code == 403
    response = staff_client.get(reverse("admin:newsletter_subscriber_changelist"))
    assert "Add subscriber" not in response.text


@pytest.mark.parametrize(
    ("action", "status", "how"),
    [
        ("unsubscribe_staff", S.UNSUBSCRIBED, Subscriber.LeftHow.STAFF),
        ("mark_complained", S.COMPLAINED, Subscriber.LeftHow.COMPLAINT),
    ],
)
def test_status_changes_through_actions(staff_client, action, status, how):
    chosen = [make_listed_subscriber(S.CONFIRMED), make_listed_subscriber(S.PENDING)]
    other = make_listed_subscriber(S.CONFIRMED)
    response = staff_client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {"action": action, "_selected_action": [s.pk for s in chosen]},
    )
    assert response.status_code == 302
    for subscriber in chosen:
        subscriber.refresh_from_db()
        assert subscriber.status == status
        assert subscriber.left_how == how
        assert subscriber.left_at is not None
        assert subscriber.events.filter(kind=status).exists()
    other.refresh_from_db()
    assert other.status == S.CONFIRMED
    assert "2 subscriber(s)" in messages_of(response)[-1]


def test_staff_unsubscribe_keeps_the_stronger_reason(staff_client):
    bounced = make_listed_subscriber(S.BOUNCED)
    response = staff_client.post(
        reverse("admin:newsletter_subscriber_changelist"),
        {"action": "unsubscribe_staff", "_selected_action": [bounced.pk]},
    )
    bounced.refresh_from_db()
    assert bounced.status == S.BOUNCED
    assert "Unsubscribed 0 subscriber(s)" in messages_of(response)[-1]
    assert "1 already had that status" in messages_of(response)[-1]


def test_subscriber_changelist_queries_stay_constant(
    staff_client, django_assert_max_num_queries
):
    url = reverse("admin:newsletter_subscriber_changelist")
    for status in S.values:
        make_listed_subscriber(status)
    staff_client.get(url)
    with CaptureQueriesContext(connection) as few:
        staff_client.get(url)
    for n in range(60):
        make_listed_subscriber(S.values[n % 5])
    with django_assert_max_num_queries(len(few)):
        response = staff_client.get(url)
    assert len(response.context["cl"].result_list) == 65


# In Chromium (screenshots in test-artifacts/ for a person to look at) -----------------


def browser_staff_page(page, live_server):
    from tests.articles.test_browser import PageWatcher, log_in

    watcher = PageWatcher(page)
    log_in(page, live_server, make_staff())
    return watcher


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_subscriber_list_with_counts(page, live_server, artifacts_dir):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    names = ["Ada", "Grace", "", "Katherine", "Mary", "", "Hedy", "Radia"]
    statuses = [S.CONFIRMED, S.CONFIRMED, S.PENDING, S.CONFIRMED, S.UNSUBSCRIBED,
                S.BOUNCED, S.COMPLAINED, S.PENDING]  # fmt: skip
    for n, (name, status) in enumerate(zip(names, statuses, strict=True)):
        make_listed_subscriber(
            status, email=f"{(name or 'reader').lower()}{n}@example.com",
            first_name=name,
        )  # fmt: skip
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/subscriber/")
    counts = page.locator(".status-counts")
    expect(counts.locator("a", has_text="All")).to_contain_text("8")
    expect(counts.locator('[data-status="confirmed"]')).to_contain_text("3")
    expect(counts.locator('[data-status="complained"]')).to_contain_text("1")
    expect(page.get_by_role("link", name="Import CSV")).to_be_visible()
    expect(page.get_by_role("link", name="Export this list (CSV)")).to_be_visible()
    screenshot(page, artifacts_dir / "newsletter-subscribers.png", DESKTOP)
    counts.locator('[data-status="pending"]').click()
    expect(page.locator("#result_list tbody tr")).to_have_count(2)
    with page.expect_download() as download:
        page.get_by_role("link", name="Export this list (CSV)").click()
    lines = download.value.path().read_text().splitlines()
    assert lines[0].startswith("email,first_name,status")
    assert len(lines) == 3 and all(",pending," in line for line in lines[1:])
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_import_report(page, live_server, artifacts_dir, tmp_path):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    make_listed_subscriber(S.CONFIRMED, email="known@example.com")
    path = tmp_path / "old-list.csv"
    path.write_text(
        "email,first_name\nada@example.com,Ada\nnot-an-email,Bob\n"
        "grace@example.com,Grace\nADA@example.com,Ada again\nknown@example.com,\n"
        "eve@example.com,Eve\u202egnp.exe\n"
    )
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/subscriber/")
    page.get_by_role("link", name="Import CSV").click()
    page.get_by_label("CSV file").set_input_files(path)
    page.get_by_label("Ask each address to confirm").check()
    page.get_by_role("button", name="Upload and check the file").click()
    report = page.locator("#import-progress")
    # Tasks run at once in tests: the check is over when the page loads.
    expect(report).to_contain_text("Checked: ready to import")
    expect(report).to_contain_text("3 row(s) have errors")
    expect(report).to_contain_text("'not-an-email' is not a valid email address.")
    expect(report).to_contain_text(
        "This address is in the file twice (first on line 2)."
    )
    expect(report).to_contain_text("change the direction of text (found U+202E)")
    # The rows without an error can go in; nothing has changed yet.
    expect(page.get_by_role("button", name="Import 2 addresses")).to_have_count(1)
    screenshot(page, artifacts_dir / "newsletter-import-report.png", DESKTOP)
    assert Subscriber.objects.count() == 1
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_import_progress_then_import(page, live_server, artifacts_dir):
    from playwright.sync_api import expect

    from newsletter.models import SubscriberImport
    from newsletter.subscribers import imports
    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    watcher = browser_staff_page(page, live_server)
    subscriber_import = SubscriberImport.objects.create(
        file_name="fair-2026.csv",
        data="email,first_name\nada@example.com,Ada\ngrace@example.com,Grace\n",
        basis="confirm",
        created_by=get_user_model().objects.get(username="editor"),
        total_rows=2,
    )
    page.goto(
        f"{live_server.url}/admin/newsletter/subscriber/import/{subscriber_import.pk}/"
    )
    panel = page.locator("#import-progress")
    expect(panel).to_contain_text("0 of 2 rows checked")
    SubscriberImport.objects.filter(pk=subscriber_import.pk).update(rows_done=1)
    expect(panel).to_contain_text("1 of 2 rows checked")  # Polled, not reloaded.
    imports.check_import(import_id=subscriber_import.pk)
    button = page.get_by_role("button", name="Import 2 addresses")
    expect(button).to_be_visible()  # The page reloaded itself with the report.
    screenshot(page, artifacts_dir / "newsletter-import-checked.png", DESKTOP)
    button.click()
    expect(panel).to_contain_text("Imported 2 address(es)")
    assert Subscriber.objects.count() == 2
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_progress_updates_without_reloading(page, live_server, artifacts_dir):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    issue = make_sending_issue()
    issue.subject = "Winter skin: the dry-air edition"
    issue.save()
    for n in range(40):
        Delivery.objects.create(
            issue=issue,
            subscriber=make_listed_subscriber(email=f"q{n}@example.com"),
            status=Delivery.Status.SENT if n < 25 else Delivery.Status.QUEUED,
        )
    counters.reset(issue=issue)
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/issue/{issue.pk}/change/")
    panel = page.locator("#issue-progress")
    expect(panel.locator('[data-count="sent"]')).to_have_text("26")
    expect(panel).to_contain_text("550 5.1.1 No such mailbox")
    expect(page.get_by_role("button", name="Resume sending")).to_be_visible()
    reloads = []
    page.on("framenavigated", lambda frame: reloads.append(frame.url))
    screenshot(page, artifacts_dir / "newsletter-issue-progress.png", DESKTOP)

    # The worker sends the rest; the page follows without being reloaded.
    Delivery.objects.filter(issue=issue, status=Delivery.Status.QUEUED).update(
        status=Delivery.Status.SENT
    )
    counters.reset(issue=issue)
    expect(panel.locator('[data-count="sent"]')).to_have_text("42")
    expect(panel.locator('[data-count="queued"]')).to_have_text("0")
    Delivery.objects.filter(issue=issue, status=Delivery.Status.SENDING).update(
        status=Delivery.Status.SENT
    )
    counters.reset(issue=issue)
    Issue.objects.filter(pk=issue.pk).update(
        status=Issue.Status.SENT, sent_at=timezone.now()
    )
    expect(panel.locator('[data-field="status_label"]')).to_have_text("Sent")
    expect(page.locator(".field-send_status .readonly")).to_have_text("Sent")
    expect(panel).to_contain_text("(Finished.)")
    expect(page.get_by_role("button", name="Resume sending")).to_be_hidden()
    expect(page.locator('.issue-locked [data-show-while="sent"]')).to_be_visible()
    expect(page.locator('.issue-locked [data-show-while="sending"]')).to_be_hidden()
    screenshot(page, artifacts_dir / "newsletter-issue-progress-finished.png", DESKTOP)
    # Polling stopped: no more requests for the progress JSON.
    progress_url = reverse("admin:newsletter_issue_progress", args=[issue.pk])
    seen = watcher.urls.count(f"{live_server.url}{progress_url}")
    page.wait_for_timeout(4500)
    assert watcher.urls.count(f"{live_server.url}{progress_url}") == seen
    assert reloads == []
    assert watcher.errors == [] and watcher.violations == []


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_send_confirmation_and_send(
    page, live_server, artifacts_dir, mailoutbox
):
    from playwright.sync_api import expect

    from tests.articles.test_browser import screenshot
    from tests.browser_fixtures import DESKTOP

    for n in range(3):
        make_listed_subscriber(S.CONFIRMED, email=f"reader{n}@example.com")
    make_listed_subscriber(S.PENDING, email="pending@example.com")
    make_listed_subscriber(S.UNSUBSCRIBED, email="gone@example.com")
    issue = make_issue(
        subject="Winter skin: the dry-air edition",
        preheader="Three small habits for cold months",
        body="<h2>Humidity matters</h2><p>Indoor heating dries the air.</p>",
    )
    IssueArticle.objects.create(
        issue=issue, article=make_article(title="Barrier repair"), position=1
    )
    approve_issue(issue)
    watcher = browser_staff_page(page, live_server)
    page.goto(f"{live_server.url}/admin/newsletter/issue/{issue.pk}/change/")
    page.get_by_role("link", name="Preview").click()
    frame = page.frame_locator("iframe.email-frame")
    expect(frame.locator("h1")).to_have_text("Winter skin: the dry-air edition")
    expect(page.locator("pre.email-text")).to_contain_text("HUMIDITY MATTERS")
    screenshot(page, artifacts_dir / "newsletter-issue-preview.png", DESKTOP)
    page.get_by_role("link", name="Back to the issue").click()
    page.get_by_role("link", name="Send now…").click()
    expect(page.locator("[data-confirmed-count]")).to_have_text("3")
    screenshot(page, artifacts_dir / "newsletter-send-confirm.png", DESKTOP)
    page.get_by_role("button", name="Yes, send it to 3 subscribers now").click()
    expect(page.locator(".messagelist")).to_contain_text(
        "Sending to 3 confirmed subscriber(s) has started."
    )
    expect(page.locator('#issue-progress [data-count="sent"]')).to_have_text("3")
    assert sorted(m.to[0] for m in mailoutbox) == [
        f"reader{n}@example.com" for n in range(3)
    ]
    expect(page.get_by_role("link", name="Send now…")).to_have_count(0)
    assert watcher.errors == [] and watcher.violations == []
