"""Plain factory functions for tests: each returns a saved object."""

import io
import itertools
from datetime import timedelta
from importlib import import_module

from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from PIL import Image

from articles.models import Article, Author, Topic
from core.pagecache import content_changed

# The role groups' permissions, as the migrations give them (their names start
# with a digit): articles' 0005 made the groups, newsletter's 0009 added to them.
ARTICLE_ROLES = import_module(
    "articles.migrations.0005_workflow_revisions_review"
).ROLES
NEWSLETTER_ROLES = import_module(
    "newsletter.migrations.0009_approvals_send_permission_roles"
).ROLES
SERIES_ROLES = import_module("newsletter.migrations.0010_welcome_series").ROLES
SEARCH_INSIGHT_ROLES = import_module("articles.migrations.0013_search_insight").ROLES
# Source health's admin pages (articles' migration adding them).
SOURCE_ROLES = import_module("articles.migrations.0015_source_health").ROLES
ROLES = {
    role: [
        *ARTICLE_ROLES.get(role, []),
        *NEWSLETTER_ROLES.get(role, []),
        *SERIES_ROLES.get(role, []),
        *SEARCH_INSIGHT_ROLES.get(role, []),
        *SOURCE_ROLES.get(role, []),
    ]
    for role in {**ARTICLE_ROLES, **NEWSLETTER_ROLES}
}

_counter = itertools.count(1)


def make_topic(**fields) -> Topic:
    n = next(_counter)
    fields.setdefault("name", f"Topic {n}")
    fields.setdefault("slug", f"topic-{n}")
    return Topic.objects.create(**fields)


def make_author(**fields) -> Author:
    n = next(_counter)
    fields.setdefault("name", f"Author {n}")
    fields.setdefault("slug", f"author-{n}")
    return Author.objects.create(**fields)


def make_article(**fields) -> Article:
    """A live article unless told otherwise (status, published_at)."""
    n = next(_counter)
    fields.setdefault("title", f"Article {n}")
    fields.setdefault("slug", f"article-{n}")
    fields.setdefault("summary", f"Summary of article {n}.")
    fields.setdefault("body", f"<p>Body of article {n}.</p>")
    fields.setdefault("status", Article.Status.PUBLISHED)
    if fields["status"] == Article.Status.PUBLISHED:
        fields.setdefault("published_at", timezone.now() - timedelta(hours=n))
    if "topic" not in fields:
        fields["topic"] = make_topic()
    if "author" not in fields:
        fields["author"] = make_author()
    if fields.get("reviewer") is not None:
        # As an approval gives them: the reviewer's name and credentials then.
        fields.setdefault("reviewer_name", fields["reviewer"].name)
        fields.setdefault("reviewer_credentials", fields["reviewer"].credentials)
    article = Article.objects.create(**fields)
    # As services.save_article does: cached pages show the new article at once.
    content_changed(reason="test article")
    return article


def make_draft(**fields) -> Article:
    return make_article(status=Article.Status.DRAFT, **fields)


def make_scheduled(*, delay: timedelta = timedelta(days=1), **fields) -> Article:
    return make_article(published_at=timezone.now() + delay, **fields)


def make_staff(*, username: str = "editor", password: str = "a-long-test-pass-42"):
    user = get_user_model().objects.create_user(
        username=username,
        password=password,
        email=f"{username}@example.com",
        is_staff=True,
        is_superuser=True,
    )
    user.raw_password = password
    return user


def make_role_user(
    role: str, *, username: str | None = None, password: str = "a-long-test-pass-42"
):
    """A staff member in one role's group: "Writer", "Medical reviewer", "Editor"
    or "Newsletter editor" (groups made by migrations, see ROLES)."""
    group, created = Group.objects.get_or_create(name=role)
    if created:
        # A transactional test (browser tests) may start from a database another
        # one emptied: the group as migration 0005 makes it.
        group.permissions.set(
            Permission.objects.get(content_type__app_label=app, codename=codename)
            for app, codename in ROLES[role]
        )
    name = username or role.lower().replace(" ", "-")
    user = get_user_model().objects.create_user(
        username=name,
        password=password,
        email=f"{name}@example.com",
        is_staff=True,
    )
    user.groups.add(group)
    user.raw_password = password
    return user


