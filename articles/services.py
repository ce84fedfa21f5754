"""Writes with side effects for articles: sanitising, saving, publishing, uploads."""

import io
from datetime import datetime
from pathlib import PurePosixPath
from urllib.parse import unquote, urlsplit

import nh3
from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.utils import timezone
from PIL import Image, ImageOps

from articles import renditions
from articles.images import check_image, random_image_name
from articles.models import Article, ArticleRedirect, Author
from articles.search import index_article
from skincare.slugs import unique_slug

ALLOWED_TAGS = {
    "h2", "h3", "h4", "p", "br", "hr",
    "ul", "ol", "li",
    "a", "strong", "b", "em", "i", "u", "s", "sub", "sup", "code", "pre",
    "blockquote", "figure", "figcaption", "img",
    "table", "caption", "thead", "tbody", "tfoot", "tr", "th", "td",
}  # fmt: skip
ALLOWED_ATTRIBUTES = {
    "a": {"href", "title"},
    "img": {"src", "alt", "width", "height"},
    "ol": {"start"},
    "th": {"colspan", "rowspan", "scope"},
    "td": {"colspan", "rowspan"},
}
# Dropped together with everything inside them, not just unwrapped.
DROP_WITH_CONTENT = {"script", "style", "iframe", "object", "embed", "template", "svg"}
URL_SCHEMES = {"http", "https", "mailto"}


def _is_own_media_url(value: str) -> bool:
    parts = urlsplit(value)
    return (
        not parts.scheme
        and not parts.netloc
        and parts.path.startswith(settings.MEDIA_URL)
        # Browsers also read %2e as a dot: "/media/%2e%2e/admin/" leaves /media/.
        and ".." not in unquote(parts.path)
        and "\\" not in value
    )


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return value if _is_own_media_url(value) else None
    if attribute in {"width", "height", "colspan", "rowspan", "start"}:
        return value if value.isdigit() and len(value) <= 5 else None
    return value


def sanitize_html(*, html: str) -> str:
    """Reduce editor HTML to the article allow-list.

    CKEditor 4 has unfixed XSS advisories, so nothing it sends is trusted: this runs
    on every save of an HTML field, whichever editor or import produced it.
    """
    return nh3.clean(
        html or "",
        tags=ALLOWED_TAGS,
        clean_content_tags=DROP_WITH_CONTENT,
        attributes=ALLOWED_ATTRIBUTES,
        attribute_filter=_filter_attribute,
        url_schemes=URL_SCHEMES,
        link_rel="noopener noreferrer",
        strip_comments=True,
    ).strip()


def unique_article_slug(*, title: str, exclude_pk: int | None = None) -> str:
    return unique_slug(
        queryset=Article.objects.exclude(pk=exclude_pk),
        text=title,
        max_length=Article._meta.get_field("slug").max_length,
        fallback="article",
    )


CONTENT_FIELDS = ("title", "summary", "body")


def save_article(*, article: Article) -> Article:
    """Save an article the way every path must: sanitised, slugged, publish rules.

    Also keeps what depends on the saved content in step: the old address of a
    published article keeps working (a permanent redirect), and "last updated"
    moves only when the content changes after publishing.
    """
    article.body = sanitize_html(html=article.body)
    if not article.slug:
        article.slug = unique_article_slug(title=article.title, exclude_pk=article.pk)
    if article.status == Article.Status.PUBLISHED and article.published_at is None:
        article.published_at = timezone.now()
    article.full_clean()
    before = Article.objects.filter(pk=article.pk).first() if article.pk else None
    with transaction.atomic():
        if before is not None and before.is_live:
            if any(getattr(before, f) != getattr(article, f) for f in CONTENT_FIELDS):
                article.content_updated_at = timezone.now()
            if before.slug != article.slug:
                ArticleRedirect.objects.update_or_create(
                    old_slug=before.slug, defaults={"article": article}
                )
        # A slug taken back by its article no longer redirects anywhere.
        ArticleRedirect.objects.filter(old_slug=article.slug).delete()
        article.save()
        index_article(article)
        renditions.enqueue_changes(
            before=renditions.article_sources(before) if before else set(),
            after=renditions.article_sources(article),
        )
    return article


def save_author(*, author: Author) -> Author:
    """Save an author; a new photo gets its renditions made (after the commit)."""
    before = Author.objects.filter(pk=author.pk).first() if author.pk else None
    with transaction.atomic():
        author.save()
        renditions.enqueue_changes(
            before={before.photo.name} - {""} if before else set(),
            after={author.photo.name} - {""},
        )
    return author


def publish_article(*, article: Article, at: datetime | None = None) -> Article:
    """Publish now, or at a future time (scheduling). Keeps an existing time."""
    article.status = Article.Status.PUBLISHED
    if at is not None:
        article.published_at = at
    return save_article(article=article)


def unpublish_article(*, article: Article) -> Article:
    article.status = Article.Status.DRAFT
    return save_article(article=article)


def _reencode(upload: UploadedFile, image_format: str) -> bytes:
    """Decode and encode again: drops metadata and anything appended to the file."""
    upload.seek(0)
    # Pillow copies a GIF or JPEG comment into the new file unless given one, and a
    # comment can carry a script (image/HTML polyglots): give it an empty one.
    with Image.open(upload) as image:
        output = io.BytesIO()
        if image_format == "GIF" and getattr(image, "is_animated", False):
            image.save(output, format="GIF", save_all=True, optimize=True, comment=b"")
        else:
            oriented = ImageOps.exif_transpose(image)
            if image_format == "JPEG" and oriented.mode not in {"RGB", "L"}:
                oriented = oriented.convert("RGB")
            options = {"JPEG": {"quality": 85, "optimize": True, "progressive": True}}
            extra = options.get(image_format, {})
            oriented.save(output, format=image_format, comment=b"", **extra)
    return output.getvalue()


def store_editor_image(*, upload: UploadedFile, user: AbstractBaseUser) -> str:
    """Check and store an image uploaded from the editor; return its media URL.

    Raises ValidationError, storing nothing, when the upload is not an acceptable
    image. Files go to a per-user folder (CKEDITOR_RESTRICT_BY_USER) under a random
    name, re-encoded by Pillow, with a small thumbnail for the editor's browser.
    """
    checked = check_image(upload)
    name = random_image_name(PurePosixPath(upload.name).stem + "." + checked.extension)
    folder = f"{settings.CKEDITOR_UPLOAD_PATH.rstrip('/')}/{user.pk}"
    path = default_storage.save(
        f"{folder}/{timezone.now():%Y/%m/%d}/{name}",
        ContentFile(_reencode(upload, checked.format)),
    )
    with default_storage.open(path) as stored, Image.open(stored) as image:
        image.thumbnail((150, 150))
        if checked.format == "JPEG" and image.mode not in {"RGB", "L"}:
            image = image.convert("RGB")
        thumb = io.BytesIO()
        image.save(thumb, format=checked.format)
    stem = PurePosixPath(path)
    default_storage.save(
        str(stem.with_name(f"{stem.stem}_thumb{stem.suffix}")),
        ContentFile(thumb.getvalue()),
    )
    renditions.enqueue_changes(before=set(), after={path})
    return default_storage.url(path)
