"""Responsive images: resized copies of uploaded images, and the markup using them.

Renditions are made once, in a background task (articles/tasks.py), never while a
page is served: each uploaded image (cover, author photo, image in an article body)
gets a few widths, never wider than the original, in AVIF (when this Pillow can
write it), WebP and a JPEG fallback (PNG when the source has transparency). Each is
stored under renditions/ in the media storage, named after the source, and
recorded in ImageRendition. Pages look up the renditions of all their images in one
query (page_renditions) and render <picture> markup (includes/picture.html); an
image without renditions yet is shown as a plain <img>.
"""

import contextvars
import html as html_lib
import io
import math
import re
from collections import defaultdict
from collections.abc import Iterable
from pathlib import PurePosixPath

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.db.models.query import QuerySet
from django.template.loader import render_to_string
from PIL import Image, ImageOps, features

from articles.models import Article, Author, ImageRendition
from core.media import media_name, media_url, served_elsewhere, stored_url

WIDTHS = (480, 800, 1200, 1600)
FOLDER = "renditions"
AVIF_SUPPORTED = features.check("avif")
MIME_TYPES = {"AVIF": "image/avif", "WEBP": "image/webp"}
EXTENSIONS = {"AVIF": "avif", "WEBP": "webp", "JPEG": "jpg", "PNG": "png"}
SAVE_OPTIONS = {
    "AVIF": {"quality": 55, "speed": 8},
    "WEBP": {"quality": 80, "method": 4},
    "JPEG": {"quality": 82, "optimize": True, "progressive": True},
    "PNG": {"optimize": True},
}
# The `sizes` attribute per place on the site (see static/css/site.css: pages are
# at most 72rem wide with 1.25rem padding; the article column is 42rem).
SIZES = {
    "cover": "(min-width: 60rem) 57.5rem, calc(100vw - 2.5rem)",
    "body": "(min-width: 44.5rem) 42rem, calc(100vw - 2.5rem)",
    # Cards are lazy, so browsers that can use their laid-out width ("auto"); the
    # others assume the widest card (a full-width list) rather than a blurry one.
    "card": "auto, (min-width: 72rem) 69.5rem, calc(100vw - 2.5rem)",
    "author": "10rem",
}


# Making renditions ----------------------------------------------------------------


def target_widths(width: int) -> list[int]:
    """The widths to make for an image this wide: never wider than the original,
    which is itself included when it is narrower than the largest width."""
    widths = [w for w in WIDTHS if w < width]
    if width <= WIDTHS[-1]:
        widths.append(width)
    return widths


def output_formats(*, transparent: bool) -> list[str]:
    fallback = "PNG" if transparent else "JPEG"
    return [*(["AVIF"] if AVIF_SUPPORTED else []), "WEBP", fallback]


def rendition_name(source: str, width: int, image_format: str) -> str:
    path = PurePosixPath(source)
    stem = path.with_suffix("").as_posix()
    return f"{FOLDER}/{stem}-{width}w.{EXTENSIONS[image_format]}"


def _has_transparency(image: Image.Image) -> bool:
    if image.mode in {"RGBA", "LA", "PA"}:
        return image.getextrema()[-1][0] < 255
    return image.mode == "P" and "transparency" in image.info


def _complete(existing: set[tuple[int, str]], width: int) -> bool:
    # Which fallback a source gets (JPEG or PNG) is known only once it is decoded.
    fallback = (width, "JPEG") in existing or (width, "PNG") in existing
    avif = not AVIF_SUPPORTED or (width, "AVIF") in existing
    return fallback and avif and (width, "WEBP") in existing


def _displayed_size(image: Image.Image) -> tuple[int, int]:
    """The size once EXIF orientation is applied (5-8 turn the image a quarter)."""
    orientation = image.getexif().get(0x0112, 1)
    width, height = image.size
    return (height, width) if orientation in {5, 6, 7, 8} else (width, height)


