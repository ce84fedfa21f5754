"""The dashboard's "Source problems" queue (articles/admin/sources.py)."""

from django import template

from articles.admin import sources

register = template.Library()


@register.inclusion_tag("admin/articles/sourcetarget/dashboard_problems.html")
def source_problems(user, csrf_token: str = "") -> dict:
    return {"queue": sources.queue_for(user), "csrf_token": csrf_token}
