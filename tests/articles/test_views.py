import gzip
import re
from datetime import timedelta
from html.parser import HTMLParser
from pathlib import Path

import pytest
from django.conf import settings
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.test import Client, RequestFactory
from django.urls import reverse
from django.utils import timezone
from django.views.defaults import server_error

from articles.models import Article, Correction, Evidence, Reference
from articles.publishing import prepared
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import (
    image_bytes,
    make_article,
    make_author,
    make_draft,
    make_subscriber,
    make_topic,
)

pytestmark = pytest.mark.django_db


class Outline(HTMLParser):
    """Collects headings, landmarks and links of a page."""

    def __init__(self):
        super().__init__()
        self.headings: list[int] = []
        self.tags: list[str] = []
        self.urls: list[str] = []

    def handle_starttag(self, tag, attrs):
        self.tags.append(tag)
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        for name, value in attrs:
            if name in {"src", "href"} and value:
                self.urls.append(value)


def outline(html: str) -> Outline:
    parser = Outline()
    parser.feed(html)
    return parser


def make_many(count: int) -> None:
    topics = [make_topic() for _ in range(3)]
    authors = [make_author() for _ in range(3)]
    for i in range(count):
        make_article(topic=topics[i % 3], author=authors[i % 3], featured=i < 2)


def test_home_shows_featured_and_latest_articles_and_topic_links(client):
    topic = make_topic(name="Rosacea")
    make_article(title="Featured story", featured=True, topic=topic)
    make_article(title="Plain story", topic=topic)
    response = client.get(reverse("articles:home"))
    assert response.status_code == 200
    text = response.text
    assert text.index("Featured story") < text.index("Plain story")
    assert f'href="{topic.get_absolute_url()}"' in text


def test_article_list_is_paginated_newest_first(client):
    now = timezone.now()
    for day in range(23):
        make_article(
            title=f"Day {day:02d} piece", published_at=now - timedelta(days=day)
        )
    first = client.get(reverse("articles:list")).text
    assert first.index("Day 00 piece") < first.index("Day 01 piece")
    assert first.count('class="card"') == 10
    last = client.get(reverse("articles:list") + "?page=3").text
    assert last.count('class="card"') == 3
    assert "Day 22 piece" in last
    assert client.get(reverse("articles:list") + "?page=9").status_code == 404


def test_article_page_shows_everything_a_reader_needs(client, media_root):
    author = make_author(
        name="Dr Ada Lee", credentials="MD, dermatologist", bio="Ada writes on acne."
    )
    topic = make_topic(name="Acne")
    article = make_article(
        title="Treating acne",
        summary="A short summary.",
        body="<h2>Causes</h2><p>Clogged pores.</p>",
        author=author,
        topic=topic,
        cover_image_alt="A jar of cream on a towel",
    )
    article.cover_image.save("cover.png", ContentFile(image_bytes(size=(120, 80))))
    text = client.get(article.get_absolute_url()).text
    for expected in (
        '<h1 class="article__title">Treating acne</h1>',
        "A short summary.",
        "Dr Ada Lee",
        "MD, dermatologist",
        "Ada writes on acne.",
        f'href="{topic.get_absolute_url()}"',
        '<h2 id="causes">Causes</h2><p>Clogged pores.</p>',
        'alt="A jar of cream on a towel"',
        'width="120" height="80"',
        f'datetime="{timezone.localtime(article.published_at):%Y-%m-%dT%H:%M:%S%z}"',
        f'<link rel="canonical" href="{settings.SITE_URL}/articles/',
    ):
        assert expected in text, expected


def test_topic_page_lists_only_its_articles(client):
    topic, other = make_topic(name="Eczema"), make_topic()
    make_article(title="Eczema care", topic=topic)
    make_article(title="Unrelated", topic=other)
    text = client.get(topic.get_absolute_url()).text
    assert "Eczema care" in text and "Unrelated" not in text


def test_unknown_article_and_topic_are_404_in_the_site_design(client):
    for url in ("/articles/no-such-article/", "/topics/nothing/", "/nowhere/"):
        response = client.get(url)
        assert response.status_code == 404, url
        assert "We couldn't find that page" in response.text
        assert 'class="site-header"' in response.text


def test_500_page_renders_in_the_site_design_without_a_request_context():
    response = server_error(RequestFactory().get("/"))
    assert response.status_code == 500
    text = response.content.decode()
    assert "Something went wrong on our side" in text
    assert 'class="site-header"' in text


