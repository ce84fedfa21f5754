"""Search insight (articles/search/insight.py, insight_report.py and the admin in
articles/admin/search_insight.py): every public search counted in aggregate and
nothing about who searched, old counts forgotten, the editors' report and its
buttons, pinned articles on the results, ideas on the editorial calendar."""

import time
from datetime import timedelta
from io import StringIO

import pytest
from django.core.exceptions import PermissionDenied
from django.core.management import call_command
from django.test import Client
from django.urls import reverse
from django.utils import timezone
from django_tasks import TaskResultStatus
from django_tasks_db.models import DBTaskResult

from articles.calendar import IdeaSource
from articles.models import (
    Article,
    SearchCount,
    SearchPromotion,
    SearchSynonym,
    StoryIdea,
)
from articles.search import engine as search
from articles.search import insight, insight_report
from articles.services import save_article
from articles.tasks import forget_old_searches
from tests.conftest import VerifiedClient
from tests.factories import make_article, make_role_user, make_staff

pytestmark = pytest.mark.django_db

SEARCH_URL = reverse("articles:search")
REPORT_URL = reverse("admin:articles_searchcount_changelist")
SYNONYM_URL = reverse("admin:articles_searchcount_synonym")
PIN_URL = reverse("admin:articles_searchcount_pin")
IDEA_URL = reverse("admin:articles_searchcount_idea")
OTHER_ROLES = ("Writer", "Medical reviewer", "Newsletter editor")


def indexed(**fields) -> Article:
    return save_article(article=make_article(**fields))


def signed_in(user) -> Client:
    client = VerifiedClient()
    client.force_login(user)
    return client


def rows() -> list[tuple]:
    return list(
        SearchCount.objects.order_by("day", "query", "found_nothing").values_list(
            "day", "query", "found_nothing", "withheld", "count"
        )
    )


def counted(query: str) -> int:
    return sum(SearchCount.objects.filter(query=query).values_list("count", flat=True))


# Counting -----------------------------------------------------------------------


def test_queries_are_normalised_case_folded_spaces_collapsed_and_cut():
    assert insight.normalise("  Retinol\t\tSERUM \n") == "retinol serum"
    assert insight.normalise("Stra\u00dfe \uff33\uff30\uff26") == "strasse spf"
    assert 195 <= len(insight.normalise("acne " * 3000)) <= 200
    assert insight.normalise("acne\x00null\u200bbyte\x01") == "acne null byte"


def test_a_search_is_counted_once_per_day_with_whether_it_found_anything(client):
    indexed(title="Retinol at night")
    today = timezone.localdate()
    client.get(SEARCH_URL, {"q": "  Retinol  "})
    client.get(SEARCH_URL, {"q": "RETINOL"})
    client.get(SEARCH_URL, {"q": "zzzqqq"})
    assert rows() == [
        (today, "retinol", False, False, 2),
        (today, "zzzqqq", True, False, 1),
    ]


def test_each_day_has_its_own_row():
    today = timezone.localdate()
    for day in (today - timedelta(days=1), today, today):
        insight.count_search(query="acne", found_nothing=False, day=day)
    assert rows() == [
        (today - timedelta(days=1), "acne", False, False, 1),
        (today, "acne", False, False, 2),
    ]


def test_ten_kilobytes_of_text_are_cut_and_counted_once(client):
    client.get(SEARCH_URL, {"q": "eczema " * 1500})
    assert SearchCount.objects.count() == 1
    row = SearchCount.objects.get()
    assert row.count == 1 and len(row.query) <= 200
    assert row.query.startswith("eczema eczema")


@pytest.mark.parametrize(
    "query",
    [
        "jane.doe@example.com",
        "write to jane@example please",
        "+44 20 7946 0958",
        "call 555-867-5309",
        "(212) 555 0100",
    ],
)
def test_emails_and_phone_numbers_are_withheld_not_stored(client, query):
    client.get(SEARCH_URL, {"q": query})
    assert rows() == [(timezone.localdate(), "", True, True, 1)]


@pytest.mark.parametrize("query", ["spf 50", "vitamin c 2024", "ceramides @ night"])
def test_ordinary_queries_with_numbers_or_an_at_sign_are_kept(query):
    assert not insight.is_personal(insight.normalise(query))


