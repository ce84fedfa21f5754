from django.apps import AppConfig


class CoreConfig(AppConfig):
    """Pieces both apps use: sanitising, slugs, links, images, emails, the editor.

    Nothing here imports `articles` or `newsletter` (tests/test_skincare_imports.py).
    """

    name = "core"
    verbose_name = "Shared"