# Rendering a page: the page version (core/pagecache.py), then home: featured,
# latest, topics, and the staff-edited headline (HomePage); detail: the stored page
# (articles/publishing/prepared.py), its related articles' stored cards; worked out
# when not
# prepared: the stored read that missed, the article (its corrections inside), its
# sources, related articles. A cached page costs the version alone.
@pytest.mark.parametrize(
    ("name", "max_queries"),
    [
        ("home", 5),
        ("list", 3),
        ("detail", 3),
        ("detail-worked-out", 5),
        ("topic", 4),
        ("topics", 2),
        ("policy", 2),
    ],
)
def test_pages_run_a_constant_number_of_queries(
    client, django_assert_max_num_queries, name, max_queries
):
    def fetch():
        article = make_article(
            featured=True, body="<p>Cited [1].</p>", evidence=Evidence.LIMITED
        )
        Reference.objects.create(article=article, title="A source")
        for n in range(3):
            Correction.objects.create(article=article, text=f"Correction {n}.")
        if name == "detail":
            prepared.prepare_articles(Article.objects.values_list("pk", flat=True))
        urls = {
            "home": reverse("articles:home"),
            "list": reverse("articles:list"),
            "detail": article.get_absolute_url(),
            "detail-worked-out": article.get_absolute_url(),
            "topic": article.topic.get_absolute_url(),
            "topics": reverse("articles:topics"),
            "policy": reverse("articles:editorial_policy"),
        }
        with django_assert_max_num_queries(max_queries):
            assert client.get(urls[name]).status_code == 200

    fetch()
    make_many(40)
    fetch()


def test_pages_have_one_h1_headings_in_order_and_landmarks(client):
    article = make_article(body="<h2>One</h2><p>x</p><h3>Sub</h3><h2>Two</h2>")
    for url in (
        reverse("articles:home"),
        reverse("articles:list"),
        article.get_absolute_url(),
        article.topic.get_absolute_url(),
        reverse("articles:topics"),
        reverse("articles:editorial_policy"),
        "/missing/",
    ):
        page = outline(client.get(url).text)
        assert page.headings.count(1) == 1, url
        assert page.headings[0] == 1, url
        for before, after in zip(page.headings, page.headings[1:], strict=False):
            assert after <= before + 1, (url, page.headings)
        for landmark in ("header", "nav", "main", "footer"):
            assert landmark in page.tags, (url, landmark)
        assert "#main" in page.urls, url


def test_pages_load_nothing_from_another_host(client):
    article = make_article()
    for url in (reverse("articles:home"), article.get_absolute_url()):
        html = client.get(url).text
        external = [
            u
            for u in outline(html).urls
            if re.match(r"^(https?:)?//", u)
            # The canonical link names the site's own address (SITE_URL).
            and not u.startswith(("http://testserver/", f"{settings.SITE_URL}/"))
        ]
        assert external == [], url


def test_article_page_weight_without_images_stays_under_60_kb_compressed(client):
    article = make_article(body="<p>" + "Skin text. " * 200 + "</p>")
    html = client.get(article.get_absolute_url()).content
    css = Path(finders.find("css/site.css")).read_bytes()
    counter = Path(finders.find("js/readership.js")).read_bytes()
    # What a reader downloads besides images: the page, its one stylesheet and
    # the readership counter, gzip-compressed as WhiteNoise and any proxy serve
    # them.
    sizes = [len(gzip.compress(part)) for part in (html, css, counter)]
    assert sum(sizes) < 60 * 1024
    assert sizes[2] < 1024
    # The template itself stays lean: markup beyond the body text.
    assert len(html) - len(article.body) < 20_000
    # No JavaScript the page needs: besides JSON-LD data, only the deferred
    # readership counter (articles/readership/), which the page reads without.
    scripts = re.findall(r"<script(?![^>]*application/ld\+json)[^>]*>", html.decode())
    assert len(scripts) == 1
    assert "js/readership.js" in scripts[0] and " defer " in scripts[0]


def test_public_pages_send_a_strict_content_security_policy(client):
    policy = client.get(reverse("articles:home"))["Content-Security-Policy"]
    assert "default-src 'self'" in policy
    assert "unsafe-inline" not in policy
    assert "frame-ancestors 'none'" in policy


def test_relaxed_policy_for_ckeditor_applies_under_admin_only(client, staff_client):
    admin_policy = staff_client.get(reverse("admin:articles_article_add"))[
        "Content-Security-Policy"
    ]
    assert "'unsafe-inline'" in admin_policy
    public_policy = client.get(reverse("articles:list"))["Content-Security-Policy"]
    assert "'unsafe-inline'" not in public_policy


def test_draft_is_not_linked_from_any_public_page(client):
    draft = make_draft(slug="hidden-draft")
    for url in (reverse("articles:home"), reverse("articles:list")):
        assert draft.get_absolute_url() not in client.get(url).text


def test_a_form_posted_without_its_security_token_gets_a_page_in_the_site_design():
    # The confirm button's form carries a CSRF token (the public sign-up form
    # does not: it is checked by origin instead).
    token = make_token(subscriber=make_subscriber(), purpose=Purpose.CONFIRM)
    response = Client(enforce_csrf_checks=True).post(
        reverse("newsletter:confirm", kwargs={"token": token})
    )
    assert response.status_code == 403
    assert "That form could not be sent" in response.content.decode()
    assert 'class="site-header"' in response.content.decode()
