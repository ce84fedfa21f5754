"""The newsletter goes through the same gate as articles.

What subscribers and the public archive receive needs a medical reviewer's
approval of exactly that text (newsletter/issues/review.py hashes it), whoever asks,
superusers included; and only those with the send permission send, schedule,
resume, cancel or resend. Each rule is tested per role, by the crafted POST to
each admin URL that could get round it, and by calling the service directly: a
refusal changes nothing, sends nothing and creates no Delivery row.
"""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import SUCCESS, get_messages
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, Correction
from newsletter import selectors
from newsletter.issues import review
from newsletter.issues import services as issue_services
from newsletter.models import (
    Delivery,
    Issue,
    IssueApproval,
    IssueArticle,
    Verdict,
    WelcomeEmail,
)
from tests.conftest import VerifiedClient
from tests.factories import (
    approve_issue,
    make_approved_issue,
    make_article,
    make_author,
    make_issue,
    make_listed_subscriber,
    make_reviewer,
    make_role_user,
    make_staff,
    make_user,
    make_welcome_email,
)
from tests.skincare.test_page_quality_browser import AXE_TAGS, axe_source  # noqa: F401

pytestmark = pytest.mark.django_db

ROLES = ["writer", "reviewer", "editor", "newsletter_editor", "superuser", "plain"]
SENDERS = {"editor", "newsletter_editor", "superuser"}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Six accounts a test, logged in with force_login: hashing strength is
    beside the point here."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db) -> dict:
    superuser = make_staff(username="chief")
    # As for articles, an approval records the reviewer's name and credentials.
    make_author(name="Dr Chief", user=superuser, credentials="MD, PhD")
    plain = make_user(username="plain")
    plain.is_staff = True
    plain.save()
    return {
        "writer": make_role_user("Writer"),
        "reviewer": make_reviewer(),
        "editor": make_role_user("Editor"),
        "newsletter_editor": make_role_user("Newsletter editor"),
        "superuser": superuser,
        "plain": plain,
    }


def signed_in(user) -> VerifiedClient:
    """Another signed-in client, for a test with two people at once."""
    client = VerifiedClient()
    client.force_login(user)
    return client


def messages_of(response) -> list[tuple[int, str]]:
    return [(m.level, str(m)) for m in get_messages(response.wsgi_request)]


def in_future(days: int = 2) -> str:
    return (timezone.localtime() + timedelta(days=days)).strftime("%Y-%m-%dT%H:%M")


def admin_url(name: str, issue: Issue) -> str:
    return reverse(f"admin:newsletter_issue_{name}", args=[issue.pk])


def state_of(issue: Issue) -> dict:
    """Everything a send, a schedule or an approval could change."""
    return {
        "issue": Issue.objects.filter(pk=issue.pk)
        .values("status", "scheduled_at", "sent_at", "not_sent_reason")
        .get(),
        "deliveries": sorted(
            Delivery.objects.filter(issue=issue).values_list("pk", "status")
        ),
        "approvals": IssueApproval.objects.filter(issue=issue).count(),
    }


# Which parts of a text an approval covers ----------------------------------------


def field_names(model) -> set[str]:
    return {field.name for field in model._meta.get_fields()}


@pytest.mark.parametrize(
    ("model", "hashed", "unseen"),
    [
        (Issue, review.ISSUE_HASHED, review.ISSUE_NOT_HASHED),
        (WelcomeEmail, review.WELCOME_HASHED, review.WELCOME_NOT_HASHED),
    ],
)
def test_every_field_is_hashed_or_listed_among_those_readers_never_see(
    model, hashed, unseen
):
    fields = field_names(model)
    forgotten = fields - set(hashed) - unseen
    assert not forgotten, (
        f"{model.__name__} fields neither in the approval's hash nor on the list "
        "of fields readers never see (newsletter/issues/review.py): "
        f"{sorted(forgotten)}"
    )
    assert not set(hashed) & unseen
    # Nothing listed that is not (or no longer) a field.
    assert (set(hashed) | unseen) <= fields


