from datetime import timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db.models.signals import post_delete
from django.urls import reverse
from django.utils import timezone

from articles.models import Article, SearchSynonym
from articles.search import common
from articles.search import engine as search
from articles.services import save_article, unpublish_article
from tests.factories import make_article, make_author, make_topic

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("articles:search")


def indexed(**fields) -> Article:
    """An article saved the way the site saves them (so it is indexed)."""
    return save_article(article=make_article(**fields))


def titles(query: str, page: int = 1) -> list[str]:
    results = search.search(query, page)
    return [hit.article.title for hit in results.page] if results.page else []


def test_only_live_articles_are_found():
    indexed(title="Retinol at night")
    indexed(title="Retinol draft", status=Article.Status.DRAFT)
    indexed(title="Retinol scheduled", published_at=timezone.now() + timedelta(days=1))
    assert titles("retinol") == ["Retinol at night"]


def test_scheduled_article_appears_when_due_without_reindexing():
    article = indexed(
        title="Niacinamide basics", published_at=timezone.now() + timedelta(days=1)
    )
    assert titles("niacinamide") == []
    Article.objects.filter(pk=article.pk).update(
        published_at=timezone.now() - timedelta(minutes=1)
    )
    assert titles("niacinamide") == ["Niacinamide basics"]


def test_title_ranks_above_summary_above_body():
    body_only = indexed(
        title="Daily routine", summary="What to do each day.", body="<p>Azelaic.</p>"
    )
    summary_only = indexed(
        title="Evening care", summary="Why azelaic acid helps.", body="<p>Gel.</p>"
    )
    in_title = indexed(
        title="Azelaic acid explained", summary="A gentle acid.", body="<p>Yes.</p>"
    )
    assert titles("azelaic") == [in_title.title, summary_only.title, body_only.title]


def test_stemming_finds_other_word_forms():
    indexed(title="One treatment for rough bumps")
    indexed(title="Gentle cleansing", body="<p>Treating dry patches gently.</p>")
    assert titles("treatments") == ["One treatment for rough bumps"]
    assert titles("treated") == ["Gentle cleansing"]


def test_synonyms_match_each_other_both_ways():
    # The data migration adds keratosis pilaris <-> chicken skin, KP.
    assert SearchSynonym.objects.filter(term="keratosis pilaris").exists()
    kp = indexed(title="Microneedling for keratosis pilaris")
    skin = indexed(title="Living with chicken skin")
    assert set(titles("chicken skin")) == {kp.title, skin.title}
    assert set(titles("keratosis pilaris")) == {kp.title, skin.title}
    assert set(titles("kp")) == {kp.title, skin.title}
    indexed(title="Chicken soup for the skin")  # not the phrase: not a match
    assert "Chicken soup for the skin" not in titles("chicken skin")


def test_synonyms_edited_in_the_admin_apply(staff_client):
    indexed(title="Sunscreen every morning")
    response = staff_client.post(
        reverse("admin:articles_searchsynonym_add"),
        {"term": "sunblock", "synonyms": "sunscreen, SPF"},
    )
    assert response.status_code == 302
    assert titles("sunblock") == ["Sunscreen every morning"]
    assert titles("spf") == ["Sunscreen every morning"]


def test_index_follows_edits_unpublishing_and_deletion(staff_client):
    article = indexed(title="Ceramides repair", body="<p>Barrier lipids.</p>")
    assert titles("ceramides") == ["Ceramides repair"]
    article.title = "Barrier repair"
    save_article(article=article)
    assert titles("ceramides") == []
    assert titles("barrier repair") == ["Barrier repair"]

    unpublish_article(article=article)
    assert titles("barrier") == []

    other = indexed(title="Squalane oil")
    staff_client.post(
        reverse("admin:articles_article_delete", args=[other.pk]), {"post": "yes"}
    )
    assert not Article.objects.filter(pk=other.pk).exists()
    assert search.backend().indexed_count() == 1

    Article.objects.all().delete()
    assert search.backend().indexed_count() == 0


def test_rebuild_command_is_idempotent_and_has_a_dry_run():
    # Made without save_article: not indexed until the rebuild.
    make_article(title="Peptide serums")
    indexed(title="Peptide myths")
    out = StringIO()
    call_command("rebuild_search_index", "--dry-run", stdout=out)
    assert "Would index 2 article(s)" in out.getvalue()
    assert titles("peptide") == ["Peptide myths"]
    for _ in range(2):
        out = StringIO()
        call_command("rebuild_search_index", stdout=out)
        assert "Indexed 2 article(s)" in out.getvalue()
        assert search.backend().indexed_count() == 2
    assert set(titles("peptide")) == {"Peptide serums", "Peptide myths"}


