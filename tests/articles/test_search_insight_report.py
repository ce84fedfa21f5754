"""The search insight report and its buttons (articles/search/insight_report.py,
articles/admin/search_insight.py), per role: who sees it, who may add a synonym,
pin an article or put an idea on the editorial calendar, and what each does."""

from datetime import timedelta

import pytest
from django.core.exceptions import PermissionDenied
from django.urls import reverse
from django.utils import timezone

from articles.calendar import IdeaSource
from articles.models import (
    SearchPromotion,
    SearchSynonym,
    StoryIdea,
)
from articles.search import engine as search
from articles.search import insight, insight_report
from tests.articles.test_search_insight import (
    IDEA_URL,
    OTHER_ROLES,
    PIN_URL,
    REPORT_URL,
    SYNONYM_URL,
    indexed,
    signed_in,
)
from tests.conftest import VerifiedClient
from tests.factories import make_article, make_role_user, make_staff

pytestmark = pytest.mark.django_db

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
    assert [b.total for b in week.chart.bars[-2:]] == [1, 5]
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
