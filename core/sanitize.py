"""The one HTML allow-list: every rich-text field is reduced to it on save."""

import nh3
from django.conf import settings

from core.media import media_name, media_url

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


def _own_media_src(value: str) -> str | None:
    """Our own images only, kept at the site's own address (core/media.py): one
    given at the storage's address (the editor's file browser, with a bucket or
    CDN) is stored at ours."""
    name = media_name(value)
    if name is None:
        return None
    return value if value.startswith(settings.MEDIA_URL) else media_url(name)


def _filter_attribute(tag: str, attribute: str, value: str) -> str | None:
    if tag == "img" and attribute == "src":
        return _own_media_src(value)
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