def test_launch_content_is_indexed_by_the_loader():
    call_command("load_launch_content", stdout=StringIO())
    live = set(Article.objects.published().values_list("title", flat=True))
    assert len(live) == 4
    assert set(titles("keratosis pilaris")) == live
    assert set(titles("chicken skin")) == live


NASTY = [
    '"',
    '"unbalanced quote',
    "acne AND",
    "OR OR OR",
    "NEAR(acne rosacea, 2)",
    "acne*",
    "^acne",
    "-acne",
    "(((acne",
    "title:acne",
    "acne' OR 1=1; --",
    "\u00e9czema \u4e2d\u6587 \U0001f9f4 \u0627\u0644\u0639\u0631\u0628\u064a\u0629",
    "x" * 5000,
    "acne \x00 null byte",
    "&&||!:* <script>alert(1)</script>",
]


@pytest.mark.parametrize("query", NASTY)
def test_bad_queries_never_raise(client, query):
    indexed(title="Acne and rosacea", body="<p>Acne treatment.</p>")
    response = client.get(SEARCH_URL, {"q": query, "page": "x"})
    assert response.status_code == 200
    assert "<script>alert" not in response.text


def test_long_queries_are_cut_to_200_characters():
    assert len(search.search("acne " * 100).query) <= search.MAX_QUERY_LENGTH


def test_highlights_escape_html(client):
    indexed(
        title="Acids & <b>bases</b>",
        summary='Acids: "<script>alert(1)</script>" in the summary.',
        body="<p>More about acids &lt;img src=x onerror=alert(1)&gt; here.</p>",
    )
    text = client.get(SEARCH_URL, {"q": "acids"}).text
    assert "<mark>Acids</mark> &amp; &lt;b&gt;bases&lt;/b&gt;" in text
    assert "<script>alert(1)" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    assert "<img src=x" not in text
    assert "<mark>acids</mark>" in text


def test_results_are_paginated_and_keep_the_query(client):
    topic, author = make_topic(), make_author()
    for i in range(13):
        indexed(title=f"Hydration tip {i}", topic=topic, author=author)
    first = client.get(SEARCH_URL, {"q": "hydration"}).text
    assert first.count('class="search-result"') == 10
    assert "13 articles" in first
    assert "?q=hydration&amp;page=2" in first
    second = client.get(SEARCH_URL, {"q": "hydration", "page": 2}).text
    assert second.count('class="search-result"') == 3
    beyond = client.get(SEARCH_URL, {"q": "hydration", "page": 99})
    assert beyond.status_code == 200


def test_empty_states(client):
    indexed(title="Moisturiser basics")
    empty = client.get(SEARCH_URL).text
    assert "Tips:" in empty
    assert f'href="{reverse("articles:topics")}"' in empty
    none = client.get(SEARCH_URL, {"q": "zzzqqq"}).text
    assert "No articles match" in none
    assert "Check the spelling" in none
    assert f'href="{reverse("articles:topics")}"' in none


def test_header_has_a_labelled_search_box(client):
    text = client.get(reverse("articles:home")).text
    assert f'action="{SEARCH_URL}"' in text
    assert 'method="get"' in text
    assert '<label class="site-search__label" for="site-search-q">' in text
    assert 'id="site-search-q"' in text and 'name="q"' in text
    page = client.get(SEARCH_URL, {"q": "acne <b>"}).text
    assert 'value="acne &lt;b&gt;"' in page


def test_query_count_is_constant(client, django_assert_max_num_queries):
    topic, author = make_topic(), make_author()
    for i in range(3):
        indexed(title=f"Serum guide {i}", topic=topic, author=author)
    # A new search: four for the results, one for the pinned articles, one to
    # count it (articles/search/insight.py).
    with django_assert_max_num_queries(6):
        client.get(SEARCH_URL, {"q": "serum"})
    for i in range(3, 25):
        indexed(title=f"Serum guide {i}", topic=make_topic(), author=make_author())
    # A later page: neither pinned articles nor counted again.
    with django_assert_max_num_queries(4):
        response = client.get(SEARCH_URL, {"q": "serum guide", "page": 2})
    assert response.text.count('class="search-result"') == 10


def test_the_deletion_receiver_is_connected_by_the_app_config():
    # Connected in ArticlesConfig.ready() under its dispatch_uid, not as a side
    # effect of importing the admin.
    uids = {key[0] for key, *_ in post_delete.receivers}
    assert "articles_article_deleted" in uids


def test_a_deleted_article_leaves_the_index():
    article = save_article(article=make_article(title="Retinol basics"))
    assert search.search("retinol").total == 1
    article.delete()
    assert search.search("retinol").total == 0


# Closest matches when no article has every word ------------------------------------