def make_renditions(source: str) -> int:
    """Make the missing renditions of one stored image; return how many were made.

    Idempotent: renditions already recorded are skipped, so a killed run can simply
    run again. A missing source or an animated GIF makes none.
    """
    if not source or not default_storage.exists(source):
        return 0
    with default_storage.open(source) as stored, Image.open(stored) as image:
        if getattr(image, "is_animated", False):
            return 0  # A resized still would lose the animation.
        display_width, display_height = _displayed_size(image)
        widths = target_widths(display_width)
        existing = set(
            ImageRendition.objects.filter(source=source).values_list("width", "format")
        )
        if all(_complete(existing, width) for width in widths):
            return 0
        if image.format == "JPEG":
            # Decode only as much as the largest rendition needs (DCT scaling).
            scale = widths[-1] / display_width
            stored_w, stored_h = image.size
            image.draft(
                "RGB", (math.ceil(stored_w * scale), math.ceil(stored_h * scale))
            )
        image.load()
        oriented = ImageOps.exif_transpose(image)
        transparent = _has_transparency(oriented)
        icc_profile = image.info.get("icc_profile")
        oriented = oriented.convert("RGBA" if transparent else "RGB")
        oriented.info = {}  # Strip EXIF, XMP, comments and the like.
        made = 0
        for width in widths:
            height = max(1, round(width * display_height / display_width))
            resized = oriented.resize(
                (width, height), Image.Resampling.LANCZOS, reducing_gap=3.0
            )
            for image_format in output_formats(transparent=transparent):
                if (width, image_format) in existing:
                    continue
                made += _store(
                    source, resized, width, height, image_format, icc_profile
                )
        return made


def _store(source, image, width, height, image_format, icc_profile) -> int:
    output = io.BytesIO()
    options = dict(SAVE_OPTIONS[image_format])
    if icc_profile:  # Colour, not metadata: without it wide-gamut photos look dull.
        options["icc_profile"] = icc_profile
    image.save(output, format=image_format, **options)
    name = rendition_name(source, width, image_format)
    # A run killed between writing a file and its row leaves the file: replace it.
    if default_storage.exists(name):
        default_storage.delete(name)
    stored = default_storage.save(name, ContentFile(output.getvalue()))
    try:
        with transaction.atomic():
            ImageRendition.objects.create(
                source=source,
                width=width,
                height=height,
                format=image_format,
                file=stored,
            )
    except IntegrityError:  # Another run made it meanwhile; keep theirs.
        if stored != name:
            default_storage.delete(stored)
        return 0
    return 1


def delete_renditions(source: str) -> int:
    """Delete the renditions of a source, files and rows; return how many."""
    renditions = list(ImageRendition.objects.filter(source=source))
    for rendition in renditions:
        default_storage.delete(rendition.file)
    ImageRendition.objects.filter(pk__in=[r.pk for r in renditions]).delete()
    return len(renditions)


def showing(source: str) -> Q:
    """Articles showing a stored image, as their cover or in their body (bodies
    keep the site's own address of an image, whatever the storage)."""
    return Q(cover_image=source) | Q(body__contains=media_url(source))


def is_referenced(source: str) -> bool:
    """Whether any cover, author photo or article body still uses this image."""
    if not source:
        return False
    if Author.objects.filter(photo=source).exists():
        return True
    return Article.objects.filter(showing(source)).exists()


def forget_renditions(source: str) -> int:
    """Delete the renditions of an image nothing uses any more."""
    if is_referenced(source):
        return 0
    return delete_renditions(source)


def all_sources() -> list[str]:
    """Every stored image the site shows: covers, author photos, body images."""
    sources = set(
        Article.objects.exclude(cover_image="").values_list("cover_image", flat=True)
    )
    sources |= set(Author.objects.exclude(photo="").values_list("photo", flat=True))
    bodies = Article.objects.filter(body__contains="<img").values_list(
        "body", flat=True
    )
    for body in bodies.iterator():
        sources.update(body_sources(body))
    return sorted(sources)


