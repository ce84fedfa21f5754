from django import template
from django.utils.safestring import SafeString

from articles.body import render_body

register = template.Library()


@register.filter
def article_body(html: str, sources=None) -> SafeString:
    """{{ article.body|article_body:sources }}: the body as served, its citations
    linked to `sources` (the list shown under it)."""
    return render_body(html, source_count=len(sources or ()))