def test_without_an_article_having_every_word_those_sharing_most_come_first():
    topic, author = make_topic(), make_author()
    # Two of the three words, but only in the body: weak relevance.
    two = indexed(
        title="Evening routine",
        summary="What to do at night.",
        body="<p>Retinol and niacinamide can be layered.</p>",
        topic=topic,
        author=author,
    )
    # One word each, the same word, in the title (strong relevance) or the body.
    one_title = indexed(title="Retinol explained", topic=topic, author=author)
    one_body = indexed(
        title="Morning routine",
        body="<p>Start low with retinol, twice a week.</p>",
        topic=topic,
        author=author,
    )
    indexed(title="Unrelated cleansing", topic=topic, author=author)
    results = search.search("retinol niacinamide sunscreen")
    assert results.closest
    assert results.total == 3
    assert [hit.article for hit in results.page] == [two, one_title, one_body]


def test_closest_matches_count_a_term_and_its_synonyms_as_one_word():
    # "chicken skin" is a synonym of "keratosis pilaris": one clause, not two.
    both = indexed(title="Chicken skin and exfoliation")
    kp_only = indexed(title="Keratosis pilaris overview")
    results = search.search("keratosis pilaris exfoliation cure")
    assert results.closest
    assert [hit.article for hit in results.page] == [both, kp_only]


def test_an_article_with_every_word_means_no_closest_matches():
    indexed(title="Retinol and sunscreen together")
    indexed(title="Retinol alone")
    results = search.search("retinol sunscreen")
    assert not results.closest
    assert titles("retinol sunscreen") == ["Retinol and sunscreen together"]


def test_closest_matches_never_include_drafts_or_scheduled_articles():
    indexed(title="Retinol sunscreen draft", status=Article.Status.DRAFT)
    indexed(
        title="Retinol sunscreen scheduled",
        published_at=timezone.now() + timedelta(days=1),
    )
    live = indexed(title="Sunscreen daily")
    results = search.search("retinol sunscreen")
    # The only articles with both words are not live: the live one stands in.
    assert results.closest
    assert [hit.article for hit in results.page] == [live]
    draft_only = search.search("retinol")
    assert draft_only.total == 0 and not draft_only.closest


def test_page_says_when_it_shows_the_closest_matches(client):
    indexed(title="Keratosis pilaris basics", summary="Rough bumps explained.")
    text = client.get(SEARCH_URL, {"q": "keratosis pilaris cure"}).text
    assert (
        "No article has all of the words in &ldquo;keratosis pilaris cure&rdquo;; "
        "these share the most of them (1 article):"
    ) in text
    assert text.count('class="search-result"') == 1
    # Highlighted as the database marks words: as a phrase or word by word.
    assert "<mark>Keratosis" in text and "</mark> basics" in text
    assert "No articles match" not in text


def test_closest_matches_are_paginated(client):
    topic, author = make_topic(), make_author()
    for i in range(12):
        indexed(title=f"Peptide note {i}", topic=topic, author=author)
    first = client.get(SEARCH_URL, {"q": "peptide ceramide"}).text
    assert "No article has all of the words" in first
    assert "(12 articles)" in first
    assert first.count('class="search-result"') == 10
    second = client.get(SEARCH_URL, {"q": "peptide ceramide", "page": 2}).text
    assert second.count('class="search-result"') == 2
    assert "No article has all of the words" in second


def test_a_single_word_matching_nothing_still_says_nothing_matches(client):
    indexed(title="Moisturiser basics")
    text = client.get(SEARCH_URL, {"q": "zzzqqq"}).text
    assert "No articles match &ldquo;zzzqqq&rdquo;" in text
    assert "No article has all of the words" not in text
    many = client.get(SEARCH_URL, {"q": "zzzqqq xxyyzz"}).text
    assert "No articles match" in many
    assert "No article has all of the words" not in many


def test_closest_match_query_count_is_constant(client, django_assert_max_num_queries):
    topic, author = make_topic(), make_author()
    for i in range(3):
        indexed(title=f"Serum guide {i}", topic=topic, author=author)
    # One more than a full match: the count of articles with every word comes
    # back empty before the closest matches are counted.
    # Plus the pinned articles and the count of a new search.
    with django_assert_max_num_queries(7):
        client.get(SEARCH_URL, {"q": "serum ceramide"})
    for i in range(3, 25):
        indexed(title=f"Serum guide {i}", topic=make_topic(), author=make_author())
    with django_assert_max_num_queries(5):
        response = client.get(SEARCH_URL, {"q": "serum ceramide", "page": 2})
    assert response.text.count('class="search-result"') == 10


