"""Feeds, sitemap, robots.txt, page metadata (canonical, Open Graph, JSON-LD) and
the permanent redirect from an article's old address."""

import json
import re
import xml.etree.ElementTree as ET
from datetime import date, timedelta
from html.parser import HTMLParser
from io import StringIO

import pytest
from django.contrib.staticfiles import finders
from django.core.files.base import ContentFile
from django.core.management import call_command
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from PIL import Image

from articles import services
from articles.editorial import workflow
from articles.models import Article, ArticleRedirect, Author
from tests.factories import (
    admin_article_form,
    image_bytes,
    make_article,
    make_author,
    make_draft,
    make_scheduled,
    make_topic,
)

pytestmark = pytest.mark.django_db

SITE = "https://skincare.example"
ATOM = "{http://www.w3.org/2005/Atom}"
SITEMAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(autouse=True)
def site_url(settings):
    settings.SITE_URL = SITE
    return SITE


class Head(HTMLParser):
    """The <title>, <meta>, <link> and JSON-LD scripts of a page."""

    def __init__(self):
        super().__init__()
        self.titles: list[str] = []
        self.metas: list[dict] = []
        self.links: list[dict] = []
        self.json_ld: list[str] = []
        self._in: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "meta":
            self.metas.append(attrs)
        elif tag == "link":
            self.links.append(attrs)
        elif tag == "title":
            self._in = "title"
            self.titles.append("")
        elif tag == "script" and attrs.get("type") == "application/ld+json":
            self._in = "json"
            self.json_ld.append("")

    def handle_endtag(self, tag):
        self._in = None

    def handle_data(self, data):
        if self._in == "title":
            self.titles[-1] += data
        elif self._in == "json":
            self.json_ld[-1] += data

    def meta(self, key: str) -> list[str]:
        return [
            m.get("content")
            for m in self.metas
            if m.get("property") == key or m.get("name") == key
        ]

    def link(self, rel: str) -> list[dict]:
        return [link for link in self.links if link.get("rel") == rel]

    def data(self) -> list[dict]:
        return [json.loads(text) for text in self.json_ld]

    def nodes(self) -> list[dict]:
        """Every top-level JSON-LD node, @graph entries unpacked."""
        found = []
        for item in self.data():
            found.extend(item.get("@graph", [item]))
        return found

    def node(self, type_: str) -> dict:
        matches = [n for n in self.nodes() if n.get("@type") == type_]
        assert len(matches) == 1, (type_, self.nodes())
        return matches[0]


def head(client, url: str) -> Head:
    response = client.get(url)
    assert response.status_code == 200, url
    parser = Head()
    parser.feed(response.text)
    return parser


def count_queries(fetch) -> int:
    with CaptureQueriesContext(connection) as queries:
        fetch()
    return len(queries)


# Feeds ------------------------------------------------------------------------------


def test_rss_feed_has_the_newest_20_live_articles_with_full_content(client):
    now = timezone.now()
    topic = make_topic()
    for day in range(22):
        make_article(
            title=f"Day {day:02d}",
            topic=topic,
            published_at=now - timedelta(days=day, hours=1),
        )
    make_article(
        title="Full piece",
        published_at=now - timedelta(minutes=1),
        body='<h2>Why</h2><p>See <a href="/articles/other/">this</a>.</p>'
        '<p><img src="/media/uploads/1/pic.png" alt="A jar"></p>',
    )
    make_draft(title="Secret draft")
    make_scheduled(title="Future piece")
    response = client.get(reverse("articles:feed"))
    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/rss+xml")
    channel = ET.fromstring(response.content).find("channel")
    assert channel.findtext("link") == f"{SITE}/"
    items = channel.findall("item")
    titles = [item.findtext("title") for item in items]
    assert len(items) == 20
    assert titles[:3] == ["Full piece", "Day 00", "Day 01"]
    assert "Day 19" not in titles and "Secret draft" not in titles
    assert "Future piece" not in titles
    full = items[0]
    assert (
        full.findtext("link")
        == f"{SITE}/articles/{Article.objects.get(title='Full piece').slug}/"
    )
    body = full.findtext("description")
    assert "<h2>Why</h2>" in body
    assert f'href="{SITE}/articles/other/"' in body
    assert f'src="{SITE}/media/uploads/1/pic.png"' in body


