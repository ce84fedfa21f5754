"""Articles on the editorial calendar: planned dates (kept apart from the publish
time), publishes and reviews falling due as entries; moving a planned date,
checked on the server per role whatever the path (calendar POST, change form,
service)."""

from datetime import UTC, date, datetime, timedelta

import pytest
from django.urls import reverse
from django.utils import timezone

from articles.calendar import ArticleSource
from articles.editorial import planning
from articles.errors import WorkflowError
from articles.models import Article, Stage
from tests.articles.test_editing import change_url, form_data
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_draft,
    make_reviewer,
    make_role_user,
    make_scheduled,
    make_staff,
)

pytestmark = pytest.mark.django_db


def plan_url(article: Article) -> str:
    return reverse("admin:articles_article_plan", args=[article.pk])


def signed_in(user) -> VerifiedClient:
    client = VerifiedClient()
    client.force_login(user)
    return client


def planned_for(article: Article) -> date | None:
    return Article.objects.values_list("planned_for", flat=True).get(pk=article.pk)


MAKERS = {
    "writer": lambda: make_role_user("Writer"),
    "other writer": lambda: make_role_user("Writer", username="other-writer"),
    "reviewer": make_reviewer,
    "editor": lambda: make_role_user("Editor"),
    "newsletter editor": lambda: make_role_user("Newsletter editor"),
    "superuser": lambda: make_staff(username="owner"),
}


class People(dict):
    """Each role's user, made when first asked for (hashing passwords is slow)."""

    def __missing__(self, role: str):
        self[role] = MAKERS[role]()
        return self[role]


@pytest.fixture
def people():
    return People()


def test_planned_date_is_apart_from_the_publish_time():
    today = timezone.localdate()
    draft = make_draft(planned_for=today + timedelta(days=3))
    assert draft.published_at is None
    assert not Article.objects.published().filter(pk=draft.pk).exists()
    field = Article._meta.get_field("planned_for")
    assert field.null and field.db_index


def test_source_gives_planned_drafts_publishes_and_reviews_due():
    today = timezone.localdate()
    start, end = today - timedelta(days=7), today + timedelta(days=7)
    draft = make_draft(title="Plan", planned_for=today)
    # A published article's old plan is spent: not shown.
    make_article(title="Old plan", planned_for=today)
    scheduled = make_scheduled(title="Soon", delay=timedelta(days=1))
    # Published within the window (the factory's default time moves back an hour
    # per article made in the session).
    live = make_article(
        title="Due",
        review_due=today + timedelta(days=2),
        published_at=timezone.now() - timedelta(hours=1),
    )
    make_draft(title="Later", planned_for=today + timedelta(days=30))
    entries = ArticleSource().entries(user=make_staff(), start=start, end=end)
    found = {(e.kind, e.title): e for e in entries}
    assert ("planned", "Old plan") not in found
    assert ("planned", "Later") not in found
    assert found[("planned", "Plan")].day == today
    assert found[("planned", "Plan")].move_url == plan_url(draft)
    soon = found[("publish", "Soon")]
    assert soon.kind_label == "Scheduled" and soon.at == scheduled.published_at
    assert found[("review", "Due")].day == live.review_due
    assert found[("review", "Due")].url == change_url(live)
    assert found[("publish", "Due")].kind_label == "Published"


def test_only_who_may_edit_the_article_gets_a_move_form(people):
    today = timezone.localdate()
    own = make_draft(title="Own", planned_for=today, created_by=people["writer"])
    make_draft(title="Theirs", planned_for=today, created_by=people["other writer"])
    make_draft(
        title="In review",
        planned_for=today,
        created_by=people["writer"],
        stage=Stage.IN_REVIEW,
    )

    def movable(user) -> set[str]:
        entries = ArticleSource().entries(user=user, start=today, end=today)
        return {e.title for e in entries if e.move_url}

    assert movable(people["writer"]) == {"Own"}
    assert movable(people["editor"]) == {"Own", "Theirs", "In review"}
    assert movable(people["superuser"]) == {"Own", "Theirs", "In review"}
    assert movable(people["reviewer"]) == set()
    assert own.pk


@pytest.mark.parametrize(
    ("who", "whose", "moved"),
    [
        ("writer", "writer", True),
        ("writer", "other writer", False),
        ("other writer", "writer", False),
        ("reviewer", "writer", False),
        ("newsletter editor", "writer", False),
        ("editor", "writer", True),
        ("superuser", "other writer", True),
    ],
)
def test_moving_a_planned_date_by_crafted_post_per_role(people, who, whose, moved):
    today = timezone.localdate()
    draft = make_draft(planned_for=today, created_by=people[whose])
    target = today + timedelta(days=5)
    response = signed_in(people[who]).post(
        plan_url(draft), {"planned_for": target.isoformat()}
    )
    if moved:
        assert response.status_code == 302
        assert response["Location"] == reverse("calendar:calendar")
        assert planned_for(draft) == target
    else:
        assert response.status_code == 403
        assert planned_for(draft) == today


def test_a_writer_cannot_move_their_article_while_it_is_in_review(people):
    today = timezone.localdate()
    draft = make_draft(
        planned_for=today, created_by=people["writer"], stage=Stage.IN_REVIEW
    )
    response = signed_in(people["writer"]).post(
        plan_url(draft), {"planned_for": "2030-01-01"}
    )
    assert response.status_code == 403
    assert planned_for(draft) == today