def test_later_pages_head_requests_and_queries_without_words_are_not_counted(client):
    for i in range(12):
        indexed(title=f"Hydration tip {i}")
    client.get(SEARCH_URL, {"q": "hydration", "page": 2})
    client.get(SEARCH_URL, {"q": "hydration", "page": 1})
    client.head(SEARCH_URL, {"q": "hydration"})
    client.get(SEARCH_URL, {"q": "!!! ???"})
    client.get(SEARCH_URL)
    assert rows() == []


def test_the_search_page_is_never_cached_so_every_search_is_counted(settings):
    settings.PAGE_CACHE = True
    visitor = Client()
    for _ in range(3):
        response = visitor.get(SEARCH_URL, {"q": "acne"})
        assert response["Cache-Control"] == "private, no-store"
        assert not response.cookies
    assert counted("acne") == 3


def test_nothing_about_the_visitor_is_stored():
    fields = {f.name for f in SearchCount._meta.get_fields()}
    assert fields == {"id", "day", "query", "found_nothing", "withheld", "count"}


def test_counting_adds_one_statement_to_a_search(client, django_assert_num_queries):
    insight.count_search(query="acne", found_nothing=True)
    with django_assert_num_queries(1):
        insight.count_search(query="acne", found_nothing=True)
    assert counted("acne") == 2


def test_buffered_searches_are_written_together_once_the_interval_is_over(
    client, settings
):
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 0.3
    for _ in range(3):
        client.get(SEARCH_URL, {"q": "acne"})
    assert rows() == []
    time.sleep(0.35)
    client.get(SEARCH_URL, {"q": "zzzqqq"})
    today = timezone.localdate()
    assert rows() == [
        (today, "acne", True, False, 3),
        (today, "zzzqqq", True, False, 1),
    ]


def test_buffered_searches_are_written_once_enough_rows_wait(settings, monkeypatch):
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 3600
    monkeypatch.setattr(insight, "BUFFER_KEYS", 3)
    insight.count_search(query="one", found_nothing=False)
    insight.count_search(query="two", found_nothing=False)
    insight.count_search(query="one", found_nothing=False)
    assert rows() == []
    insight.count_search(query="three", found_nothing=True)
    assert {(r[1], r[4]) for r in rows()} == {("one", 2), ("two", 1), ("three", 1)}
    assert insight.flush() == 0


def test_a_flush_writes_what_the_process_holds_in_one_statement(
    settings, django_assert_num_queries
):
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 3600
    for query in ("a b", "c d", "a b"):
        insight.count_search(query=query, found_nothing=False)
    insight.count_search(query="a b", found_nothing=False)
    with django_assert_num_queries(1):
        assert insight.flush() == 4
    insight.count_search(query="a b", found_nothing=False)
    insight.flush()
    assert counted("a b") == 4


# Retention ----------------------------------------------------------------------


def test_counts_past_the_retention_are_deleted_and_a_dry_run_deletes_nothing(settings):
    settings.SEARCH_INSIGHT_RETENTION_DAYS = 90
    today = timezone.localdate()
    for age in (0, 89, 90, 200):
        insight.count_search(
            query=f"age {age}", found_nothing=False, day=today - timedelta(days=age)
        )
    out = StringIO()
    call_command("forget_old_searches", "--dry-run", stdout=out)
    assert "Would delete 2 search count row(s)" in out.getvalue()
    assert SearchCount.objects.count() == 4
    out = StringIO()
    call_command("forget_old_searches", stdout=out)
    assert "Deleted 2 search count row(s)" in out.getvalue()
    assert set(SearchCount.objects.values_list("query", flat=True)) == {
        "age 0",
        "age 89",
    }
    out = StringIO()
    call_command("forget_old_searches", stdout=out)
    assert "Deleted 0 search count row(s)" in out.getvalue()
    assert SearchCount.objects.count() == 2