def test_atom_feed_has_summary_and_full_content(client):
    article = make_article(
        summary="Short summary.", body='<p>Whole body <a href="/topics/">x</a>.</p>'
    )
    make_draft(title="Secret draft")
    make_scheduled(title="Future piece")
    response = client.get(reverse("articles:feed_atom"))
    assert response["Content-Type"].startswith("application/atom+xml")
    feed = ET.fromstring(response.content)
    entries = feed.findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [article.title]
    entry = entries[0]
    assert entry.findtext(f"{ATOM}summary") == "Short summary."
    content = entry.find(f"{ATOM}content")
    assert content.get("type") == "html"
    assert f'<p>Whole body <a href="{SITE}/topics/"' in content.text
    link = entry.find(f"{ATOM}link").get("href")
    assert link == f"{SITE}{article.get_absolute_url()}"
    self_link = [
        link for link in feed.findall(f"{ATOM}link") if link.get("rel") == "self"
    ]
    assert self_link[0].get("href") == f"{SITE}/feed/atom/"


def test_topic_feeds_list_only_that_topics_live_articles(client):
    topic, other = make_topic(name="Acne"), make_topic()
    mine = make_article(title="Acne piece", topic=topic)
    make_article(title="Other piece", topic=other)
    make_draft(title="Acne draft", topic=topic)
    make_scheduled(title="Acne later", topic=topic)
    rss = client.get(reverse("articles:topic_feed", kwargs={"slug": topic.slug}))
    channel = ET.fromstring(rss.content).find("channel")
    assert [i.findtext("title") for i in channel.findall("item")] == [mine.title]
    assert channel.findtext("title") == "Acne · Skincare"
    atom = client.get(reverse("articles:topic_feed_atom", kwargs={"slug": topic.slug}))
    entries = ET.fromstring(atom.content).findall(f"{ATOM}entry")
    assert [e.findtext(f"{ATOM}title") for e in entries] == [mine.title]
    assert client.get("/topics/no-such-topic/feed/").status_code == 404


def test_pages_announce_their_feeds(client):
    topic = make_article().topic
    page = head(client, topic.get_absolute_url())
    alternates = {link["href"] for link in page.link("alternate")}
    assert {
        "/feed/",
        "/feed/atom/",
        f"/topics/{topic.slug}/feed/",
        f"/topics/{topic.slug}/feed/atom/",
    } <= alternates
    home = head(client, reverse("articles:home"))
    types = {link["type"] for link in home.link("alternate")}
    assert types == {"application/rss+xml", "application/atom+xml"}


@pytest.mark.parametrize(
    "name", ["articles:feed", "articles:feed_atom", "topic_feed", "topic_feed_atom"]
)
def test_feeds_run_a_constant_number_of_queries(client, name):
    topic = make_topic()
    make_article(topic=topic)
    if name.startswith("topic"):
        url = reverse(f"articles:{name}", kwargs={"slug": topic.slug})
    else:
        url = reverse(name)
    few = count_queries(lambda: client.get(url))
    for _ in range(25):
        make_article(topic=topic, author=make_author())
    # The page version (core/pagecache.py), the topic, the articles.
    assert count_queries(lambda: client.get(url)) == few <= 3


# Sitemap and robots.txt ---------------------------------------------------------------


def sitemap_files(client) -> list[str]:
    """The files /sitemap.xml names, as site-relative addresses."""
    response = client.get("/sitemap.xml")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    root = ET.fromstring(response.content)
    assert root.tag == f"{SITEMAP}sitemapindex"
    locations = [s.findtext(f"{SITEMAP}loc") for s in root.findall(f"{SITEMAP}sitemap")]
    assert all(loc.startswith(f"{SITE}/sitemaps/") for loc in locations)
    return [loc.removeprefix(SITE) for loc in locations]


def sitemap_file_entries(client, path: str) -> dict[str, str | None]:
    response = client.get(path)
    assert response.status_code == 200
    root = ET.fromstring(response.content)
    assert root.tag == f"{SITEMAP}urlset"
    return {
        url.findtext(f"{SITEMAP}loc"): url.findtext(f"{SITEMAP}lastmod")
        for url in root.findall(f"{SITEMAP}url")
    }