def test_search_page_shows_one_search_box(client):
    indexed(title="Moisturiser basics")
    for params in ({}, {"q": "moisturiser"}, {"q": "zzzqqq"}):
        text = client.get(SEARCH_URL, params).text
        assert text.count('type="search"') == 1, params
        assert text.count('role="search"') == 1, params
        assert 'id="search-page-q"' in text
        assert 'id="site-search-q"' not in text
    # Every other page keeps the header's box.
    assert 'id="site-search-q"' in client.get(reverse("articles:home")).text


# A word found in many articles: only the best candidates are ranked -----------------


@pytest.fixture
def small_caps(monkeypatch):
    """Caps a handful of articles can pass: 5 listed, 2 title-or-summary."""
    monkeypatch.setattr(common, "MAX_RESULTS", 5)
    monkeypatch.setattr(common, "HEAD_CANDIDATES", 2)


def test_a_title_match_comes_first_even_older_than_the_capped_matches(small_caps):
    topic, author = make_topic(), make_author()
    # Made first: the index reads matches newest first and stops at the cap,
    # long before this one.
    in_title = indexed(title="Sebum explained", topic=topic, author=author)
    for i in range(8):
        indexed(
            title=f"Note {i}",
            body="<p>Some sebum in the body.</p>",
            topic=topic,
            author=author,
        )
    results = search.search("sebum")
    hits = [hit.article for hit in results.page]
    assert hits[0] == in_title
    assert len(hits) == 5
    assert results.total == 5 and results.more


def test_pages_go_from_the_title_group_into_the_rest_without_gaps(
    small_caps, monkeypatch
):
    topic, author = make_topic(), make_author()
    made = {}
    # Interleaved, so the newest matches hold both kinds. Newest five: B4, H2,
    # B3, H1, B2; the two newest with the word in the title: H2, H1.
    for name in ["B0", "B1", "H0", "B2", "H1", "B3", "H2", "B4"]:
        title_word = "Sebum" if name[0] == "H" else "Note"
        made[name] = indexed(
            title=f"{title_word} {name}",
            body="<p>Sebum and pores.</p>",
            topic=topic,
            author=author,
        ).title
    monkeypatch.setattr(search, "PAGE_SIZE", 3)
    first, second = titles("sebum", 1), titles("sebum", 2)
    assert len(first) == 3 and len(second) == 2
    listed = first + second
    assert set(listed[:2]) == {made["H2"], made["H1"]}
    assert set(listed[2:]) == {made["B4"], made["B3"], made["B2"]}
    # Past the last page: the last page.
    assert titles("sebum", 3) == second
    # The same order as on one page.
    monkeypatch.setattr(search, "PAGE_SIZE", 10)
    assert titles("sebum") == listed


def test_page_says_when_more_articles_match_than_are_listed(client, small_caps):
    topic, author = make_topic(), make_author()
    for i in range(7):
        indexed(title=f"Sebum note {i}", topic=topic, author=author)
    for i in range(5):
        indexed(title=f"Pores note {i}", topic=topic, author=author)
    text = client.get(SEARCH_URL, {"q": "sebum"}).text
    assert "5+ articles for &ldquo;sebum&rdquo;" in text
    assert "Only the first 5 are listed: add a word to narrow the search." in text
    assert text.count('class="search-result"') == 5
    # Exactly as many as the cap: an exact count, nothing left out.
    exact = client.get(SEARCH_URL, {"q": "pores"}).text
    assert "5 articles for &ldquo;pores&rdquo;" in exact
    assert "5+ articles" not in exact and "Only the first" not in exact


def test_closest_matches_say_when_more_match_than_are_listed(client, small_caps):
    topic, author = make_topic(), make_author()
    for i in range(7):
        indexed(title=f"Sebum note {i}", topic=topic, author=author)
    results = search.search("sebum zzzqqq")
    assert results.closest and results.more
    text = client.get(SEARCH_URL, {"q": "sebum zzzqqq"}).text
    assert "these share the most of them (5+ articles):" in text
    assert text.count('class="search-result"') == 5


def test_capped_search_query_count_is_constant(
    client, small_caps, monkeypatch, django_assert_max_num_queries
):
    monkeypatch.setattr(search, "PAGE_SIZE", 3)
    topic, author = make_topic(), make_author()
    for i in range(12):
        indexed(
            title=f"Sebum note {i}" if i % 3 else f"Note {i}",
            body="<p>Sebum.</p>",
            topic=topic,
            author=author,
        )
    # Page 1 ranks both groups, page 2 the rest only: one query each.
    # Page 1 asked for by number: its pinned articles, but not counted again.
    for page, shown, queries in ((1, 3, 5), (2, 2, 4)):
        with django_assert_max_num_queries(queries):
            response = client.get(SEARCH_URL, {"q": "sebum", "page": page})
        assert response.text.count('class="search-result"') == shown