def test_the_daily_run_deletes_and_queues_the_next_one_once(database_tasks):
    old = timezone.localdate() - timedelta(days=400)
    insight.count_search(query="old", found_nothing=False, day=old)
    out = StringIO()
    call_command("forget_old_searches", stdout=out)
    call_command("forget_old_searches", stdout=out)
    assert "the daily run was queued already" in out.getvalue()
    waiting = DBTaskResult.objects.filter(
        task_path=forget_old_searches.module_path, status=TaskResultStatus.READY
    )
    assert waiting.count() == 1
    waiting.delete()
    insight.count_search(query="old", found_nothing=False, day=old)
    assert forget_old_searches.call() == 1
    next_run = waiting.get()
    assert next_run.run_after > timezone.now() + timedelta(hours=23)


# Pinned articles on the results -------------------------------------------------


def test_pinned_live_articles_come_first_drafts_and_scheduled_never(client):
    indexed(title="Sunscreen basics")
    pinned = indexed(title="Mineral filters explained")
    draft = indexed(title="Draft pick", status=Article.Status.DRAFT)
    scheduled = indexed(
        title="Scheduled pick", published_at=timezone.now() + timedelta(days=1)
    )
    for position, article in enumerate((draft, pinned, scheduled), start=1):
        SearchPromotion.objects.create(
            query="sunscreen", article=article, position=position
        )
    text = client.get(SEARCH_URL, {"q": "Sunscreen"}).text
    assert "Recommended by our editors" in text
    assert text.index("Mineral filters explained") < text.index("</mark> basics")
    assert "Draft pick" not in text and "Scheduled pick" not in text
    assert counted("sunscreen") == 1


def test_a_pinned_article_is_listed_once_and_only_on_the_first_page(client):
    for i in range(12):
        indexed(title=f"Hydration tip {i}")
    pinned = Article.objects.get(title="Hydration tip 3")
    SearchPromotion.objects.create(query="hydration", article=pinned)
    first = client.get(SEARCH_URL, {"q": "hydration"}).text
    assert first.count("Hydration tip 3<") == 1
    second = client.get(SEARCH_URL, {"q": "hydration", "page": 2}).text
    assert "Recommended by our editors" not in second


def test_a_query_that_finds_only_its_pinned_article_found_something(client):
    pinned = indexed(title="Patch testing")
    SearchPromotion.objects.create(query="allergy check", article=pinned)
    text = client.get(SEARCH_URL, {"q": "allergy check"}).text
    assert "Patch testing" in text
    assert "No other articles match" in text
    assert rows() == [(timezone.localdate(), "allergy check", False, False, 1)]


# The report ---------------------------------------------------------------------


def test_only_editors_and_superusers_see_the_report(client):
    assert signed_in(make_role_user("Editor")).get(REPORT_URL).status_code == 200
    assert signed_in(make_staff(username="owner")).get(REPORT_URL).status_code == 200
    for role in OTHER_ROLES:
        assert signed_in(make_role_user(role)).get(REPORT_URL).status_code == 403
    anonymous = client.get(REPORT_URL)
    assert anonymous.status_code == 302
    assert anonymous["Location"].startswith(reverse("admin:login"))


def test_the_admin_home_links_the_report_for_editors_only():
    link = f'href="{REPORT_URL}"'
    assert link in signed_in(make_role_user("Editor")).get("/admin/").text
    assert link not in signed_in(make_role_user("Writer")).get("/admin/").text


def test_the_report_lists_top_searches_and_those_that_found_nothing_in_the_period():
    today = timezone.localdate()
    for _ in range(3):
        insight.count_search(query="acne", found_nothing=False)
    insight.count_search(query="sunblok", found_nothing=True)
    insight.count_search(query="sunblok", found_nothing=True, day=today - timedelta(1))
    insight.count_search(
        query="old miss", found_nothing=True, day=today - timedelta(20)
    )
    insight.count_search(query="me@example.com", found_nothing=True)
    editor = signed_in(make_role_user("Editor"))
    week = editor.get(REPORT_URL, {"days": 7}).context["report"]
    assert [(r.query, r.searches) for r in week.top] == [("acne", 3), ("sunblok", 2)]
    assert [(r.query, r.searches) for r in week.nothing] == [("sunblok", 2)]
    assert (week.searches, week.found_nothing, week.withheld) == (6, 3, 1)
    assert [b.value.total for b in week.chart.bars[-2:]] == [1, 5]
    month = editor.get(REPORT_URL, {"days": 30}).context["report"]
    assert {r.query for r in month.nothing} == {"sunblok", "old miss"}
    text = editor.get(REPORT_URL, {"days": 7}).text
    assert "<svg" in text and "Searches each day" in text
    assert "me@example.com" not in text


