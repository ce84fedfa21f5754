"""Template helpers for the article page's trust features (articles/trust.py)."""

from django import template

from articles import body, trust

register = template.Library()


# Fewer headings than this: no table of contents.
TOC_MIN_HEADINGS = 2


@register.filter
def table_of_contents(html: str) -> list[body.Heading]:
    """The body's outline when it has at least two h2/h3 headings, else []."""
    if body.heading_count(html) < TOC_MIN_HEADINGS:
        return []
    return body.body_outline(html)


@register.filter
def reading_minutes(html: str) -> int:
    return trust.reading_minutes(html)


@register.simple_tag
def related_articles(article) -> list:
    return trust.related_articles(article)


@register.filter
def web_url(url: str) -> str:
    return trust.web_url(url)


@register.filter
def doi_url(doi: str) -> str:
    return trust.doi_url(doi)


@register.filter
def pubmed_url(pmid: str) -> str:
    return trust.pubmed_url(pmid)
