from django import template
from django.utils.safestring import SafeString

from articles.body import render_body

register = template.Library()


@register.filter
def article_body(html: str) -> SafeString:
    return render_body(html)
