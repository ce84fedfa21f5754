from django.urls import path

from articles import feeds, views, views_people, views_preview
from articles.views_search import search_view

app_name = "articles"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("articles/", views.ArticleListView.as_view(), name="list"),
    path("articles/<slug:slug>/", views.ArticleDetailView.as_view(), name="detail"),
    path("topics/", views.TopicListView.as_view(), name="topics"),
    path("topics/<slug:slug>/", views.TopicDetailView.as_view(), name="topic"),
    path("search/", search_view, name="search"),
    path(
        "editorial-policy/",
        views.EditorialPolicyView.as_view(),
        name="editorial_policy",
    ),
    path("preview/<str:token>/", views_preview.share_preview, name="share_preview"),
    path("feed/", feeds.LatestArticlesFeed(), name="feed"),
    path("feed/atom/", feeds.LatestArticlesAtomFeed(), name="feed_atom"),
    path("topics/<slug:slug>/feed/", feeds.TopicArticlesFeed(), name="topic_feed"),
    path(
        "topics/<slug:slug>/feed/atom/",
        feeds.TopicArticlesAtomFeed(),
        name="topic_feed_atom",
    ),
    path(
        "authors/<slug:slug>/",
        views_people.AuthorDetailView.as_view(),
        name="author",
    ),
]
