"""Signal receivers, connected in ArticlesConfig.ready().

Deletion: articles are deleted one by one from the admin, in bulk by its delete
action, by any queryset.delete() and by cascades, and no single service sees all of
those. Saves go through services.save_article.

The public pages also show topics, authors, the home page's words and corrections,
which the admin saves as plain model forms (and a correction is made inside
publishing): receivers tell the page cache whenever one of those changes, however
it was saved.
"""

from django.db.models.signals import post_delete, post_save

from articles import services
from articles.models import Article, Author, Correction, HomePage, Topic
from articles.publishing import invalidation
from articles.search.engine import remove_article
from core.editor.signals import image_stored
from core.pagecache import content_changed, register_next_change


def article_deleted(sender, instance: Article, **kwargs) -> None:
    remove_article(instance.pk)
    services.forget_article_images(article=instance)
    if instance.status == Article.Status.PUBLISHED:
        invalidation.article_changed(article=instance, reason="article deleted")
        services.enqueue_related_refresh(article=instance)


def editor_image_stored(sender, name: str, **kwargs) -> None:
    # Renditions of an image in an article body are ready before it is published.
    services.enqueue_rendition_changes(before=set(), after={name})


def topic_changed(sender, instance: Topic, **kwargs) -> None:
    content_changed(
        paths=lambda: invalidation.topic_paths(instance) | invalidation.site_paths(),
        reason=f"topic {instance.pk}",
    )


def author_changed(sender, instance: Author, **kwargs) -> None:
    def paths() -> set[str]:
        articles = Article.objects.published().filter(author=instance).only("slug")
        return invalidation.author_paths(instance) | {
            a.get_absolute_url() for a in articles
        }

    content_changed(paths=paths, reason=f"author {instance.pk}")


def home_page_changed(sender, instance: HomePage, **kwargs) -> None:
    content_changed(paths=[instance.get_absolute_url()], reason="home page")


def correction_changed(sender, instance: Correction, **kwargs) -> None:
    article = Article.objects.filter(pk=instance.article_id).first()
    if article is not None:
        invalidation.article_changed(article=article, reason="correction")


def connect() -> None:
    post_delete.connect(
        article_deleted, sender=Article, dispatch_uid="articles_article_deleted"
    )
    image_stored.connect(editor_image_stored, dispatch_uid="articles_image_stored")
    # A scheduled article appears by itself: cached pages last until then.
    register_next_change(invalidation.next_scheduled_publish)
    for signal in (post_save, post_delete):
        name = "saved" if signal is post_save else "deleted"
        signal.connect(topic_changed, sender=Topic, dispatch_uid=f"topic_{name}")
        signal.connect(author_changed, sender=Author, dispatch_uid=f"author_{name}")
        signal.connect(
            home_page_changed, sender=HomePage, dispatch_uid=f"home_page_{name}"
        )
        signal.connect(
            correction_changed, sender=Correction, dispatch_uid=f"correction_{name}"
        )
