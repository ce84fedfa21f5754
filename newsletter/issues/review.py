"""What a medical approval of newsletter text covers: the one place that says
which parts of an issue or of the welcome email readers see, and hashes them.

An approval records the hash of the text it approved; the text goes out only
while its hash still matches one (selectors.review_refusal). A field added to
Issue or WelcomeEmail later must be listed here, hashed or among the parts
readers never see, or tests/newsletter/test_gate.py fails.
"""

import difflib
import hashlib
import json
from dataclasses import dataclass
from typing import Any

from core.emails import html_to_text
from newsletter.models import Issue, WelcomeApproval, WelcomeEmail

# Everything an issue's email and its archive page say, featured articles
# included (their order, and what each card shows).
ISSUE_HASHED = (
    "subject",
    "slug",
    "preheader",
    "greeting",
    "body",
    "kind",
    "articles",
    "corrections",
)
ISSUE_NOT_HASHED = {
    "id",
    # Which correction a notice tells of: its words are in the body, hashed.
    "correction",
    # Who receives it, not what it says:
    "audience",
    "topics",
    # The send's own state and records, set by sending and not by staff (the
    # archive page's "Sent <date>" is sent_at, known only once it has gone):
    "status",
    "scheduled_at",
    "send_started_at",
    "sent_at",
    "stats",
    "recipient_count",
    "not_sent_reason",
    "created_at",
    "updated_at",
    "claims",
    "deliveries",
    "delivery_events",
    "link_clicks",
    "approvals",
    # The through rows of `articles`: hashed there, in their order.
    "issuearticle",
}
WELCOME_HASHED = ("subject", "preheader", "greeting", "body")
WELCOME_NOT_HASHED = {
    "id",
    # Whether it goes out, not what it says.
    "enabled",
    "updated_at",
}
# A later step of the welcome series: the same text as the welcome email
# (welcome_text and welcome_hash read it), and these parts readers never see.
STEP_NOT_HASHED = {
    "id",
    # When and whether it goes out, not what it says.
    "position",
    "delay_days",
    "enabled",
    "sending_since",
    "created_at",
    "updated_at",
    "approvals",
    "deliveries",
}
LABELS = {
    "subject": "subject",
    "slug": "web address",
    "preheader": "preheader",
    "greeting": "greeting",
    "body": "body",
    "kind": "kind (a digest groups its articles by topic)",
    "articles": "featured articles",
    "corrections": "what changed (corrections)",
}


# The featured articles with what their cards show, in order: a queryset for
# Prefetch (selectors.texts_awaiting_review) and for one issue.
FEATURED_RELATED = ("article__topic", "article__author")
FEATURED_ORDER = ("position", "pk")


def featured_text(issue: Issue) -> list[dict[str, Any]]:
    """What each featured article's card says in the email and on the archive
    page, in order. Its publication date is left out: a date, not a claim.
    Read from `issue.featured_items` when prefetched there."""
    items = getattr(issue, "featured_items", None)
    if items is None:
        items = issue.issuearticle_set.select_related(*FEATURED_RELATED).order_by(
            *FEATURED_ORDER
        )
    return [
        {
            "id": item.article_id,
            "title": item.article.title,
            "summary": item.article.summary,
            "url": item.article.get_absolute_url(),
            "topic": item.article.topic.name,
            "author": item.article.author.name,
            "cover_image": item.article.cover_image.name or "",
            "cover_image_alt": item.article.cover_image_alt,
        }
        for item in items
    ]


# A digest's corrections with what its "What changed" section says of each.
CORRECTIONS_RELATED = ("article__topic",)
CORRECTIONS_ORDER = ("published_at", "pk")


def corrections_text(issue: Issue) -> list[dict[str, Any]]:
    """What the "What changed" section says of each correction, in order: the
    whole section, whichever readers see which part of it (a reader is shown the
    corrections in their topics, a subset of this approved text). Read from
    `issue.correction_items` when prefetched there."""
    items = getattr(issue, "correction_items", None)
    if items is None:
        if issue.pk is None:
            return []
        items = issue.corrections.select_related(*CORRECTIONS_RELATED).order_by(
            *CORRECTIONS_ORDER
        )
    return [
        {
            "id": correction.pk,
            "text": correction.text,
            "title": correction.article.title,
            "url": correction.article.get_absolute_url(),
            "topic": correction.article.topic.name,
        }
        for correction in items
    ]


def issue_text(issue: Issue) -> dict[str, Any]:
    """The issue's reviewed text, as hashed (two queries: its articles and its
    corrections)."""
    text: dict[str, Any] = {
        name: getattr(issue, name)
        for name in ISSUE_HASHED
        if name not in {"articles", "corrections"}
    }
    text["articles"] = featured_text(issue)
    corrections = corrections_text(issue)
    # Only when there are some: the texts approved before digests had a "What
    # changed" section keep their hash, so their approvals stay current.
    if corrections:
        text["corrections"] = corrections
    return text


def welcome_text(welcome: WelcomeEmail | WelcomeApproval) -> dict[str, Any]:
    """The welcome email's reviewed text: of a WelcomeEmail, or of the approval
    that keeps a copy of it."""
    return {name: getattr(welcome, name) for name in WELCOME_HASHED}


def content_hash(text: dict[str, Any]) -> str:
    encoded = json.dumps(text, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()


def issue_hash(issue: Issue) -> str:
    return content_hash(issue_text(issue))


def welcome_hash(welcome: WelcomeEmail | WelcomeApproval) -> str:
    return content_hash(welcome_text(welcome))


def _parts(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """Both texts' parts, in the order of the text now (an approved text read
    back from PostgreSQL's jsonb has its keys reordered), then a section only the
    approved one has (corrections since removed)."""
    return [*after, *(name for name in before if name not in after)]


def changed_parts(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """The parts of a text that differ between two versions, in words."""
    return [
        LABELS.get(name, name)
        for name in _parts(before, after)
        if before.get(name) != after.get(name)
    ]


@dataclass(frozen=True)
class Difference:
    """One part of a text as approved and as it is now, for a reviewer to read.
    The body and the featured articles, long, come with the lines that changed
    (a unified diff of their text)."""

    label: str
    approved: str
    now: str
    lines: tuple[str, ...] = ()


def _readable(name: str, value: Any) -> str:
    if name == "articles":
        return "\n".join(
            f"{article['title']}: {article['summary']}" for article in value or []
        )
    if name == "corrections":
        return "\n".join(f"{item['title']}: {item['text']}" for item in value or [])
    if name == "body":
        return html_to_text(value or "")
    return str(value or "")


def differences(before: dict[str, Any], after: dict[str, Any]) -> list[Difference]:
    """What changed between an approved text and the text now, part by part."""
    found = []
    for name in _parts(before, after):
        if before.get(name) == after.get(name):
            continue
        approved = _readable(name, before.get(name))
        now = _readable(name, after.get(name))
        lines: tuple[str, ...] = ()
        if name in {"body", "articles", "corrections"}:
            diff = difflib.unified_diff(
                approved.splitlines(), now.splitlines(), lineterm="", n=1
            )
            # Without the two header lines (file names, empty here).
            lines = tuple(list(diff)[2:])
        found.append(Difference(LABELS.get(name, name), approved, now, lines))
    return found
