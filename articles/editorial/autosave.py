"""Autosave: what the editing page sends while someone types, checked and kept
(no revision, nothing published), and what it is offered back."""

from typing import Any

from django.utils import timezone

from articles.editorial import revisions
from articles.editorial.permissions import Action, check
from articles.models import (
    SOURCE_FIELDS,
    Article,
    Autosave,
    source_dict,
)
from core.sanitize import sanitize_html

# Keeping what is typed, and discarding it ------------------------------------


def autosave(*, article: Article | None, user, data: dict[str, Any]) -> Autosave:
    """Keep what `user` is typing (no revision, nothing published)."""
    check(user, Action.EDIT, article)
    base = article.latest_revision if article is not None else None
    saved, _ = Autosave.objects.update_or_create(
        article=article,
        user=user,
        defaults={"data": data, "saved_at": timezone.now(), "base_revision": base},
    )
    return saved


def pending_autosave(*, article: Article | None, user) -> Autosave | None:
    """The user's autosave that holds more than the last saved revision."""
    saved = Autosave.objects.filter(article=article, user=user).first()
    if saved is None:
        return None
    latest = article.latest_revision if article is not None else None
    if latest is not None and latest.created_at >= saved.saved_at:
        return None
    return saved


def discard_autosave(*, article: Article | None, user) -> None:
    Autosave.objects.filter(article=article, user=user).delete()


# What an autosave keeps: the form's editable fields, as a revision names them
# (all a revision keeps but the cover image, an upload rather than typing).
AUTOSAVE_IDS = ("author_id", "topic_id")
AUTOSAVE_FLAGS = ("medical", "featured")
AUTOSAVE_TEXT = tuple(
    name
    for name in revisions.FIELDS
    if name not in {"cover_image", *AUTOSAVE_IDS, *AUTOSAVE_FLAGS}
)


# Autosave: what the editing page sends, and what it is offered back ---------------


def autosave_data(payload: Any) -> dict[str, Any]:
    """The editable fields of an autosave request, checked and typed; ValueError
    says what is wrong. Unknown keys are left out; the body is sanitised like
    every stored piece of staff HTML."""
    if not isinstance(payload, dict):
        raise ValueError("Send the draft copy as a JSON object of field values.")
    data: dict[str, Any] = {}
    for name in AUTOSAVE_TEXT:
        if name in payload:
            if not isinstance(payload[name], str):
                raise ValueError(f"The field {name} must be text.")
            if not storable(payload[name]):
                raise ValueError(
                    f"The field {name} holds a character that cannot be saved."
                )
            data[name] = payload[name]
    for name in AUTOSAVE_IDS:
        if name in payload:
            value = payload[name]
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"The field {name} must be an id or null.")
            data[name] = value
    for name in AUTOSAVE_FLAGS:
        if name in payload:
            if not isinstance(payload[name], bool):
                raise ValueError(f"The field {name} must be true or false.")
            data[name] = payload[name]
    if "sources" in payload:
        data["sources"] = autosave_sources(payload["sources"])
    if "body" in data:
        data["body"] = sanitize_html(html=data["body"])
    return data


def storable(text: str) -> bool:
    """Text a database keeps as it is: PostgreSQL refuses a NUL character and a
    lone surrogate (JSON can carry both as escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def autosave_sources(sources: Any) -> list[dict[str, Any]]:
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise ValueError("The sources must be a list of objects.")
    checked = []
    for source in sources:
        year = source.get("year")
        if year in ("", None):
            year = None
        elif isinstance(year, str) and year.strip().isdigit():
            year = int(year)
        elif type(year) is not int:
            raise ValueError("A source's year must be a number.")
        texts = {k: source.get(k) or "" for k in SOURCE_FIELDS if k != "year"}
        if not all(isinstance(v, str) for v in texts.values()):
            raise ValueError("A source's fields must be text.")
        if not all(storable(v) for v in texts.values()):
            raise ValueError("A source holds a character that cannot be saved.")
        checked.append(source_dict({**texts, "year": year}))
    return checked


def offered_autosave(*, article: Article | None, user) -> Autosave | None:
    """The autosave to offer back: pending, and not just the latest revision
    again (a save that raced with the last autosave)."""
    saved = pending_autosave(article=article, user=user)
    latest = article.latest_revision if article is not None else None
    if (
        saved is not None
        and latest is not None
        and all(latest.data.get(k) == v for k, v in saved.data.items())
    ):
        return None
    return saved