def make_reviewer(*, username: str = "reviewer", credentials: str = "MD, FAAD"):
    """A medical reviewer with an author profile carrying credentials."""
    user = make_role_user("Medical reviewer", username=username)
    make_author(name=f"Dr {username.title()}", user=user, credentials=credentials)
    return user


def make_user(*, username: str = "reader", password: str = "a-long-test-pass-42"):
    user = get_user_model().objects.create_user(username=username, password=password)
    user.raw_password = password
    return user


def image_bytes(*, fmt: str = "PNG", size: tuple[int, int] = (64, 48)) -> bytes:
    output = io.BytesIO()
    Image.new("RGB", size, (200, 120, 90)).save(output, format=fmt)
    return output.getvalue()


def image_upload(
    name: str = "photo.png", *, fmt: str = "PNG", size: tuple[int, int] = (64, 48)
) -> SimpleUploadedFile:
    content_type = {"PNG": "image/png", "JPEG": "image/jpeg"}.get(fmt, "image/gif")
    return SimpleUploadedFile(
        name, image_bytes(fmt=fmt, size=size), content_type=content_type
    )


def admin_article_form(**overrides) -> dict:
    """POST data for the admin's article form: a valid new article (saved as a
    draft; publishing is a workflow action)."""
    data = {
        "title": "Moisturising 101",
        "slug": "",
        "summary": "How to moisturise.",
        "body": "<p>Apply daily.</p>",
        "author": make_author().pk,
        "topic": make_topic().pk,
        "seo_title": "",
        "seo_description": "",
        "cover_image_alt": "",
        # The sources inline (articles/admin/article_forms.py): none.
        "references-TOTAL_FORMS": "0",
        "references-INITIAL_FORMS": "0",
    }
    data.update(overrides)
    return data


# Newsletter (staff side) ------------------------------------------------------------


def newsletter_reviewer():
    """The medical reviewer who approves newsletter text in tests (made once)."""
    user = get_user_model().objects.filter(username="newsletter-reviewer").first()
    return user or make_reviewer(username="newsletter-reviewer")


def newsletter_sender():
    """A newsletter editor, who may send issues, in tests (made once)."""
    user = get_user_model().objects.filter(username="newsletter-editor").first()
    return user or make_role_user("Newsletter editor")


def approve_issue(issue, *, by=None, verdict: str = "approved"):
    """A medical reviewer's approval of the issue's text as it is now (featured
    articles included: add them first)."""
    from newsletter.issues import review
    from newsletter.issues import services as issue_services

    return issue_services.approve_issue(
        issue=issue,
        user=by or newsletter_reviewer(),
        verdict=verdict,
        seen_hash=review.issue_hash(issue),
    )


def approve_welcome(*, by=None, verdict: str = "approved"):
    """A medical reviewer's approval of the welcome email's saved text."""
    from newsletter import selectors
    from newsletter.issues import review
    from newsletter.issues import services as issue_services

    return issue_services.approve_welcome(
        user=by or newsletter_reviewer(),
        verdict=verdict,
        seen_hash=review.welcome_hash(selectors.welcome_email()),
    )


def make_issue(*, approved: bool | None = None, **fields):
    """A draft issue unless told otherwise (status, scheduled_at, sent_at).

    Approved by a medical reviewer when `approved`, which is the default for an
    issue past draft (it could not have got there without one).
    """
    from newsletter.models import Issue

    n = next(_counter)
    fields.setdefault("subject", f"Issue {n}")
    fields.setdefault("slug", f"issue-{n}")
    fields.setdefault("body", f"<p>Body of issue {n}.</p>")
    status = fields.setdefault("status", Issue.Status.DRAFT)
    if status != Issue.Status.DRAFT:
        fields.setdefault("scheduled_at", timezone.now())
    if status in {Issue.Status.SENDING, Issue.Status.SENT}:
        fields.setdefault("send_started_at", timezone.now())
    if status == Issue.Status.SENT:
        fields.setdefault("sent_at", timezone.now())
    issue = Issue.objects.create(**fields)
    if approved or (approved is None and status != Issue.Status.DRAFT):
        approve_issue(issue)
    return issue


def make_approved_issue(**fields):
    """A draft issue whose text a medical reviewer approved, ready to send."""
    return make_issue(approved=True, **fields)


