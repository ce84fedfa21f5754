"""What other apps may use of articles: the only articles module the newsletter
and the project package import (tests/skincare/test_imports.py checks it). The
newsletter lists published articles by topic and author, with their covers'
renditions, and tells its readers of corrections that changed the advice; the
project's URLs serve the sitemap and robots.txt."""

from articles.models import (
    Article,
    Author,
    Correction,
    ImageRendition,
    Topic,
    published_q,
)
from articles.publishing.seo import robots_txt
from articles.publishing.sitemaps import SITEMAPS

__all__ = [
    "SITEMAPS",
    "Article",
    "Author",
    "Correction",
    "ImageRendition",
    "Topic",
    "published_q",
    "robots_txt",
]
