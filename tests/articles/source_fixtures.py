"""Fixtures of the source-health tests: the fake web started for a test, the
check's settings pointed at it, and live articles citing sources."""

import pytest

from articles.models import Article, Reference, Stage
from tests.articles.fake_sources import serve
from tests.factories import make_article


@pytest.fixture
def web(settings):
    """The fake web, with the check's base addresses on it, loopback allowed,
    no pause between requests and a short timeout."""
    fake, stop = serve()
    settings.SOURCE_CHECK_ALLOW_PRIVATE = True
    settings.SOURCE_CHECK_HOST_DELAY = 0
    settings.SOURCE_CHECK_TIMEOUT = 0.5
    settings.SOURCE_CHECK_THREADS = 2
    settings.SOURCE_CHECK_CONTACT = "desk@example.com"
    settings.SOURCE_CHECK_DOI_RESOLVER = fake.url("/doi/")
    settings.SOURCE_CHECK_CROSSREF_API = fake.url("/crossref/")
    settings.SOURCE_CHECK_EUTILS_API = fake.url("/eutils/")
    fake.slow_seconds = 1.5
    yield fake
    stop()


@pytest.fixture
def tls_web(tmp_path):
    fake, stop = serve(tls_dir=tmp_path)
    yield fake
    stop()


def live_article(**fields) -> Article:
    fields.setdefault("stage", Stage.LIVE)
    return make_article(**fields)


def cite(article: Article, **source) -> Reference:
    """A source of `article`, numbered after its others."""
    source.setdefault("title", "A study")
    return Reference.objects.create(
        article=article, position=article.references.count() + 1, **source
    )
