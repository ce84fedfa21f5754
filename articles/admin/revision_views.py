"""Revisions, their comparison and restoring, autosave and share previews: the
admin views ArticleAdmin.get_urls() mounts under each article."""

from django.urls import URLPattern


def urls(model_admin) -> list[URLPattern]:
    """The URL patterns of these views, wrapped by the admin site's login check."""
    return []
