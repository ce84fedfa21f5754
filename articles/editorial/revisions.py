"""Revisions: an article's editable fields and sources as one JSON snapshot.

The Article row holds what readers see once an article has been published (lists,
search, feeds read it); a later revision is a draft until it is published. Only
articles never published keep their row in step with the latest revision.
"""

import difflib
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any

from django.db.models import Max

from articles.models import (
    SOURCE_FIELDS,
    Article,
    ArticleRevision,
    Author,
    Reference,
    Topic,
    source_dict,
)
from articles.publishing.body import plain_text

# The fields a revision keeps; foreign keys by id, images by stored name.
FIELDS = (
    "title",
    "slug",
    "summary",
    "body",
    "seo_title",
    "seo_description",
    "cover_image",
    "cover_image_alt",
    "author_id",
    "topic_id",
    "evidence",
    "medical",
    "featured",
)
# A revision's fields readers never see. Everything else a revision holds is
# covered by a medical approval, so a field added to FIELDS is reviewed unless it
# is named here, with the reason (tests/articles/test_review_scope.py).
NOT_SHOWN = {
    # Where the article is placed on the home page, not anything it says.
    "featured": "placement on the home page",
}
# What a medical approval covers: a change to any of these makes it stale. The
# text, and everything around it a reader, a search result or a share card shows:
# the address, byline, topic, cover and its alt text, evidence label, SEO title and
# description, the medical flag itself, and the sources.
REVIEWED = tuple(name for name in (*FIELDS, "sources") if name not in NOT_SHOWN)
# The article row's fields that no revision holds: the workflow sets them, each
# change a logged action (publish, approve...), or they follow from other fields.
# Never set from the editing form.
NOT_IN_REVISIONS = {
    "id": "the row's key",
    "status": "set by publish / unpublish",
    "stage": "set by workflow actions",
    "published_at": "set by publish",
    "reviewer": "copied from the approval covering the live revision",
    "reviewer_name": "copied from the approval covering the live revision",
    "reviewer_credentials": "copied from the approval covering the live revision",
    "reviewed_at": "copied from the approval covering the live revision",
    "review_due": "follows from the approval and the topic's interval",
    "content_updated_at": "set when a published change alters the text",
    "cover_image_width": "read from the cover image",
    "cover_image_height": "read from the cover image",
    "created_by": "the writer who made it",
    "assigned_reviewer": "set by assigning a reviewer",
    "planned_for": "an editorial plan, never shown to readers (the calendar)",
    "latest_revision": "the revision bookkeeping itself",
    "live_revision": "the revision bookkeeping itself",
    "created_at": "bookkeeping",
    "updated_at": "bookkeeping",
}


