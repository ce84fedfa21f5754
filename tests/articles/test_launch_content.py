import html
import io
import re
from pathlib import Path

import pytest
from django.core.management import call_command
from django.urls import reverse

from articles import launch
from articles.models import Article, Author, Evidence, Topic

pytestmark = pytest.mark.django_db

SHARED_SEED = (
    Path(__file__).resolve().parents[3] / "shared/seed/000_b438ab79b86db657.txt"
)


def load(*args: str) -> str:
    out = io.StringIO()
    call_command("load_launch_content", *args, stdout=out)
    return out.getvalue()


def blocks(body: str) -> list[tuple[str, str]]:
    """(tag, text) for each h2, p and li of an article body, in order."""
    return [
        (tag, html.unescape(text))
        for tag, text in re.findall(r"<(h2|p|li)>(.*?)</\1>", body, flags=re.S)
    ]


def test_loads_four_published_articles_in_one_topic():
    load()
    articles = list(Article.objects.published())
    assert len(articles) == 4
    assert Topic.objects.count() == 1 and Author.objects.count() == 1
    assert {a.topic.slug for a in articles} == {"keratosis-pilaris"}
    assert all(a.summary and a.title for a in articles)


def test_a_fresh_install_gets_a_medical_topic_and_limited_evidence_no_review():
    """What migration 0005 sets on databases that had the launch content."""
    load()
    assert Topic.objects.get(slug="keratosis-pilaris").medical
    for article in Article.objects.select_related("topic", "author"):
        assert article.is_medical, article.slug
        assert article.evidence == Evidence.LIMITED, article.slug
        assert article.reviewer is None and article.reviewed_at is None
        assert article.author.kind == Author.Kind.ORGANIZATION
        assert not article.references.exists(), "no source is invented"


def test_launch_article_page_says_limited_evidence_and_not_yet_reviewed(client):
    load()
    for article in Article.objects.all():
        text = client.get(article.get_absolute_url()).text
        assert "Evidence: <strong>Limited</strong>" in text, article.slug
        assert "Not yet medically reviewed</a>" in text, article.slug
        assert "Medically reviewed by" not in text, article.slug


def test_running_again_changes_nothing_and_duplicates_nothing():
    load()
    before = {a.slug: (a.pk, a.updated_at, a.body) for a in Article.objects.all()}
    output = load()
    after = {a.slug: (a.pk, a.updated_at, a.body) for a in Article.objects.all()}
    assert after == before
    assert "Created 0 article(s), 0 topic(s), 0 author(s)." in output


def test_staff_edits_to_a_launch_article_survive_a_rerun():
    load()
    article = Article.objects.get(slug="understanding-keratosis-pilaris")
    article.title = "Edited by staff"
    article.save()
    load()
    article.refresh_from_db()
    assert article.title == "Edited by staff"
    assert Article.objects.count() == 4


def test_dry_run_writes_nothing():
    output = load("--dry-run")
    assert Article.objects.count() == 0 and Topic.objects.count() == 0
    assert "Would create 4 article(s)" in output


def test_every_line_of_the_source_is_kept_word_for_word_and_in_order():
    load()
    seed_lines = launch.read_seed()
    rebuilt = []
    for spec in launch.ARTICLES:
        article = Article.objects.get(slug=spec.slug)
        if not spec.title:
            rebuilt.append(article.title)
        rebuilt += [text for tag, text in blocks(article.body) if tag != "li"]
    rebuilt.append(launch.call_to_action())
    assert rebuilt == seed_lines


def test_repository_seed_is_the_product_owners_file_unchanged():
    if not SHARED_SEED.exists():
        pytest.skip("shared/seed is not beside this checkout")
    assert launch.SEED_PATH.read_bytes() == SHARED_SEED.read_bytes()


def test_sections_are_h2_headings_and_the_two_lost_lists_are_restored():
    load()
    expected_sections = {spec.slug: len(spec.headings) for spec in launch.ARTICLES}
    for slug, count in expected_sections.items():
        body = Article.objects.get(slug=slug).body
        assert body.count("<h2>") == count, slug
    benefits = Article.objects.get(slug="microneedling-benefits-keratosis-pilaris").body
    assert re.search(
        r"offers several benefits:</p>\s*<ul>(<li>.+?</li>){5}</ul>", benefits
    )
    potential = Article.objects.get(slug="understanding-keratosis-pilaris").body
    assert re.search(
        r"Potential Benefits of Microneedling for Keratosis Pilaris</h2>\s*<ul>",
        potential,
    )


def test_restored_list_items_only_restate_points_the_source_makes():
    # The points shared/seed/README.md allows, each stated in the source itself.
    allowed = (
        "collagen and elastin",
        "keratin plugs",
        "absorption of topical treatments",
        "smooth",
        "inflammation",
    )
    source = " ".join(launch.read_seed()).lower()
    assert all(point in source for point in allowed)
    items = [
        item for spec in launch.ARTICLES for i in spec.lists.values() for item in i
    ]
    assert len(items) == 10
    for item in items:
        assert sum(point in item.lower() for point in allowed) == 1, item


def test_launch_article_is_readable_on_the_site(client):
    load()
    response = client.get("/articles/understanding-microneedling-keratosis-pilaris/")
    assert response.status_code == 200
    assert "Mechanism of Microneedling" in response.text
    assert "Skincare Editorial Team" in response.text


def test_footer_carries_the_sources_closing_line_as_call_to_action(client):
    text = client.get(reverse("articles:home")).text
    assert (
        launch.call_to_action() == "Get updated with beauty resources, tips, and news"
    )
    assert launch.call_to_action() in text
    # The call to action comes with a working form: it posts to the newsletter.
    footer = text[text.index('<footer class="site-footer">') :]
    signup = reverse("newsletter:subscribe")
    assert f'<form class="signup signup--footer" method="post" action="{signup}">' in (
        footer
    )
