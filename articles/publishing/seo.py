"""Search and sharing metadata: canonical URLs, Open Graph and JSON-LD.

Everything here builds absolute addresses from settings.SITE_URL, never from the
request's host, so a page reached through another name still points search engines
and share previews at the one real address.
"""

import json
from typing import Any

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.safestring import SafeString, mark_safe

from articles.models import Article, Author, Topic
from articles.publishing import corrections
from core.links import absolute

DEFAULT_IMAGE = "img/og-default.png"
DEFAULT_IMAGE_SIZE = (1200, 630)
# The page language, settings.LANGUAGE_CODE, as Open Graph writes it; base.html's
# <html lang="en-US"> and JSON-LD's inLanguage say the same.
OG_LOCALE = "en_US"
# The publisher's logo for search results: square, as Google asks (at least
# 112 pixels), the favicon's mark; not the wide share image.
LOGO_IMAGE = "img/logo.png"
LOGO_SIZE = 512
# Personal links (tokens in the address), and the newsletter's counted links (a
# crawler following them would count clicks): kept out of search engines, no
# canonical.
PRIVATE_PREFIXES = (
    "/newsletter/confirm/",
    "/newsletter/unsubscribe/",
    "/newsletter/data/",
    "/newsletter/c/",
)


def canonical_url(request: HttpRequest | None, page_obj=None) -> str | None:
    """The page's own address on SITE_URL; a later page of a list keeps its number."""
    if request is None or request.path.startswith(PRIVATE_PREFIXES):
        return None
    url = absolute(request.path)
    number = getattr(page_obj, "number", 1)
    if number and number > 1:
        url += f"?page={number}"
    return url


def site_image_url(path: str) -> str:
    """A static image that page metadata names (the share image, the logo), at its
    plain address rather than the hashed one: an address search engines and share
    cards can keep, and one known without the collected files' manifest, so launch
    content is loaded and prepared before collectstatic too. WhiteNoise serves the
    plain names as well."""
    return absolute(settings.STATIC_URL + path)


def default_image_url() -> str:
    return site_image_url(DEFAULT_IMAGE)


def article_image_url(article: Article) -> str | None:
    if article.cover_image:
        return absolute(article.cover_image.url)
    return None


def dump_json_ld(data: dict[str, Any]) -> SafeString:
    """JSON for a <script type="application/ld+json"> element.

    "<", ">" and "&" are escaped as \\u00XX, so no text in the data (a title with
    "</script>" in it) can end the element early.
    """
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    # Safe: escaped above for a script element.
    return mark_safe(text)


def json_ld_element(text: SafeString) -> SafeString:
    """The script element around JSON-LD that dump_json_ld made."""
    # Safe: the content is escaped by dump_json_ld.
    return mark_safe(f'<script type="application/ld+json">{text}</script>')


def json_ld_script(data: dict[str, Any]) -> SafeString:
    return json_ld_element(dump_json_ld(data))


def policy_url() -> str:
    """The editorial policy page: schema.org's publishingPrinciples."""
    return absolute(reverse("articles:editorial_policy"))


def _organization() -> dict[str, Any]:
    return {
        "@type": "Organization",
        "@id": absolute("/#organization"),
        "name": settings.SITE_NAME,
        "url": absolute("/"),
        "logo": {
            "@type": "ImageObject",
            "url": site_image_url(LOGO_IMAGE),
            "width": LOGO_SIZE,
            "height": LOGO_SIZE,
        },
        "publishingPrinciples": policy_url(),
    }


def _byline(author: Author) -> dict[str, Any]:
    """An author or reviewer: a Person, or an Organization for a team byline
    (jobTitle belongs to people only)."""
    if author.kind == Author.Kind.ORGANIZATION:
        return {
            "@type": "Organization",
            "name": author.name,
            "url": absolute(author.get_absolute_url()),
        }
    person: dict[str, Any] = {
        "@type": "Person",
        "name": author.name,
        "url": absolute(author.get_absolute_url()),
    }
    if author.credentials:
        person["jobTitle"] = author.credentials
    return person


def _breadcrumbs(items: list[tuple[str, str]]) -> dict[str, Any]:
    return {
        "@type": "BreadcrumbList",
        "itemListElement": [
            {
                "@type": "ListItem",
                "position": position,
                "name": name,
                "item": absolute(url),
            }
            for position, (name, url) in enumerate(items, start=1)
        ],
    }


