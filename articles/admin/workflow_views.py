"""The workflow actions (submit, approve, request changes, publish, unpublish,
assign a reviewer) as admin POST views under each article."""

from django.urls import URLPattern


def urls(model_admin) -> list[URLPattern]:
    """The URL patterns of these views, wrapped by the admin site's login check."""
    return []
