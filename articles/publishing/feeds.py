"""RSS and Atom feeds of live articles, site-wide and per topic, with full content."""

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.utils.feedgenerator import Atom1Feed, Rss201rev2Feed

from articles.models import Article, Topic
from core.links import absolute, absolutize_html

FEED_SIZE = 20


class FullContentAtom1Feed(Atom1Feed):
    """Atom with the summary in <summary> and the whole article in <content>."""

    def add_item_elements(self, handler, item):
        super().add_item_elements(handler, item)
        if item.get("content"):
            handler.addQuickElement("content", item["content"], {"type": "html"})


class LatestArticlesFeed(Feed):
    """The newest live articles; drafts and scheduled articles never appear."""

    feed_type = Rss201rev2Feed
    language = "en"
    description = "New articles from Skincare: clear, careful writing on skin care."

    def title(self, obj=None) -> str:
        return settings.SITE_NAME

    def link(self, obj=None) -> str:
        return absolute(reverse("articles:home"))

    url_name = "articles:feed"

    def feed_url(self, obj=None) -> str:
        return absolute(reverse(self.url_name))

    def base_queryset(self, obj=None):
        return Article.objects.published().select_related("author", "topic")

    def items(self, obj=None):
        return self.base_queryset(obj)[:FEED_SIZE]

    def item_title(self, item: Article) -> str:
        return item.title

    def item_description(self, item: Article) -> str:
        # The whole sanitised body, with the site's links and images made absolute.
        return absolutize_html(item.body)

    def item_link(self, item: Article) -> str:
        return absolute(item.get_absolute_url())

    def item_guid(self, item: Article) -> str:
        return f"{settings.SITE_URL}/articles/#{item.pk}"

    item_guid_is_permalink = False

    def item_pubdate(self, item: Article):
        return item.published_at

    def item_updateddate(self, item: Article):
        return item.content_updated_at or item.published_at

    def item_author_name(self, item: Article) -> str:
        return item.author.name

    def item_author_link(self, item: Article) -> str:
        return absolute(item.author.get_absolute_url())

    def item_categories(self, item: Article) -> list[str]:
        return [item.topic.name]


class LatestArticlesAtomFeed(LatestArticlesFeed):
    feed_type = FullContentAtom1Feed
    url_name = "articles:feed_atom"
    subtitle = LatestArticlesFeed.description

    def item_description(self, item: Article) -> str:
        return item.summary

    def item_extra_kwargs(self, item: Article) -> dict:
        return {"content": absolutize_html(item.body)}


class TopicFeedMixin:
    def get_object(self, request, slug: str) -> Topic:
        return get_object_or_404(Topic, slug=slug)

    def title(self, obj: Topic) -> str:
        return f"{obj.name} · {settings.SITE_NAME}"

    def link(self, obj: Topic) -> str:
        return absolute(obj.get_absolute_url())

    def description(self, obj: Topic) -> str:
        return obj.description or f"New {settings.SITE_NAME} articles on {obj.name}."

    def feed_url(self, obj: Topic) -> str:
        return absolute(reverse(self.url_name, kwargs={"slug": obj.slug}))

    def base_queryset(self, obj=None):
        return super().base_queryset(obj).filter(topic=obj)


class TopicArticlesFeed(TopicFeedMixin, LatestArticlesFeed):
    url_name = "articles:topic_feed"


class TopicArticlesAtomFeed(TopicFeedMixin, LatestArticlesAtomFeed):
    url_name = "articles:topic_feed_atom"

    def subtitle(self, obj: Topic) -> str:
        return self.description(obj)
