"""A stored article page joined into the layout rendered once per process
(articles/web/shell.py) is the page the template renders, byte for byte."""

import pytest

from articles.models import Article
from articles.web import shell
from tests.articles.test_prepared import page, published, rich_article
from tests.factories import make_role_user


@pytest.fixture
def editor(db):
    return make_role_user("Editor", username="eddie")


@pytest.fixture(autouse=True)
def uncached(settings):
    # Every request renders its page, as page_speed.py's uncached article.
    settings.PAGE_CACHE = False


def by_template(client, monkeypatch, article: Article) -> str:
    with monkeypatch.context() as patch:
        patch.setattr(shell, "page_html", lambda request, page: None)
        return page(client, article)


def joined(client, article: Article) -> str:
    before = shell._shell.cache_info()
    text = page(client, article)
    after = shell._shell.cache_info()
    assert (after.hits + after.misses) > (before.hits + before.misses), (
        "the page was not joined into the layout"
    )
    return text


def test_a_page_with_related_cards_is_the_templates_page(client, editor, monkeypatch):
    article = rich_article(editor)
    text = joined(client, article)
    assert 'id="related"' in text and 'data-article="' in text
    assert text == by_template(client, monkeypatch, article)
    # Served again from the layout kept in the process.
    assert joined(client, article) == text


def test_a_page_without_related_articles_is_the_templates_page(
    client, editor, monkeypatch
):
    article = published(editor, title="Alone", body="<p>Nothing like it.</p>")
    text = joined(client, article)
    assert 'id="related"' not in text
    assert text == by_template(client, monkeypatch, article)


def test_a_page_with_counting_off_is_the_templates_page(
    client, editor, monkeypatch, settings
):
    settings.READERSHIP_COUNTING = False
    article = rich_article(editor)
    text = joined(client, article)
    assert "readership" not in text
    assert text == by_template(client, monkeypatch, article)


def test_each_article_gets_its_own_parts_and_id(client, editor):
    first = published(editor, title="First of two", body="<p>One.</p>")
    second = published(editor, title="Second of two", body="<p>Two.</p>")
    one, two = joined(client, first), joined(client, second)
    assert "First of two" in one and f'data-article="{first.pk}"' in one
    assert "Second of two" in two and f'data-article="{second.pk}"' in two
    assert "Second of two</h1>" not in one


def test_with_debug_the_template_renders_every_page(client, editor, settings):
    article = published(editor, title="Debugging", body="<p>Text.</p>")
    settings.DEBUG = True
    before = shell._shell.cache_info()
    assert "Debugging" in page(client, article)
    assert shell._shell.cache_info() == before