def sitemap_entries(client) -> dict[str, str | None]:
    """Every address in the sitemap: its index's files read in turn."""
    entries = {}
    for path in sitemap_files(client):
        entries.update(sitemap_file_entries(client, path))
    return entries


def test_sitemap_lists_live_content_only_with_lastmod(client):
    author, quiet_author = make_author(), make_author()
    topic, empty_topic = make_topic(), make_topic()
    published = timezone.now() - timedelta(days=10)
    plain = make_article(topic=topic, author=author, published_at=published)
    edited = make_article(topic=topic, author=author, published_at=published)
    Article.objects.filter(pk=edited.pk).update(
        content_updated_at=published + timedelta(days=3)
    )
    draft = make_draft(topic=empty_topic, author=quiet_author)
    scheduled = make_scheduled(topic=empty_topic, author=quiet_author)
    entries = sitemap_entries(client)
    assert entries[f"{SITE}{plain.get_absolute_url()}"] == f"{published:%Y-%m-%d}"
    assert (
        entries[f"{SITE}{edited.get_absolute_url()}"]
        == f"{published + timedelta(days=3):%Y-%m-%d}"
    )
    for present in ("/", "/articles/", "/topics/", "/editorial-policy/"):
        assert f"{SITE}{present}" in entries
    assert f"{SITE}{topic.get_absolute_url()}" in entries
    assert f"{SITE}{author.get_absolute_url()}" in entries
    for absent in (draft, scheduled, empty_topic, quiet_author):
        assert f"{SITE}{absent.get_absolute_url()}" not in entries
    assert all(loc.startswith(f"{SITE}/") for loc in entries)


def test_sitemap_runs_a_constant_number_of_queries(client):
    make_article()
    few = count_queries(lambda: sitemap_entries(client))
    for _ in range(15):
        make_article()
    assert count_queries(lambda: sitemap_entries(client)) == few


def test_sitemap_index_splits_articles_into_files_of_at_most_the_page_size(
    client, settings, django_assert_max_num_queries
):
    settings.SITEMAP_PAGE_SIZE = 3
    now = timezone.now()
    articles = [make_article(published_at=now - timedelta(hours=n)) for n in range(7)]
    # The page version, and a count per section with rows in the database:
    # articles, topics, authors, archived issues.
    with django_assert_max_num_queries(5):
        files = sitemap_files(client)
    article_files = [f for f in files if f.startswith("/sitemaps/articles-")]
    assert article_files == [
        "/sitemaps/articles-1.xml",
        "/sitemaps/articles-2.xml",
        "/sitemaps/articles-3.xml",
    ]
    listed = []
    for path in files:
        # The page version and the file's one query.
        with django_assert_max_num_queries(2):
            entries = sitemap_file_entries(client, path)
        assert 1 <= len(entries) <= 3, path
        if path in article_files:
            listed.extend(entries)
    # Newest first, each article once, across the files.
    assert listed == [f"{SITE}{a.get_absolute_url()}" for a in articles]
    assert client.get("/sitemaps/articles-4.xml").status_code == 404
    assert client.get("/sitemaps/nothing-1.xml").status_code == 404


def test_robots_txt_allows_all_but_private_paths_and_names_the_sitemap(client):
    response = client.get("/robots.txt")
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")
    lines = response.text.splitlines()
    assert "User-agent: *" in lines
    for path in (
        "/admin/",
        "/newsletter/confirm/",
        "/newsletter/unsubscribe/",
        "/newsletter/data/",
    ):
        assert f"Disallow: {path}" in lines
    assert "Disallow: /" not in lines
    assert f"Sitemap: {SITE}/sitemap.xml" in lines


# Page metadata ------------------------------------------------------------------------


def public_urls() -> dict[str, str]:
    topic = make_topic(name="Rosacea", description="All about rosacea.")
    author = make_author(name="Dr Lee")
    article = make_article(topic=topic, author=author, title="Calming rosacea")
    for _ in range(11):
        make_article(topic=topic, author=author)
    return {
        "home": reverse("articles:home"),
        "list": reverse("articles:list"),
        "list page 2": reverse("articles:list") + "?page=2",
        "article": article.get_absolute_url(),
        "topic": topic.get_absolute_url(),
        "topic page 2": topic.get_absolute_url() + "?page=2",
        "topics": reverse("articles:topics"),
        "author": author.get_absolute_url(),
        "newsletter": reverse("newsletter:subscribe"),
        "archive": reverse("newsletter:archive"),
        "policy": reverse("articles:editorial_policy"),
    }


