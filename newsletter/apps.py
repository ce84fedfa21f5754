from django.apps import AppConfig

from core.calendar.sources import register


class NewsletterConfig(AppConfig):
    name = "newsletter"
    verbose_name = "Newsletter"

    def ready(self) -> None:
        from newsletter import signals
        from newsletter.calendar import IssueSource

        signals.connect()
        register(IssueSource())