def text_changes(issue: Issue) -> dict:
    """One change to each hashed part of an issue."""
    article = make_article(title="Barrier repair")
    return {
        "subject": lambda: setattr(issue, "subject", "Changed subject"),
        "slug": lambda: setattr(issue, "slug", "changed-slug"),
        "preheader": lambda: setattr(issue, "preheader", "Changed preheader"),
        "greeting": lambda: setattr(issue, "greeting", "Dear {first_name},"),
        "body": lambda: setattr(issue, "body", "<p>Retinol cures acne.</p>"),
        "kind": lambda: setattr(issue, "kind", Issue.Kind.DIGEST),
        "articles": lambda: IssueArticle.objects.create(issue=issue, article=article),
        "corrections": lambda: issue.corrections.add(
            Correction.objects.create(
                article=article, text="We now advise SPF 50.", changes_advice=True
            )
        ),
    }


@pytest.mark.parametrize("part", review.ISSUE_HASHED)
def test_a_change_to_each_hashed_part_of_an_issue_makes_its_approval_stale(part):
    issue = make_approved_issue()
    assert selectors.review_refusal(issue) == ""

    text_changes(issue)[part]()

    assert "changed after" in selectors.review_refusal(issue)


@pytest.mark.parametrize(
    "change",
    [
        {"title": "Retinol: now with 50% more"},
        {"summary": "It cures everything."},
        {"slug": "moved"},
        {"cover_image_alt": "A miracle jar"},
    ],
)
def test_what_a_featured_article_card_says_is_covered_too(change):
    """An article edited (and published) after the issue's approval: the email
    would say something nobody approved for it."""
    issue = make_issue()
    article = make_article(title="Retinol basics")
    IssueArticle.objects.create(issue=issue, article=article, position=1)
    approve_issue(issue)

    Article.objects.filter(pk=article.pk).update(**change)

    assert "featured articles" in selectors.review_refusal(issue)


def test_the_order_of_the_featured_articles_is_covered():
    issue = make_issue()
    first, second = make_article(), make_article()
    IssueArticle.objects.create(issue=issue, article=first, position=1)
    IssueArticle.objects.create(issue=issue, article=second, position=2)
    approve_issue(issue)

    IssueArticle.objects.filter(article=first).update(position=3)

    assert selectors.review_refusal(issue) != ""


def test_who_receives_an_issue_is_not_its_text():
    issue = make_approved_issue()
    issue.audience = Issue.Audience.TOPICS
    issue.not_sent_reason = "Anything"
    issue.save()

    assert selectors.review_refusal(issue) == ""


def test_changing_a_text_back_to_what_was_approved_is_approved_again():
    issue = make_approved_issue(subject="Winter skin")
    Issue.objects.filter(pk=issue.pk).update(subject="Winter skin!")
    issue.refresh_from_db()
    assert selectors.review_refusal(issue) != ""

    Issue.objects.filter(pk=issue.pk).update(subject="Winter skin")
    issue.refresh_from_db()

    assert selectors.review_refusal(issue) == ""


@pytest.mark.parametrize("part", review.WELCOME_HASHED)
def test_a_change_to_each_hashed_part_of_the_welcome_email_needs_a_new_approval(
    part,
):
    make_welcome_email()
    draft = WelcomeEmail.objects.get()
    assert selectors.welcome_review(draft).current is not None

    setattr(draft, part, "Dear {first_name}," if part == "greeting" else "Changed")

    state = selectors.welcome_review(draft)
    assert state.current is None and state.stale
    assert state.changed == [review.LABELS[part]]


# The roles ----------------------------------------------------------------------


def test_the_migration_gives_each_role_its_newsletter_permissions():
    def codenames(role: str) -> set[str]:
        return set(
            Group.objects.get(name=role)
            .permissions.filter(content_type__app_label="newsletter")
            .values_list("codename", flat=True)
        )

    writer = codenames("Writer")
    reviewer = codenames("Medical reviewer")
    editor = codenames("Editor")
    newsletter_editor = codenames("Newsletter editor")
    assert {"add_issue", "change_issue", "view_issue"} <= writer
    assert not {"send_issue", "review_issue", "delete_issue"} & writer
    assert {"view_issue", "review_issue", "view_welcomeemail"} <= reviewer
    assert not {"send_issue", "change_issue", "change_welcomeemail"} & reviewer
    for sender in (editor, newsletter_editor):
        assert {"send_issue", "change_issue", "delete_issue"} <= sender
        assert {"change_welcomeemail", "view_subscriber", "add_subscriber"} <= sender
        assert "review_issue" not in sender
    article_permissions = set(
        Group.objects.get(name="Newsletter editor")
        .permissions.filter(content_type__app_label="articles")
        .values_list("codename", flat=True)
    )
    # Enough to pick the articles an issue features, nothing to change them.
    assert article_permissions == {"view_article", "view_topic"}