def test_an_unknown_period_shows_thirty_days():
    editor = signed_in(make_role_user("Editor"))
    assert editor.get(REPORT_URL, {"days": "x"}).context["report"].days == 30
    assert editor.get(REPORT_URL, {"days": "365"}).context["report"].days == 30


def test_the_report_query_count_is_constant(django_assert_max_num_queries):
    editor = signed_in(make_role_user("Editor"))
    today = timezone.localdate()
    insight.count_search(query="one", found_nothing=True)
    with django_assert_max_num_queries(20) as few:
        editor.get(REPORT_URL)
    for n in range(60):
        day = today - timedelta(days=n % 30)
        insight.count_search(query=f"miss {n}", found_nothing=True, day=day)
        insight.count_search(query=f"hit {n}", found_nothing=False, day=day)
    SearchPromotion.objects.create(query="miss 3", article=make_article())
    StoryIdea.objects.create(query="miss 4", planned_for=today)
    with django_assert_max_num_queries(len(few.captured_queries)):
        response = editor.get(REPORT_URL)
    assert len(response.context["report"].nothing) == 50


# The buttons --------------------------------------------------------------------


def test_an_added_synonym_makes_the_query_find_something():
    indexed(title="Sunscreen every morning")
    assert search.search("sunblok").total == 0
    response = signed_in(make_role_user("Editor")).post(
        SYNONYM_URL, {"query": "sunblok", "means": "Sunscreen", "days": "7"}
    )
    assert response.status_code == 302
    assert response["Location"] == f"{REPORT_URL}?days=7#nothing"
    assert [h.article.title for h in search.search("sunblok").page] == [
        "Sunscreen every morning"
    ]


def test_a_synonym_of_an_existing_term_is_added_to_it():
    editor = signed_in(make_role_user("Editor"))
    editor.post(SYNONYM_URL, {"query": "bumpy arms", "means": "Keratosis Pilaris"})
    editor.post(SYNONYM_URL, {"query": "bumpy arms", "means": "keratosis pilaris"})
    kp = SearchSynonym.objects.get(term="keratosis pilaris")
    assert kp.synonyms.count("bumpy arms") == 1
    assert SearchSynonym.objects.filter(term__iexact="keratosis pilaris").count() == 1


def test_a_synonym_without_a_word_it_means_is_refused_with_a_message():
    editor = signed_in(make_role_user("Editor"))
    response = editor.post(SYNONYM_URL, {"query": "sunblok", "means": " "}, follow=True)
    assert "Say which word or phrase the query means" in response.text
    assert not SearchSynonym.objects.filter(synonyms__contains="sunblok").exists()


def test_pinning_from_the_report_by_address_or_slug():
    article = indexed(title="Mineral filters", slug="mineral-filters")
    editor = signed_in(make_role_user("Editor"))
    editor.post(
        PIN_URL, {"query": "Zinc  Cream", "article": article.get_absolute_url()}
    )
    editor.post(PIN_URL, {"query": "zinc cream", "article": "mineral-filters"})
    pin = SearchPromotion.objects.get()
    assert (pin.query, pin.article, pin.position) == ("zinc cream", article, 1)
    missing = editor.post(
        PIN_URL, {"query": "zinc cream", "article": "no-such"}, follow=True
    )
    assert "No article has the address or slug" in missing.text
    assert SearchPromotion.objects.count() == 1


def test_write_about_this_lands_on_the_editorial_calendar():
    editor_user = make_role_user("Editor")
    editor = signed_in(editor_user)
    day = timezone.localdate() + timedelta(days=7)
    editor.post(IDEA_URL, {"query": "Fungal acne", "planned_for": day.isoformat()})
    editor.post(IDEA_URL, {"query": "fungal acne", "planned_for": day.isoformat()})
    idea = StoryIdea.objects.get()
    assert (idea.query, idea.planned_for, idea.created_by) == (
        "fungal acne",
        day,
        editor_user,
    )
    week = {"view": "week", "date": day.isoformat()}
    for user in (editor_user, make_role_user("Writer")):
        text = signed_in(user).get(reverse("calendar:calendar"), week).text
        assert "Write about “fungal acne”" in text
        assert f"{reverse('admin:articles_article_add')}?title=Fungal+acne" in text
    newsletter = signed_in(make_role_user("Newsletter editor"))
    assert "fungal acne" not in newsletter.get(reverse("calendar:calendar"), week).text


