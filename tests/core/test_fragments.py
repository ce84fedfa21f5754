"""{% shared_fragment %} (core/templatetags/fragments.py): the header and footer
rendered once per process for each set of values, and still right on every page."""

from datetime import datetime
from unittest import mock

import pytest
from django.template import Context, Template
from django.urls import reverse
from django.utils import timezone

from core.templatetags import fragments

pytestmark = pytest.mark.django_db

TAG = Template(
    '{% load fragments %}{% shared_fragment "includes/header.html" '
    "url_name=url_name search_page=search_page %}"
)


@pytest.fixture(autouse=True)
def fresh_fragments():
    fragments._rendered.cache_clear()
    yield
    fragments._rendered.cache_clear()


def render(**values) -> str:
    return TAG.render(Context(values))


def test_a_fragment_is_rendered_once_for_the_same_values():
    with mock.patch.object(fragments, "_render", wraps=fragments._render) as made:
        first = render(url_name="list", search_page=False)
        again = render(url_name="list", search_page=False)
        other = render(url_name="topics", search_page=False)
    assert first == again and first != other
    assert made.call_count == 2


def test_with_debug_a_fragment_is_rendered_every_time(settings):
    settings.DEBUG = True
    with mock.patch.object(fragments, "_render", wraps=fragments._render) as made:
        render(url_name="list", search_page=False)
        render(url_name="list", search_page=False)
    assert made.call_count == 2


def test_the_menu_marks_the_current_section_on_each_page(client):
    articles = client.get(reverse("articles:list")).text
    topics = client.get(reverse("articles:topics")).text
    current = 'aria-current="page">{}</a>'
    assert current.format("Articles") in articles
    assert current.format("Topics") not in articles
    assert current.format("Topics") in topics
    assert current.format("Articles") not in topics


def test_the_search_page_has_no_second_search_form(client):
    home = client.get(reverse("articles:home")).text
    search = client.get(reverse("articles:search"), {"q": "skin"}).text
    assert 'id="site-search-q"' in home
    assert 'id="site-search-q"' not in search


def test_the_footer_shows_the_year_of_the_request(client, settings):
    settings.PAGE_CACHE = False
    assert f"&copy; {timezone.now().year} Skincare" in client.get("/").text
    later = datetime(2031, 1, 1, 12, tzinfo=timezone.get_current_timezone())
    # {% now %} reads the clock through datetime.now.
    clock = mock.Mock(wraps=datetime, now=mock.Mock(return_value=later))
    with mock.patch("django.template.defaulttags.datetime", clock):
        assert "&copy; 2031 Skincare" in client.get("/").text
