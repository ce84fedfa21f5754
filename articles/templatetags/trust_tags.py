"""Template helpers for the article page's trust features (articles/trust.py)."""

from dataclasses import dataclass
from typing import Any

from django import template
from django.utils.safestring import SafeString

from articles import body, corrections, trust
from articles.models import EVIDENCE_EXPLAINED, Article, Evidence

register = template.Library()


# Fewer headings than this: no table of contents.
TOC_MIN_HEADINGS = 2
# Ids of the policy page's own sections (its evidence and medical review
# explanations): a heading in the policy's text never takes them.
POLICY_SECTION_IDS = frozenset({"evidence", "medical-review"})


@dataclass(frozen=True)
class NumberedSource:
    number: int
    source: Any
    # The id of the source's first citation in the body; empty when not cited.
    first_citation: str


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


@register.simple_tag
def article_sources(article: Article) -> list:
    """The sources shown under the article, in order: its Reference rows, or the
    sources of the revision it was made from (a preview of a draft revision)."""
    if hasattr(article, "revision_sources"):
        return list(article.revision_sources)
    return list(article.references.all()) if article.pk else []


@register.simple_tag
def numbered_sources(html: str, sources: list) -> list[NumberedSource]:
    """The sources numbered from 1, each with the id of its first citation in the
    body (for a link back to the text)."""
    first = body.first_citations(html, len(sources))
    return [
        NumberedSource(number=n, source=source, first_citation=first.get(n, ""))
        for n, source in enumerate(sources, start=1)
    ]


@register.simple_tag
def article_corrections(article: Article) -> list[corrections.PublicCorrection]:
    return corrections.for_article(article)


@register.simple_tag
def evidence_labels() -> list[tuple[str, str, str]]:
    """(value, label, meaning) of every evidence label, strongest first."""
    return [(e.value, e.label, EVIDENCE_EXPLAINED[e]) for e in Evidence]


@register.filter
def policy_body(html: str) -> SafeString:
    return body.render_body(html, reserved=POLICY_SECTION_IDS)


@register.filter
def policy_outline(html: str) -> list[body.Heading]:
    return body.body_outline(html, reserved=POLICY_SECTION_IDS)


@register.filter
def web_url(url: str) -> str:
    return trust.web_url(url)


@register.filter
def doi_url(doi: str) -> str:
    return trust.doi_url(doi)


@register.filter
def pubmed_url(pmid: str) -> str:
    return trust.pubmed_url(pmid)