def make_listed_subscriber(status: str = "confirmed", **fields):
    """A subscriber in any status (confirmed by default), signed up in the footer."""
    from newsletter.models import Subscriber

    fields.setdefault("email", f"reader{next(_counter)}@example.com")
    fields.setdefault("consent_text", "Yes, email me the Skincare newsletter.")
    fields.setdefault("consent_version", "test-v1")
    fields.setdefault("consent_source", Subscriber.Source.FOOTER)
    fields.setdefault("consent_ip", "203.0.113.9")
    return make_subscriber(status=status, **fields)


def make_welcome_email(*, approved: bool = True, **fields):
    """The one welcome email, turned on, with these fields (a transactional test
    may have emptied the row the migration made), its text approved by a medical
    reviewer unless told otherwise."""
    from newsletter.models import WelcomeEmail

    fields.setdefault("enabled", True)
    fields.setdefault("subject", "Welcome to the Skincare newsletter")
    fields.setdefault("preheader", "What to expect from us.")
    fields.setdefault("greeting", "Hi {first_name},")
    fields.setdefault(
        "body",
        "<p>Thank you for confirming.</p>"
        '<p>Past issues are in the <a href="/newsletter/archive/">archive</a>.</p>',
    )
    welcome, _ = WelcomeEmail.objects.update_or_create(pk=1, defaults=fields)
    if approved:
        approve_welcome()
    return welcome


def make_welcome_step(
    *,
    position: int = 2,
    delay_days: int = 3,
    approved: bool = True,
    live_since=None,
    **fields,
):
    """A step of the welcome series (replacing the launch content's step at that
    position), on, its text approved by a medical reviewer unless told otherwise.
    Live since `live_since` (default: a year ago, so every subscriber in a test
    is reached; None when it is off or unapproved)."""
    from newsletter.issues import review, series
    from newsletter.models import WelcomeStep

    n = next(_counter)
    fields.setdefault("enabled", True)
    fields.setdefault("subject", f"Series step {n}")
    fields.setdefault("preheader", "A little more about skin.")
    fields.setdefault("greeting", "Hi {first_name},")
    fields.setdefault("body", f"<p>Step {n}: moisturise after washing.</p>")
    # Out of the way of the launch content's steps' order (delays 3, 7, 14).
    WelcomeStep.objects.filter(position__gte=position).delete()
    step = WelcomeStep.objects.create(
        position=position, delay_days=delay_days, **fields
    )
    if approved:
        series.approve_welcome_step(
            step=step,
            user=newsletter_reviewer(),
            verdict="approved",
            seen_hash=review.welcome_hash(step),
        )
        step.refresh_from_db()
    if step.sending_since is not None:
        step.sending_since = live_since or timezone.now() - timedelta(days=365)
        step.save(update_fields=["sending_since"])
    return step


# Newsletter (subscriber side) -------------------------------------------------------


def make_subscriber(**fields):
    """A pending sign-up from the newsletter page unless told otherwise; a status
    other than pending gets the times it requires (confirmed_at, left_at)."""
    from newsletter.models import Subscriber
    from newsletter.subscribers.services import CONSENT_TEXT, CONSENT_VERSION

    n = next(_counter)
    now = timezone.now()
    fields.setdefault("email", f"subscriber{n}@example.com")
    fields.setdefault("consent_text", CONSENT_TEXT)
    fields.setdefault("consent_version", CONSENT_VERSION)
    fields.setdefault("consent_source", Subscriber.Source.PAGE)
    fields.setdefault("consent_ip", "198.51.100.7")
    status = fields.setdefault("status", Subscriber.Status.PENDING)
    if status != Subscriber.Status.PENDING:
        fields.setdefault("confirmed_at", now)
    left_how = {
        Subscriber.Status.UNSUBSCRIBED: Subscriber.LeftHow.LINK,
        Subscriber.Status.BOUNCED: Subscriber.LeftHow.BOUNCE,
        Subscriber.Status.COMPLAINED: Subscriber.LeftHow.COMPLAINT,
    }.get(status)
    if left_how:
        fields.setdefault("left_at", now)
        fields.setdefault("left_how", left_how)
    return Subscriber.objects.create(**fields)