def test_every_public_page_has_one_canonical_and_the_sharing_tags(client):
    for name, url in public_urls().items():
        page = head(client, url)
        canonical = page.link("canonical")
        assert len(canonical) == 1, name
        # Absolute, on SITE_URL (not the request's host); later pages keep "?page".
        assert canonical[0]["href"] == f"{SITE}{url}", name
        assert page.meta("og:url") == [f"{SITE}{url}"], name
        for key in ("og:title", "og:description", "og:image", "og:type"):
            values = page.meta(key)
            assert len(values) == 1 and values[0], (name, key)
        assert page.meta("og:site_name") == ["Skincare"], name
        assert page.meta("og:image")[0].startswith(f"{SITE}/"), name
        assert page.meta("twitter:card") == ["summary_large_image"], name
        assert page.meta("og:locale") == ["en_US"], name
        # The Twitter card carries its own copy of what Open Graph says.
        assert page.meta("twitter:title") == page.meta("og:title"), name
        assert page.meta("twitter:description") == page.meta("og:description"), name
        assert page.meta("twitter:image") == page.meta("og:image"), name
        assert page.meta("twitter:image:alt") == page.meta("og:image:alt"), name
        assert page.meta("twitter:image:alt")[0], name
        assert len(page.meta("description")) == 1, name
        assert len(page.titles) == 1, name
        expected = "article" if name == "article" else "website"
        assert page.meta("og:type") == [expected], name


def test_titles_and_descriptions_are_unique_across_pages(client):
    urls = public_urls()
    pages = {name: head(client, url) for name, url in urls.items()}
    titles = [page.titles[0] for page in pages.values()]
    assert len(set(titles)) == len(titles), titles
    descriptions = [page.meta("description")[0] for page in pages.values()]
    assert len(set(descriptions)) == len(descriptions), descriptions
    assert pages["list page 2"].titles[0] == "All articles (page 2) · Skincare"
    assert pages["topic page 2"].titles[0] == "Rosacea (page 2) · Skincare"
    assert pages["article"].meta("og:title") == ["Calming rosacea"]


def test_page_without_cover_shares_the_default_image(client):
    page = head(client, make_article().get_absolute_url())
    assert page.meta("og:image") == [f"{SITE}/static/img/og-default.png"]
    assert page.meta("og:image:width") == ["1200"]
    with Image.open(finders.find("img/og-default.png")) as image:
        assert image.size == (1200, 630)


def test_article_with_cover_shares_its_cover_as_an_absolute_url(client):
    article = make_article(cover_image_alt="A jar of cream")
    article.cover_image.save("cover.png", ContentFile(image_bytes(size=(120, 80))))
    page = head(client, article.get_absolute_url())
    assert page.meta("og:image") == [f"{SITE}{article.cover_image.url}"]
    assert page.meta("og:image:alt") == ["A jar of cream"]
    assert page.node("Article")["image"] == f"{SITE}{article.cover_image.url}"


def test_not_found_page_keeps_its_title_and_has_no_canonical(client):
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    page = Head()
    page.feed(response.text)
    assert page.titles == ["Page not found · Skincare"]
    assert page.link("canonical") == []
    assert page.meta("robots") == ["noindex"]


def test_personal_newsletter_links_have_no_canonical(client):
    for url in (
        "/newsletter/confirm/not-a-token/",
        "/newsletter/unsubscribe/not-a-token/",
        "/newsletter/data/not-a-token/",
    ):
        page = Head()
        page.feed(client.get(url).text)
        assert page.titles, url
        assert page.link("canonical") == [], url
        assert page.meta("og:url") == [], url


def test_article_preview_has_no_canonical(staff_client):
    draft = make_draft()
    response = staff_client.get(
        reverse("admin:articles_article_preview", args=[draft.pk])
    )
    page = Head()
    page.feed(response.text)
    assert page.link("canonical") == []
    assert page.meta("robots") == ["noindex, nofollow"]