def article_sources(article: Article) -> set[str]:
    """The images an article shows itself: its cover and its body images."""
    cover = _image_name(article.cover_image)
    return {*body_sources(article.body), *([cover] if cover else [])}


# Looking renditions up --------------------------------------------------------------

IMG_TAG = re.compile(r"<img\b[^>]*>", re.IGNORECASE)
ATTRIBUTE = re.compile(r'([a-zA-Z-]+)="([^"]*)"')


def url_to_source(url: str) -> str | None:
    """The storage name of one of our uploaded images from its URL, or None for
    anything else (renditions included)."""
    name = media_name(url)
    if not name or name.startswith(f"{FOLDER}/"):
        return None
    return name


def body_sources(html: str) -> list[str]:
    """The storage names of the images in an article body (sanitised HTML)."""
    sources = []
    for tag in IMG_TAG.findall(html or ""):
        attributes = dict(ATTRIBUTE.findall(tag))
        source = url_to_source(html_lib.unescape(attributes.get("src", "")))
        if source:
            sources.append(source)
    return sources


def lookup(sources: Iterable[str]) -> dict[str, list[ImageRendition]]:
    """The renditions of these sources, in one query (none when there are none)."""
    sources = {s for s in sources if s}
    found: dict[str, list[ImageRendition]] = defaultdict(list)
    if sources:
        rows = ImageRendition.objects.filter(source__in=sources).order_by("width")
        for rendition in rows:
            found[rendition.source].append(rendition)
    return dict(found)


def _image_name(value) -> str:
    return getattr(value, "name", value) or ""


def _article_sources(article: Article) -> list[str]:
    # Only fields already loaded: collecting never queries (deferred fields).
    sources = [_image_name(article.__dict__.get("cover_image"))]
    if Article.author.is_cached(article):
        sources.append(_image_name(article.author.photo))
    if "body" in article.__dict__:
        sources.extend(body_sources(article.body))
    return sources


def _sources_in(value) -> list[str]:
    if isinstance(value, Article):
        return _article_sources(value)
    if isinstance(value, Author):
        return [_image_name(value.photo)]
    if isinstance(value, QuerySet):
        # Only what the page has loaded already: never a query of its own.
        value = value._result_cache or []
    if isinstance(value, list | tuple):
        return [s for item in value for s in _sources_in(item) if s]
    return []


# The body of the article a page prefetched renditions for, with them, so the body
# filter (articles/publishing/body.py) uses the same single query. Matched by identity:
# the very string of that model instance, never a later request's.
_prefetched_body: contextvars.ContextVar = contextvars.ContextVar(
    "prefetched_body", default=None
)


class _PageRenditions:
    def __init__(self):
        self.looked_up: set[str] = set()
        self.found: dict[str, list[ImageRendition]] = {}


def page_renditions(context, source: str) -> list[ImageRendition]:
    """The renditions of an image on the page being rendered.

    The first call looks up every image in the template context at once (articles
    with their cover, author photo and, when loaded, body images; authors; lists of
    them), in one query, kept on the context for the rest of the page. An image
    found later (a list the page loads further down) costs one more query for all
    of that list.
    """
    page = getattr(context, "_page_renditions", None)
    if page is None:
        page = context._page_renditions = _PageRenditions()
    if source not in page.looked_up:
        sources = {source}
        bodies = []
        for value in context.flatten().values():
            sources.update(s for s in _sources_in(value) if s)
            if isinstance(value, Article) and "body" in value.__dict__:
                bodies.append(value.body)
        sources -= page.looked_up
        page.found.update(lookup(sources))
        page.looked_up |= sources
        if bodies:
            _prefetched_body.set((bodies[0], page.found))
    return page.found.get(source, [])


def body_renditions(html: str) -> dict[str, list[ImageRendition]]:
    """The renditions for a body's images: those the page prefetched, else a query."""
    prefetched = _prefetched_body.get()
    if prefetched is not None and prefetched[0] is html:
        _prefetched_body.set(None)
        return prefetched[1]
    return lookup(body_sources(html))