# What each role may open: (issue list, new issue, subscriber list, welcome email).
OPENS = {
    "writer": (200, 200, 403, 403),
    "reviewer": (200, 403, 403, 200),
    "editor": (200, 200, 200, 200),
    "newsletter_editor": (200, 200, 200, 200),
    "superuser": (200, 200, 200, 200),
    "plain": (403, 403, 403, 403),
}


@pytest.mark.parametrize("role", ROLES)
def test_what_each_role_can_open_in_the_newsletter_admin(client, people, role):
    make_welcome_email()
    client.force_login(people[role])
    urls = [
        reverse("admin:newsletter_issue_changelist"),
        reverse("admin:newsletter_issue_add"),
        reverse("admin:newsletter_subscriber_changelist"),
        reverse("admin:newsletter_welcomeemail_change", args=[1]),
    ]

    codes = tuple(client.get(url).status_code for url in urls)

    assert codes == OPENS[role]


def test_a_newsletter_editor_has_the_admin_home_and_picks_live_articles(client, people):
    make_article(title="Live dry skin")
    client.force_login(people["newsletter_editor"])

    assert client.get(reverse("admin:index")).status_code == 200
    response = client.get(
        reverse("admin:autocomplete"),
        {
            "term": "dry skin",
            "app_label": "newsletter",
            "model_name": "issuearticle",
            "field_name": "article",
        },
    )
    assert [r["text"] for r in response.json()["results"]] == ["Live dry skin"]
    # Reading articles is all: no article can be changed or added.
    assert client.get(reverse("admin:articles_article_add")).status_code == 403


def sending_issue() -> Issue:
    """Approved, half-way through its send: one delivery queued, one uncertain."""
    issue = make_issue(status=Issue.Status.SENDING, recipient_count=2)
    for status in (Delivery.Status.QUEUED, Delivery.Status.UNCERTAIN):
        Delivery.objects.create(
            issue=issue, subscriber=make_listed_subscriber(), status=status
        )
    return issue


def scheduled_issue() -> Issue:
    return make_issue(
        status=Issue.Status.SCHEDULED,
        scheduled_at=timezone.now() + timedelta(days=1),
    )


# action: (the issue it needs, its POST data, what it does when allowed)
ACTIONS = {
    "send": (make_approved_issue, lambda issue: {}),
    "schedule": (make_approved_issue, lambda issue: {"send_at": in_future()}),
    "cancel_schedule": (scheduled_issue, lambda issue: {}),
    "resume": (sending_issue, lambda issue: {}),
    "resend_uncertain": (sending_issue, lambda issue: {}),
    "review": (
        make_issue,
        lambda issue: {
            "verdict": Verdict.APPROVED,
            "content_hash": review.issue_hash(issue),
        },
    ),
}
ALLOWED = {
    "send": SENDERS,
    "schedule": SENDERS,
    "cancel_schedule": SENDERS,
    "resume": SENDERS,
    "resend_uncertain": SENDERS,
    "review": {"reviewer", "superuser"},
}


def done(action: str, issue: Issue, user) -> None:
    """Assert that the allowed action happened."""
    issue.refresh_from_db()
    counts = issue.deliveries.counts()
    if action == "send":
        assert issue.status == Issue.Status.SENT
        assert counts[Delivery.Status.SENT] == 1
    elif action == "schedule":
        assert issue.status == Issue.Status.SCHEDULED
        assert issue.scheduled_at > timezone.now() + timedelta(days=1)
    elif action == "cancel_schedule":
        assert issue.status == Issue.Status.DRAFT
    elif action == "resume":
        assert counts[Delivery.Status.QUEUED] == 0
        assert counts[Delivery.Status.UNCERTAIN] == 1
    elif action == "resend_uncertain":
        assert counts[Delivery.Status.UNCERTAIN] == 0
        assert counts[Delivery.Status.SENT] == 2
    else:
        approval = IssueApproval.objects.get(issue=issue)
        assert approval.reviewer == user
        assert selectors.review_refusal(issue) == ""


