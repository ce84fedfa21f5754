"""The article change form's autosave and revisions panel
(admin/articles/article/includes/autosave.html)."""

from django import template

from articles.admin.revision_views import autosave_context

register = template.Library()


@register.simple_tag(takes_context=True)
def autosave_panel(context, article) -> dict:
    """Autosave's URLs and state, and the autosave to offer back, for the page's
    user; `article` is None on the add page."""
    return autosave_context(context["request"], article)