def article_breadcrumbs(article: Article) -> dict[str, Any]:
    return _breadcrumbs(
        [
            ("Home", reverse("articles:home")),
            (article.topic.name, article.topic.get_absolute_url()),
            (article.title, article.get_absolute_url()),
        ]
    )


def topic_breadcrumbs(topic: Topic) -> dict[str, Any]:
    return _breadcrumbs(
        [
            ("Home", reverse("articles:home")),
            ("Topics", reverse("articles:topics")),
            (topic.name, topic.get_absolute_url()),
        ]
    )


def article_json_ld(article: Article) -> dict[str, Any]:
    """A MedicalWebPage about its Article, and the page's breadcrumbs.

    reviewedBy and lastReviewed appear only when a medical review is recorded
    (the workflow records one only for the approved live version): claiming one
    that did not happen would mislead readers and search engines. Corrections are
    the Article's `correction`, oldest first.
    """
    url = absolute(article.get_absolute_url())
    modified = article.content_updated_at or article.published_at
    article_data: dict[str, Any] = {
        "@type": "Article",
        "@id": f"{url}#article",
        "headline": article.title[:110],
        "description": article.meta_description,
        "author": _byline(article.author),
        "publisher": _organization(),
        "mainEntityOfPage": {"@id": url},
        "articleSection": article.topic.name,
    }
    if article.published_at:
        article_data["datePublished"] = article.published_at.isoformat()
    if modified:
        article_data["dateModified"] = modified.isoformat()
    # Google requires an image on every Article: the site's share image stands in
    # for a missing cover.
    article_data["image"] = article_image_url(article) or default_image_url()
    found = corrections.for_article(article)
    if found:
        article_data["correction"] = [
            {
                "@type": "CorrectionComment",
                "text": correction.text,
                "datePublished": correction.published_at.isoformat(),
            }
            for correction in found
        ]
    page: dict[str, Any] = {
        "@type": "MedicalWebPage",
        "@id": url,
        "url": url,
        "name": article.meta_title,
        "description": article.meta_description,
        "inLanguage": "en-US",
        "mainEntity": {"@id": f"{url}#article"},
        # A medical topic is a condition readers look up (keratosis pilaris, acne);
        # any other topic is a plain subject.
        "about": {
            "@type": "MedicalCondition" if article.topic.medical else "Thing",
            "name": article.topic.name,
        },
        "publisher": {"@id": _organization()["@id"]},
        "publishingPrinciples": policy_url(),
        "breadcrumb": {"@id": f"{url}#breadcrumb"},
    }
    if modified:
        page["dateModified"] = modified.isoformat()
    if article.reviewer_id and article.reviewer and article.reviewed_at:
        # The reviewer as the approval names them.
        reviewed_by = _byline(article.reviewer)
        reviewed_by["name"] = article.reviewer_name or article.reviewer.name
        reviewed_by.pop("jobTitle", None)
        if article.reviewer_credentials and reviewed_by["@type"] == "Person":
            reviewed_by["jobTitle"] = article.reviewer_credentials
        page["reviewedBy"] = reviewed_by
        page["lastReviewed"] = article.reviewed_at.isoformat()
    breadcrumbs = article_breadcrumbs(article)
    breadcrumbs["@id"] = f"{url}#breadcrumb"
    return {
        "@context": "https://schema.org",
        "@graph": [page, article_data, breadcrumbs],
    }


def topic_json_ld(topic: Topic) -> dict[str, Any]:
    return {"@context": "https://schema.org", **topic_breadcrumbs(topic)}


def website_json_ld() -> dict[str, Any]:
    return {
        "@context": "https://schema.org",
        "@type": "WebSite",
        "@id": absolute("/#website"),
        "name": settings.SITE_NAME,
        "url": absolute("/"),
        "publisher": _organization(),
        "potentialAction": {
            "@type": "SearchAction",
            "target": f"{settings.SITE_URL}/search/?q={{search_term_string}}",
            "query-input": "required name=search_term_string",
        },
    }


def robots_txt(request: HttpRequest) -> HttpResponse:
    text = render_to_string(
        "robots.txt",
        {"site_url": settings.SITE_URL, "disallow": ["/admin/", *PRIVATE_PREFIXES]},
    )
    return HttpResponse(text, content_type="text/plain; charset=utf-8")
