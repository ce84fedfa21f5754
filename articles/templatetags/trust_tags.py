"""Template helpers for the article page's trust features
(articles/publishing/trust.py) and
the editorial policy page. The article page itself reads its parts from
pages.ArticlePage (the view's `article_page`)."""

from django import template
from django.utils.safestring import SafeString

from articles.models import EVIDENCE_EXPLAINED, Evidence
from articles.publishing import body, trust

register = template.Library()


# Ids of the policy page's own sections (its evidence and medical review
# explanations): a heading in the policy's text never takes them.
POLICY_SECTION_IDS = frozenset({"evidence", "medical-review"})


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