def snapshot(
    article: Article, *, sources: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """The article's editable state. `sources` defaults to its Reference rows."""
    data: dict[str, Any] = {}
    for name in FIELDS:
        value = getattr(article, name)
        data[name] = value.name or "" if name == "cover_image" else value
    if sources is None:
        sources = list(article.references.all()) if article.pk else []
    data["sources"] = [source_dict(s) for s in sources]
    return data


def review_hash(data: dict[str, Any]) -> str:
    """A digest of everything in `data` a medical approval covers (REVIEWED)."""
    reviewed = {name: data.get(name) for name in REVIEWED}
    text = json.dumps(reviewed, sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def apply(article: Article, data: dict[str, Any]) -> None:
    """Set the row's fields from a snapshot (not saved; sources apart)."""
    for name in FIELDS:
        if name not in data:
            continue
        if name == "cover_image" and (article.cover_image.name or "") == data[name]:
            # Setting an image re-reads its size from the file: not for the same
            # one (its size is stored; the file may even be gone from storage).
            continue
        setattr(article, name, data[name])


def as_article(revision: ArticleRevision) -> Article:
    """An unsaved copy of the article as the revision has it, for previews and the
    editing form. Its sources are in `revision_sources`."""
    base = revision.article
    copy = Article.objects.select_related("author", "topic").get(pk=base.pk)
    apply(copy, revision.data)
    copy.revision_sources = revision.data.get("sources", [])
    return copy


def write_sources(*, article: Article, sources: list[dict[str, Any]]) -> None:
    """Make the article's Reference rows exactly these sources, in order."""
    article.references.all().delete()
    Reference.objects.bulk_create(
        Reference(article=article, position=position, **source_dict(source))
        for position, source in enumerate(sources, start=1)
    )


def create_revision(
    *, article: Article, data: dict[str, Any], user=None, note: str = ""
) -> ArticleRevision:
    """A new revision, numbered after the last; it becomes the latest (saved)."""
    last = article.revisions.aggregate(n=Max("number"))["n"] or 0
    revision = ArticleRevision.objects.create(
        article=article,
        number=last + 1,
        data=data,
        review_hash=review_hash(data),
        created_by=user,
        note=note,
    )
    article.latest_revision = revision
    Article.objects.filter(pk=article.pk).update(latest_revision=revision)
    return revision


def latest(article: Article, *, user=None) -> ArticleRevision:
    """The latest revision; revision 1 is made from the row for an article that
    has none yet (made before revisions, or outside the admin)."""
    if article.latest_revision_id:
        return article.latest_revision
    revision = create_revision(
        article=article, data=snapshot(article), user=user, note="First revision"
    )
    if article.is_live or article.is_scheduled:
        article.live_revision = revision
        Article.objects.filter(pk=article.pk).update(live_revision=revision)
    return revision


# Comparing two revisions --------------------------------------------------------------


@dataclass
class FieldDiff:
    label: str
    rows: list[tuple[str, str, str]]  # (kind, left, right): equal/replace/insert/delete
    changed: bool


# Where a link goes and which image is shown are part of what a reviewer reads:
# the comparison shows them beside the text (the body is sanitised HTML, its
# attributes double-quoted).
LINK = re.compile(r'<a\b[^>]*?\shref="([^"]*)"[^>]*>(.*?)</a\s*>', re.I | re.S)
IMAGE = re.compile(r"<img\b[^>]*>", re.I)
IMAGE_ATTRIBUTE = re.compile(r'\s(src|alt)="([^"]*)"', re.I)


def _image_text(match: re.Match) -> str:
    attributes = dict(IMAGE_ATTRIBUTE.findall(match.group(0)))
    alt = attributes.get("alt", "").strip()
    described = f"alt text \u201c{alt}\u201d" if alt else "no alt text"
    return f" [Image {attributes.get('src', '')}, {described}] "


# Keys a revision holds as ids, compared by the names readers see.
NAMED = {"author_id": (Author, "name"), "topic_id": (Topic, "name")}


def _lines(data: dict[str, Any], name: str) -> list[str]:
    if name == "body":
        html = IMAGE.sub(_image_text, data.get("body") or "")
        html = LINK.sub(lambda m: f"{m.group(2)} ({m.group(1)})", html)
        # One line per block of text, so a diff points at paragraphs.
        html = html.replace("</p>", "</p>\n")
        for tag in ("</h2>", "</h3>", "</h4>", "</li>", "<br>", "<br />"):
            html = html.replace(tag, tag + "\n")
        return [line.strip() for line in plain_text(html).split("\n") if line.strip()]
    if name == "sources":
        return [
            ". ".join(
                str(s.get(f)) for f in SOURCE_FIELDS if s.get(f) not in ("", None)
            )
            for s in data.get("sources", [])
        ]
    value = data.get(name)
    if name in NAMED:
        model, field = NAMED[name]
        found = model.objects.filter(pk=value).values_list(field, flat=True).first()
        return [found if found is not None else f"(deleted, #{value})"] if value else []
    if isinstance(value, bool):
        return ["Yes" if value else "No"]
    return [str(value)] if value not in ("", None) else []


DIFF_FIELDS = (
    ("title", "Title"),
    ("slug", "Address (slug)"),
    ("summary", "Summary"),
    ("body", "Body text"),
    ("sources", "Sources"),
    ("seo_title", "SEO title"),
    ("seo_description", "SEO description"),
    ("evidence", "Evidence label"),
    ("cover_image", "Cover image"),
    ("cover_image_alt", "Cover image alt text"),
    ("author_id", "Author"),
    ("topic_id", "Topic"),
    ("medical", "Medical article"),
    ("featured", "Featured"),
)


def compare(old: dict[str, Any], new: dict[str, Any]) -> list[FieldDiff]:
    """A side-by-side comparison of two snapshots, field by field."""
    result = []
    for name, label in DIFF_FIELDS:
        left, right = _lines(old, name), _lines(new, name)
        rows: list[tuple[str, str, str]] = []
        matcher = difflib.SequenceMatcher(a=left, b=right, autojunk=False)
        for tag, i1, i2, j1, j2 in matcher.get_opcodes():
            if tag == "equal":
                rows += [("equal", a, a) for a in left[i1:i2]]
                continue
            olds, news = left[i1:i2], right[j1:j2]
            for k in range(max(len(olds), len(news))):
                a = olds[k] if k < len(olds) else ""
                b = news[k] if k < len(news) else ""
                kind = "replace" if a and b else ("delete" if a else "insert")
                rows.append((kind, a, b))
        result.append(FieldDiff(label=label, rows=rows, changed=left != right))
    return result