def test_moving_goes_back_to_the_calendar_page_but_never_off_site(people):
    draft = make_draft(planned_for=timezone.localdate())
    client = signed_in(people["editor"])
    back = reverse("calendar:calendar") + "?view=week&date=2026-12-09"
    response = client.post(plan_url(draft), {"planned_for": "2027-01-04", "next": back})
    assert response["Location"] == back
    response = client.post(
        plan_url(draft),
        {"planned_for": "2027-01-05", "next": "https://evil.example/"},
    )
    assert response["Location"] == reverse("calendar:calendar")
    assert planned_for(draft) == date(2027, 1, 5)


def test_a_bad_date_changes_nothing_and_an_empty_one_clears_the_plan(people):
    today = timezone.localdate()
    draft = make_draft(planned_for=today)
    client = signed_in(people["editor"])
    for bad in ("2027-02-30", "tomorrow", "x" * 10_000):
        response = client.post(plan_url(draft), {"planned_for": bad})
        assert response.status_code == 302
        assert planned_for(draft) == today
    client.post(plan_url(draft), {"planned_for": ""})
    assert planned_for(draft) is None


def test_moving_needs_a_post_and_a_signed_in_staff_member(people):
    draft = make_draft(planned_for=timezone.localdate())
    assert signed_in(people["editor"]).get(plan_url(draft)).status_code == 405
    anonymous = VerifiedClient().post(plan_url(draft), {"planned_for": "2030-01-01"})
    assert anonymous.status_code == 302  # to the sign-in page
    assert planned_for(draft) == timezone.localdate()
    missing = reverse("admin:articles_article_plan", args=[999999])
    response = signed_in(people["editor"]).post(missing, {"planned_for": "2030-01-01"})
    assert response.status_code == 404


def test_the_service_refuses_who_may_not_edit(people):
    draft = make_draft(created_by=people["other writer"])
    with pytest.raises(WorkflowError):
        planning.plan_article(
            article=draft, user=people["writer"], planned_for=date(2030, 1, 1)
        )
    planning.plan_article(
        article=draft, user=people["editor"], planned_for=date(2030, 1, 1)
    )
    assert planned_for(draft) == date(2030, 1, 1)


def test_planning_makes_no_revision_and_leaves_the_stage(people):
    draft = make_draft(created_by=people["writer"])
    before = (draft.latest_revision_id, draft.stage)
    planning.plan_article(
        article=draft, user=people["writer"], planned_for=date(2030, 1, 1)
    )
    draft.refresh_from_db()
    assert (draft.latest_revision_id, draft.stage) == before


def test_staff_set_the_planned_date_in_the_change_form(people):
    draft = make_draft(created_by=people["writer"])
    client = signed_in(people["writer"])
    page = client.get(change_url(draft))
    assert 'name="planned_for"' in page.content.decode()
    data = form_data(page) | {"planned_for": "2027-03-01"}
    response = client.post(change_url(draft), data)
    assert response.status_code == 302
    assert planned_for(draft) == date(2027, 3, 1)
    # The other writer's crafted POST of the same form is refused.
    other = signed_in(people["other writer"])
    refused = other.post(change_url(draft), data | {"planned_for": "2027-04-01"})
    assert refused.status_code == 403
    assert planned_for(draft) == date(2027, 3, 1)


def test_calendar_page_shows_move_forms_only_where_the_viewer_may_move(people):
    today = timezone.localdate()
    own = make_draft(title="Own", planned_for=today, created_by=people["writer"])
    theirs = make_draft(
        title="Theirs", planned_for=today, created_by=people["other writer"]
    )
    html = (
        signed_in(people["writer"])
        .get(reverse("calendar:calendar"), {"view": "week"})
        .content.decode()
    )
    assert f'action="{plan_url(own)}"' in html
    assert f'action="{plan_url(theirs)}"' not in html
    assert change_url(theirs) in html


def test_a_late_publish_falls_on_its_local_day(settings):
    settings.TIME_ZONE = "America/New_York"
    timezone.deactivate()
    # 03:30 UTC on 9 December 2026 is 22:30 on the 8th in New York.
    moment = datetime(2026, 12, 9, 3, 30, tzinfo=UTC)
    make_article(title="Late", published_at=moment)
    entries = ArticleSource().entries(
        user=make_staff(), start=date(2026, 12, 7), end=date(2026, 12, 8)
    )
    assert [(e.title, e.day) for e in entries] == [("Late", date(2026, 12, 8))]
    later = ArticleSource().entries(
        user=make_staff(username="other"),
        start=date(2026, 12, 9),
        end=date(2026, 12, 13),
    )
    assert later == []


def test_feed_entries_stop_when_the_user_may_no_longer_view_articles(people):
    today = timezone.localdate()
    writer = people["writer"]
    make_draft(title="Mine", planned_for=today, created_by=writer)
    source = ArticleSource()
    assert [
        e.title for e in source.feed_entries(user=writer, start=today, end=today)
    ] == ["Mine"]
    writer.groups.clear()
    writer = type(writer).objects.get(pk=writer.pk)  # permissions asked afresh
    assert source.feed_entries(user=writer, start=today, end=today) == []