def test_an_idea_needs_a_real_date_not_in_the_past():
    editor = signed_in(make_role_user("Editor"))
    bad = editor.post(IDEA_URL, {"query": "acne", "planned_for": "soon"}, follow=True)
    assert "is not a date" in bad.text
    past = (timezone.localdate() - timedelta(days=3)).isoformat()
    editor.post(IDEA_URL, {"query": "acne", "planned_for": past})
    assert not StoryIdea.objects.exists()


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_other_roles_crafted_posts_are_refused_and_change_nothing(role):
    article = indexed(title="Sunscreen every morning")
    other = signed_in(make_role_user(role))
    day = (timezone.localdate() + timedelta(days=3)).isoformat()
    posts = [
        (SYNONYM_URL, {"query": "sunblok", "means": "sunscreen"}),
        (PIN_URL, {"query": "sunblok", "article": article.slug}),
        (IDEA_URL, {"query": "sunblok", "planned_for": day}),
    ]
    for url, data in posts:
        assert other.post(url, data).status_code == 403
    assert not SearchSynonym.objects.filter(term="sunscreen").exists()
    assert not SearchPromotion.objects.exists()
    assert not StoryIdea.objects.exists()


def test_anonymous_posts_go_to_the_sign_in_and_change_nothing(client):
    for url in (SYNONYM_URL, PIN_URL, IDEA_URL):
        response = client.post(url, {"query": "x", "means": "y", "article": "z"})
        assert response.status_code == 302
        assert response["Location"].startswith(reverse("admin:login"))
    assert not StoryIdea.objects.exists() and not SearchPromotion.objects.exists()


def test_a_post_without_its_csrf_token_is_refused():
    strict = VerifiedClient(enforce_csrf_checks=True)
    strict.force_login(make_role_user("Editor"))
    day = timezone.localdate().isoformat()
    response = strict.post(IDEA_URL, {"query": "acne", "planned_for": day})
    assert response.status_code == 403
    assert not StoryIdea.objects.exists()


def test_the_buttons_show_only_for_those_who_may_use_them():
    insight.count_search(query="sunblok", found_nothing=True)
    text = signed_in(make_role_user("Editor")).get(REPORT_URL).text
    for url in (SYNONYM_URL, PIN_URL, IDEA_URL):
        assert f'action="{url}"' in text
    assert "Write about this" in text


@pytest.mark.parametrize("role", OTHER_ROLES)
def test_the_services_refuse_other_roles_whatever_called_them(role):
    user = make_role_user(role)
    article = indexed(title="Sunscreen every morning")
    day = timezone.localdate()
    calls = [
        lambda: insight_report.build(user=user, days=7),
        lambda: insight_report.add_synonym(user=user, query="a", means="b"),
        lambda: insight_report.pin_article(user=user, query="a", article=article),
        lambda: insight_report.plan_idea(user=user, query="a", planned_for=day),
    ]
    for call in calls:
        with pytest.raises(PermissionDenied):
            call()
    assert not SearchPromotion.objects.exists() and not StoryIdea.objects.exists()


def test_an_idea_is_in_its_planners_calendar_feed_only():
    editor, other = make_role_user("Editor"), make_role_user("Editor", username="ed2")
    day = timezone.localdate() + timedelta(days=2)
    insight_report.plan_idea(user=editor, query="slugging", planned_for=day)
    source = IdeaSource()
    window = {"start": day - timedelta(days=1), "end": day + timedelta(days=1)}
    [entry] = source.feed_entries(user=editor, **window)
    assert (entry.day, entry.kind, entry.title) == (
        day,
        "idea",
        "Write about “slugging”",
    )
    assert source.feed_entries(user=other, **window) == []
    assert source.entries(user=other, topic="1", **window) == []