@pytest.mark.parametrize("action", list(ACTIONS))
@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_its_actions_by_crafted_post(
    client,
    people,
    mailoutbox,
    django_capture_on_commit_callbacks,
    request,
    role,
    action,
):
    if action == "schedule":
        # A send at a later time needs a backend that can defer a task.
        request.getfixturevalue("database_tasks")
    needs, data = ACTIONS[action]
    make_listed_subscriber()
    issue = needs()
    before = state_of(issue)
    client.force_login(people[role])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(admin_url(action, issue), data(issue))

    if role in ALLOWED[action]:
        assert response.status_code == 302
        assert response["Location"] == admin_url("change", issue)
        assert [level for level, _ in messages_of(response)] == [SUCCESS]
        done(action, issue, people[role])
    else:
        assert response.status_code == 403
        assert state_of(issue) == before
        assert mailoutbox == []


@pytest.mark.parametrize("role", ["writer", "reviewer", "plain"])
def test_the_services_refuse_those_who_may_not_send_whatever_calls_them(
    people, role, mailoutbox, django_capture_on_commit_callbacks
):
    user = people[role]
    draft, scheduled, started = (
        make_approved_issue(),
        scheduled_issue(),
        sending_issue(),
    )
    before = [state_of(issue) for issue in (draft, scheduled, started)]
    calls = [
        lambda: issue_services.schedule_send(issue=draft, user=user),
        lambda: issue_services.cancel_schedule(issue=scheduled, user=user),
        lambda: issue_services.resume_send(issue=started, user=user),
        lambda: issue_services.resend_uncertain(issue=started, user=user),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        for call in calls:
            with pytest.raises(PermissionDenied, match="Only editors and newsletter"):
                call()

    assert [state_of(issue) for issue in (draft, scheduled, started)] == before
    assert mailoutbox == []


# The welcome email's admin page (its tests: test_gate_welcome.py).
WELCOME = reverse("admin:newsletter_welcomeemail_change", args=[1])


# In Chromium (screenshots in test-artifacts/ for a person to look at) -------------


def panel_violations(page, axe_source: str) -> list[str]:  # noqa: F811
    """axe's violations in the medical review panel (the rest of the page is
    Django's admin, not ours to fix)."""
    page.add_script_tag(content=axe_source)
    result = page.evaluate(
        "tags => axe.run('#medical-review', {runOnly: {type: 'tag', values: tags}})",
        AXE_TAGS,
    )
    assert result["passes"], "axe checked nothing in the panel"
    return [
        f"{v['id']}: {[n['target'] for n in v['nodes']]}" for v in result["violations"]
    ]


@pytest.mark.browser
@pytest.mark.django_db(transaction=True)
def test_browser_a_reviewer_approves_the_issue_and_its_panel_is_accessible(
    live_server,
    new_context,
    axe_source,  # noqa: F811
    artifacts_dir,
):
    from playwright.sync_api import expect

    from tests.articles.test_browser import PageWatcher, log_in, screenshot
    from tests.browser_fixtures import DESKTOP

    issue = make_issue(
        subject="Winter skin: the dry-air edition",
        body="<h2>Humidity matters</h2><p>Indoor heating dries the air.</p>",
    )
    IssueArticle.objects.create(issue=issue, article=make_article(title="Dry air"))
    # A transactional test may have emptied the row the migration made.
    make_welcome_email(approved=False)
    # axe is injected as a script, which the admin's CSP would rightly refuse.
    page = new_context(viewport=DESKTOP, bypass_csp=True).new_page()
    watcher = PageWatcher(page)
    log_in(page, live_server, make_reviewer())
    page.goto(f"{live_server.url}{admin_url('change', issue)}")
    panel = page.locator("#medical-review")
    expect(panel).to_contain_text("Not medically reviewed yet.")
    assert panel_violations(page, axe_source) == []
    screenshot(page, artifacts_dir / "newsletter-issue-review.png", DESKTOP)

    panel.get_by_role("button", name="Approve this text").click()

    expect(page.locator(".messagelist")).to_contain_text("Recorded “Approved”")
    expect(panel).to_contain_text("Approved by Dr Reviewer, MD, FAAD on")
    assert selectors.review_refusal(issue) == ""
    Issue.objects.filter(pk=issue.pk).update(subject="Winter skin, again")
    page.reload()
    expect(panel).to_contain_text("Changed since its medical approval.")
    expect(panel.locator(".review-changes")).to_contain_text("Winter skin, again")
    assert panel_violations(page, axe_source) == []
    screenshot(page, artifacts_dir / "newsletter-issue-review-stale.png", DESKTOP)
    page.goto(f"{live_server.url}{WELCOME}")
    expect(page.locator("#medical-review")).to_contain_text("Not medically reviewed")
    assert panel_violations(page, axe_source) == []
    assert watcher.errors == []
