from django.apps import AppConfig

from core.calendar.sources import register


class ArticlesConfig(AppConfig):
    name = "articles"
    verbose_name = "Articles"

    def ready(self) -> None:
        from articles import signals
        from articles.calendar import ArticleSource, IdeaSource

        signals.connect()
        register(ArticleSource())
        register(IdeaSource())