# JSON-LD ------------------------------------------------------------------------------


def test_article_json_ld_describes_a_medical_web_page_about_the_article(client):
    author = make_author(name="Dr Ada Lee", credentials="MD, dermatologist")
    topic = make_topic(name="Acne")
    article = make_article(
        title="Treating acne",
        seo_description="How acne is treated.",
        author=author,
        topic=topic,
    )
    page = head(client, article.get_absolute_url())
    url = f"{SITE}{article.get_absolute_url()}"
    web_page = page.node("MedicalWebPage")
    data = page.node("Article")
    assert web_page["url"] == url
    assert web_page["mainEntity"] == {"@id": data["@id"]}
    assert data["headline"] == "Treating acne"
    assert data["description"] == "How acne is treated."
    assert data["datePublished"] == article.published_at.isoformat()
    assert data["dateModified"] == article.published_at.isoformat()
    assert data["author"] == {
        "@type": "Person",
        "name": "Dr Ada Lee",
        "url": f"{SITE}{author.get_absolute_url()}",
        "jobTitle": "MD, dermatologist",
    }
    assert data["publisher"]["@type"] == "Organization"
    assert data["publisher"]["name"] == "Skincare"
    assert data["publisher"]["logo"]["url"].startswith(f"{SITE}/")
    assert data["mainEntityOfPage"] == {"@id": url}
    # Google's Article rule needs an image: the default share image stands in.
    assert data["image"] == f"{SITE}/static/img/og-default.png"
    assert "reviewedBy" not in web_page and "lastReviewed" not in web_page
    assert "reviewedBy" not in json.dumps(page.data())
    crumbs = page.node("BreadcrumbList")["itemListElement"]
    assert [c["name"] for c in crumbs] == ["Home", "Acne", "Treating acne"]
    assert [c["position"] for c in crumbs] == [1, 2, 3]
    assert crumbs[-1]["item"] == url


def test_date_modified_follows_the_last_content_change(client):
    article = make_article()
    changed = timezone.now() - timedelta(minutes=3)
    Article.objects.filter(pk=article.pk).update(content_updated_at=changed)
    page = head(client, article.get_absolute_url())
    assert page.node("Article")["dateModified"] == changed.isoformat()


def test_reviewer_appears_only_when_a_review_is_recorded(client):
    reviewer = make_author(name="Dr Rita Review", credentials="FAAD")
    article = make_article(reviewer=reviewer, reviewed_at=date(2026, 3, 2))
    page = head(client, article.get_absolute_url())
    web_page = page.node("MedicalWebPage")
    assert web_page["reviewedBy"] == {
        "@type": "Person",
        "name": "Dr Rita Review",
        "url": f"{SITE}{reviewer.get_absolute_url()}",
        "jobTitle": "FAAD",
    }
    assert web_page["lastReviewed"] == "2026-03-02"


def test_launch_articles_claim_no_medical_review(client):
    call_command("load_launch_content", stdout=StringIO())
    articles = list(Article.objects.published())
    assert articles
    for article in articles:
        assert article.reviewer is None
        page = head(client, article.get_absolute_url())
        text = json.dumps(page.data())
        assert "reviewedBy" not in text and "lastReviewed" not in text
        assert page.node("MedicalWebPage")


def test_the_publisher_logo_is_a_square_logo_not_the_share_image(client):
    page = head(client, make_article().get_absolute_url())
    logo = page.node("Article")["publisher"]["logo"]
    assert logo["url"] == f"{SITE}/static/img/logo.png"
    with Image.open(finders.find("img/logo.png")) as image:
        assert image.size == (logo["width"], logo["height"])
    assert logo["width"] == logo["height"] >= 112


def test_an_article_in_a_medical_topic_is_about_a_medical_condition(client):
    condition = make_topic(name="Keratosis pilaris", medical=True)
    subject = make_topic(name="Routines", medical=False)
    about = {
        topic.name: head(client, make_article(topic=topic).get_absolute_url()).node(
            "MedicalWebPage"
        )["about"]
        for topic in (condition, subject)
    }
    assert about == {
        "Keratosis pilaris": {
            "@type": "MedicalCondition",
            "name": "Keratosis pilaris",
        },
        "Routines": {"@type": "Thing", "name": "Routines"},
    }


