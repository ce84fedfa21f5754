"""Read queries more than one part of the articles app shares (the public views
and the sitemap): each in one place, so they ask the same thing."""

from django.db.models import Count

from articles.models import EditorialPolicy, HomePage, Topic, published_q


def topics_with_articles():
    """Topics that have at least one public article, with how many."""
    return (
        Topic.objects.annotate(
            article_count=Count("articles", filter=published_q("articles__"))
        )
        .filter(article_count__gt=0)
        .order_by("name")
    )


def editorial_policy() -> EditorialPolicy:
    """The policy as editors last saved it; migration 0005 creates it, so an
    unsaved default (the evidence labels and review sections alone) only stands in
    on a database where it was deleted."""
    return EditorialPolicy.current() or EditorialPolicy()


def home_page() -> HomePage:
    """The home page's words as staff last saved them; the defaults if never."""
    return HomePage.current() or HomePage()