# Markup ---------------------------------------------------------------------------


def picture_context(
    *,
    src: str,
    renditions: list[ImageRendition],
    alt: str,
    width: int | None,
    height: int | None,
    sizes: str,
    lazy: bool = True,
    priority: bool = False,
    css_class: str = "",
) -> dict:
    by_format: dict[str, list[ImageRendition]] = defaultdict(list)
    for rendition in sorted(renditions, key=lambda r: r.width):
        by_format[rendition.format].append(rendition)
    fallback = by_format.get("JPEG") or by_format.get("PNG") or []
    if renditions and fallback and (not width or not height):
        width, height = fallback[-1].width, fallback[-1].height

    def srcset(items):
        return ", ".join(f"{stored_url(r.file)} {r.width}w" for r in items)

    sources = [
        {"type": MIME_TYPES[f], "srcset": srcset(by_format[f])}
        for f in ("AVIF", "WEBP")
        if by_format.get(f)
    ]
    return {
        # Browsers that read srcset never fetch src with it (width descriptors):
        # the original stays the image's address, for the rest and for crawlers.
        "src": src,
        "srcset": srcset(fallback),
        "sources": sources if fallback else [],
        "sizes": SIZES.get(sizes, sizes),
        # The checkers take "auto" only on a lazy <img>, so a <source> carries the
        # media conditions alone (the widest-card fallback for its formats).
        "source_sizes": source_sizes(SIZES.get(sizes, sizes)),
        "alt": alt,
        "width": width,
        "height": height,
        "lazy": lazy and not priority,
        "priority": priority,
        "css_class": css_class,
    }


def source_sizes(sizes: str) -> str:
    return sizes.removeprefix("auto, ")


def render_picture(**kwargs) -> str:
    return render_to_string("includes/picture.html", picture_context(**kwargs))


def body_sizes(width: int) -> str:
    """Body images are shown at most as wide as they are (img max-width: 100%)."""
    column = 42 * 16  # px: the article column (--measure).
    if width >= column:
        return SIZES["body"]
    return f"(min-width: {width + 40}px) {width}px, calc(100vw - 2.5rem)"


SRC = re.compile(r'\ssrc="[^"]*"')


def add_pictures(
    html: str, found: dict[str, list[ImageRendition]] | None = None
) -> str:
    """Body step: each of our images becomes <picture> markup using its renditions
    (lazy-loaded); images without renditions yet stay as they are, fetched from
    where media is stored (bodies keep the site's own address, core/media.py).
    `found`: the renditions, looked up by the caller; else body_renditions."""
    if "<img" not in html:
        return html
    if found is None:
        found = body_renditions(html)
    elsewhere = served_elsewhere()
    if not found and not elsewhere:
        return html

    def replace(match: re.Match) -> str:
        attributes = {
            k.lower(): html_lib.unescape(v) for k, v in ATTRIBUTE.findall(match[0])
        }
        source = url_to_source(attributes.get("src", ""))
        if not source:
            return match[0]
        src = stored_url(source) if elsewhere else attributes["src"]
        renditions = found.get(source)
        if not renditions:
            if not elsewhere:
                return match[0]
            quoted = html_lib.escape(src)
            return SRC.sub(lambda _: f' src="{quoted}"', match[0], count=1)
        width, height = attributes.get("width", ""), attributes.get("height", "")
        # The editor's own width and height (both given) are the intended size.
        keep = width.isdigit() and height.isdigit()
        shown = int(width) if keep else max(r.width for r in renditions)
        return render_picture(
            src=src,
            renditions=renditions,
            alt=attributes.get("alt", ""),
            width=int(width) if keep else None,
            height=int(height) if keep else None,
            sizes=body_sizes(shown),
        ).strip()

    return IMG_TAG.sub(replace, html)