def test_json_ld_cannot_be_closed_by_article_text(client):
    article = make_article(title="Acne </script><script>alert(1)</script> & more")
    response = client.get(article.get_absolute_url())
    assert "</script><script>alert(1)" not in response.text
    page = Head()
    page.feed(response.text)
    assert page.node("Article")["headline"].startswith("Acne </script>")


def test_topic_page_has_breadcrumbs(client):
    topic = make_article().topic
    crumbs = head(client, topic.get_absolute_url()).node("BreadcrumbList")
    items = crumbs["itemListElement"]
    assert [c["name"] for c in items] == ["Home", "Topics", topic.name]
    assert items[-1]["item"] == f"{SITE}{topic.get_absolute_url()}"


def test_home_page_describes_the_site_with_a_search_action(client):
    site = head(client, reverse("articles:home")).node("WebSite")
    assert site["url"] == f"{SITE}/"
    assert site["name"] == "Skincare"
    action = site["potentialAction"]
    assert action["@type"] == "SearchAction"
    assert action["target"] == f"{SITE}/search/?q={{search_term_string}}"
    assert action["query-input"] == "required name=search_term_string"


def test_article_json_ld_needs_no_extra_queries(client):
    plain = make_article()
    reviewer = make_author(credentials="MD")
    reviewed = make_article(reviewer=reviewer, reviewed_at=date(2026, 1, 5))
    plain_count = count_queries(lambda: head(client, plain.get_absolute_url()))
    reviewed_count = count_queries(lambda: head(client, reviewed.get_absolute_url()))
    # The page's select_related already brings the author, topic and reviewer.
    assert reviewed_count == plain_count


# Redirects from an old slug -----------------------------------------------------------


def rename(article: Article, slug: str) -> Article:
    article.slug = slug
    return services.save_article(article=article)


def test_changing_a_live_articles_slug_redirects_the_old_address(client):
    article = make_article(slug="old-name")
    rename(article, "new-name")
    response = client.get("/articles/old-name/")
    assert response.status_code == 301
    assert response["Location"] == "/articles/new-name/"
    assert client.get("/articles/new-name/").status_code == 200


def test_changing_the_slug_in_the_admin_redirects_the_old_address_once_published(
    client, staff_client, staff
):
    article = make_article(slug="admin-old")
    url = reverse("admin:articles_article_change", args=[article.pk])
    page = staff_client.get(url)
    data = admin_article_form(
        title=article.title,
        slug="admin-new",
        summary=article.summary,
        body=article.body,
        author=article.author_id,
        topic=article.topic_id,
    )
    for inline in page.context["inline_admin_formsets"]:
        prefix = inline.formset.prefix
        data.update(
            {
                f"{prefix}-TOTAL_FORMS": "0",
                f"{prefix}-INITIAL_FORMS": "0",
                f"{prefix}-MIN_NUM_FORMS": "0",
                f"{prefix}-MAX_NUM_FORMS": "1000",
            }
        )
    response = staff_client.post(url, data)
    assert response.status_code == 302, response.context["adminform"].form.errors
    # A draft of a live article: readers keep the old address until it is published.
    article.refresh_from_db()
    assert article.slug == "admin-old"
    assert client.get("/articles/admin-old/").status_code == 200
    workflow.publish(article=article, user=staff, override_reason="Short summary")
    article.refresh_from_db()
    assert article.slug == "admin-new"
    response = client.get("/articles/admin-old/")
    assert response.status_code == 301
    assert response["Location"] == "/articles/admin-new/"


def test_a_drafts_slug_change_records_no_redirect(client):
    draft = make_draft(slug="draft-old")
    rename(draft, "draft-new")
    scheduled = make_scheduled(slug="later-old")
    rename(scheduled, "later-new")
    assert not ArticleRedirect.objects.exists()
    assert client.get("/articles/draft-old/").status_code == 404


def test_redirect_chains_collapse_to_the_current_address(client):
    article = make_article(slug="a")
    rename(article, "b")
    rename(article, "c")
    for old in ("a", "b"):
        response = client.get(f"/articles/{old}/")
        assert response.status_code == 301, old
        assert response["Location"] == "/articles/c/", old
    assert set(ArticleRedirect.objects.values_list("old_slug", flat=True)) == {
        "a",
        "b",
    }


