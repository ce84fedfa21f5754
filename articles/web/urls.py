from django.urls import path

from articles.publishing import feeds
from articles.readership.beacon import beacon_view
from articles.web import people, preview, views
from articles.web.search import search_view
from core.pagecache import public_page

app_name = "articles"

urlpatterns = [
    path("", public_page(views.HomeView.as_view()), name="home"),
    path("articles/", public_page(views.ArticleListView.as_view()), name="list"),
    path(
        "articles/<slug:slug>/",
        public_page(views.ArticleDetailView.as_view()),
        name="detail",
    ),
    path("topics/", public_page(views.TopicListView.as_view()), name="topics"),
    path(
        "topics/<slug:slug>/",
        public_page(views.TopicDetailView.as_view()),
        name="topic",
    ),
    path("search/", search_view, name="search"),
    # One page view of an article, posted by static/js/readership.js.
    path("readership/view/", beacon_view, name="readership_beacon"),
    path(
        "editorial-policy/",
        public_page(views.EditorialPolicyView.as_view()),
        name="editorial_policy",
    ),
    path("preview/<str:token>/", preview.share_preview, name="share_preview"),
    path("feed/", public_page(feeds.LatestArticlesFeed()), name="feed"),
    path("feed/atom/", public_page(feeds.LatestArticlesAtomFeed()), name="feed_atom"),
    path(
        "topics/<slug:slug>/feed/",
        public_page(feeds.TopicArticlesFeed()),
        name="topic_feed",
    ),
    path(
        "topics/<slug:slug>/feed/atom/",
        public_page(feeds.TopicArticlesAtomFeed()),
        name="topic_feed_atom",
    ),
    path(
        "authors/<slug:slug>/",
        public_page(people.AuthorDetailView.as_view()),
        name="author",
    ),
]
