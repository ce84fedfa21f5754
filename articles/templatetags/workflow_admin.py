"""Template helpers for the articles admin: the change page's workflow panel and
history (articles/admin/workflow_views.py), the editorial dashboard on the admin
home (articles/admin/dashboard.py), and its call to make one's author profile
(articles/admin/author_profile.py)."""

from django import template

from articles.admin import author_profile, dashboard, workflow_views
from articles.models import Article

register = template.Library()


@register.simple_tag
def workflow_panel(article: Article, user) -> workflow_views.Panel:
    return workflow_views.panel(article, user)


@register.simple_tag
def workflow_history(article: Article) -> workflow_views.History:
    return workflow_views.history(article)


@register.simple_tag
def editorial_dashboard(user) -> dashboard.Dashboard:
    return dashboard.for_user(user)


@register.simple_tag
def needs_author_profile(user) -> bool:
    return author_profile.needs_author_profile(user)
