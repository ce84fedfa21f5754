from django.apps import AppConfig
from django.core import checks

from core.checks import check_dkim, check_retention, check_sender, check_worker


class CoreConfig(AppConfig):
    """Pieces both apps use: sanitising, slugs, links, images, emails, the editor.

    Nothing here imports `articles` or `newsletter` (tests/skincare/test_imports.py).
    """

    name = "core"
    verbose_name = "Shared"

    def ready(self) -> None:
        checks.register(check_sender, checks.Tags.security)
        checks.register(check_dkim, checks.Tags.security)
        checks.register(check_worker)
        checks.register(check_retention)