def test_taking_back_an_old_slug_removes_its_redirect(client):
    article = make_article(slug="first")
    rename(article, "second")
    rename(article, "first")
    assert client.get("/articles/first/").status_code == 200
    assert client.get("/articles/second/")["Location"] == "/articles/first/"
    assert not ArticleRedirect.objects.filter(old_slug="first").exists()


def test_reusing_an_old_slug_for_a_new_article_removes_the_redirect(client):
    article = make_article(slug="shared-name")
    rename(article, "renamed")
    newcomer = Article(
        title="Newcomer",
        slug="shared-name",
        summary="New.",
        body="<p>New.</p>",
        author=make_author(),
        topic=make_topic(),
        status=Article.Status.PUBLISHED,
    )
    services.save_article(article=newcomer)
    assert not ArticleRedirect.objects.filter(old_slug="shared-name").exists()
    response = client.get("/articles/shared-name/")
    assert response.status_code == 200
    assert "Newcomer" in response.text


def test_old_address_of_an_unpublished_article_is_not_found(client):
    article = make_article(slug="gone-old")
    rename(article, "gone-new")
    services.unpublish_article(article=article)
    assert client.get("/articles/gone-old/").status_code == 404


def test_og_locale_agrees_with_the_page_language(client):
    response = client.get(make_article().get_absolute_url())
    page = Head()
    page.feed(response.text)
    lang = re.search(r'<html lang="([^"]+)"', response.text).group(1)
    assert page.meta("og:locale") == [lang.replace("-", "_")]
    assert page.node("MedicalWebPage")["inLanguage"] == lang


def test_article_with_cover_has_its_cover_on_the_twitter_card(client):
    article = make_article(cover_image_alt="A jar of cream")
    article.cover_image.save("cover.png", ContentFile(image_bytes(size=(120, 80))))
    page = head(client, article.get_absolute_url())
    assert page.meta("twitter:image") == [f"{SITE}{article.cover_image.url}"]
    assert page.meta("twitter:image:alt") == ["A jar of cream"]
    assert page.meta("twitter:title") == [article.meta_title]


def test_team_byline_is_an_organization_and_a_person_stays_a_person(client):
    team = make_author(
        name="Editorial Team", kind=Author.Kind.ORGANIZATION, credentials="Editors"
    )
    reviewer = make_author(name="Review Board", kind=Author.Kind.ORGANIZATION)
    article = make_article(author=team, reviewer=reviewer, reviewed_at=date(2026, 2, 1))
    page = head(client, article.get_absolute_url())
    assert page.node("Article")["author"] == {
        "@type": "Organization",
        "name": "Editorial Team",
        "url": f"{SITE}{team.get_absolute_url()}",
    }
    assert page.node("MedicalWebPage")["reviewedBy"] == {
        "@type": "Organization",
        "name": "Review Board",
        "url": f"{SITE}{reviewer.get_absolute_url()}",
    }


def test_launch_articles_name_the_editorial_team_as_an_organization_with_an_image(
    client,
):
    call_command("load_launch_content", stdout=StringIO())
    articles = list(Article.objects.published())
    assert articles
    for article in articles:
        assert not article.cover_image
        data = head(client, article.get_absolute_url()).node("Article")
        assert data["author"]["@type"] == "Organization"
        assert data["author"]["name"] == "Skincare Editorial Team"
        assert data["image"] == f"{SITE}/static/img/og-default.png"


def test_author_admin_shows_and_saves_the_kind(staff_client):
    author = make_author(name="Skin Team")
    listing = staff_client.get(reverse("admin:articles_author_changelist"))
    assert "column-kind" in listing.text
    form_page = staff_client.get(
        reverse("admin:articles_author_change", args=[author.pk])
    )
    assert 'name="kind"' in form_page.text
    response = staff_client.post(
        reverse("admin:articles_author_change", args=[author.pk]),
        {
            "name": "Skin Team",
            "kind": Author.Kind.ORGANIZATION,
            "slug": author.slug,
            "credentials": "",
            "bio": "",
        },
    )
    assert response.status_code == 302
    author.refresh_from_db()
    assert author.kind == Author.Kind.ORGANIZATION
