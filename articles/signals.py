"""Signal receivers, connected in ArticlesConfig.ready().

Deletion only: articles are deleted one by one from the admin, in bulk by its
delete action, by any queryset.delete() and by cascades, and no single service sees
all of those. Saves go through services.save_article.
"""

from django.db.models.signals import post_delete

from articles import search, services
from articles.models import Article
from core.editor.signals import image_stored


def article_deleted(sender, instance: Article, **kwargs) -> None:
    search.remove_article(instance.pk)
    services.forget_article_images(article=instance)
    if instance.status == Article.Status.PUBLISHED:
        services.enqueue_related_refresh(article=instance)


def editor_image_stored(sender, name: str, **kwargs) -> None:
    # Renditions of an image in an article body are ready before it is published.
    services.enqueue_rendition_changes(before=set(), after={name})


def connect() -> None:
    post_delete.connect(
        article_deleted, sender=Article, dispatch_uid="articles_article_deleted"
    )
    image_stored.connect(editor_image_stored, dispatch_uid="articles_image_stored")
