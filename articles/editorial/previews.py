"""Share previews: signed links for an outside reviewer to an article's latest
revision, checked on every use (the public view is in articles/web/)."""

from datetime import timedelta

from django.core import signing
from django.utils import timezone

from articles.editorial import revisions
from articles.editorial.permissions import Action, check, refusal
from articles.errors import WorkflowError
from articles.models import (
    Article,
    PreviewLink,
)

PREVIEW_SALT = "articles.preview-link"
PREVIEW_DAYS_DEFAULT = 7
PREVIEW_DAYS_MAX = 30


# Share previews --------------------------------------------------------------------


def create_preview_link(
    *, article: Article, user, days: int = PREVIEW_DAYS_DEFAULT
) -> tuple[PreviewLink, str]:
    """A link for an outside reviewer to the latest revision: the link and its
    signed token (the token is not stored)."""
    check(user, Action.SHARE_PREVIEW, article)
    if not 1 <= days <= PREVIEW_DAYS_MAX:
        raise WorkflowError(f"A preview link lasts 1 to {PREVIEW_DAYS_MAX} days.")
    link = PreviewLink.objects.create(
        revision=revisions.latest(article, user=user),
        created_by=user,
        expires_at=timezone.now() + timedelta(days=days),
    )
    return link, signing.dumps(link.pk, salt=PREVIEW_SALT)


def revoke_preview_link(*, link: PreviewLink, user) -> PreviewLink:
    check(user, Action.SHARE_PREVIEW, link.revision.article)
    if link.revoked_at is None:
        link.revoked_at = timezone.now()
        link.save(update_fields=["revoked_at"])
    return link


def preview_link_for(token: str) -> PreviewLink | None:
    """The working link a token names, or None (forged, expired, revoked, or its
    maker may no longer make links)."""
    try:
        pk = signing.loads(
            token, salt=PREVIEW_SALT, max_age=timedelta(days=PREVIEW_DAYS_MAX)
        )
    except signing.BadSignature:
        return None
    link = (
        PreviewLink.objects.select_related("revision__article", "created_by")
        .filter(pk=pk)
        .first()
    )
    return link if link is not None and preview_link_works(link) else None


def preview_link_works(link: PreviewLink) -> bool:
    """Whether the link opens its preview now: neither revoked nor expired, and
    its maker may still make share links.

    The maker's right is read on every use rather than copied into the link, so
    the link stops at once when its maker is deactivated, deleted, or loses staff
    status, the Editor role or the permission, whichever way it was taken; and
    works again if the right is given back before it expires. Revoking it ends it
    for good."""
    maker = link.created_by
    return (
        link.is_active
        and maker is not None
        and not refusal(maker, Action.SHARE_PREVIEW, link.revision.article)
    )
