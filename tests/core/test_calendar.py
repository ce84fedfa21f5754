"""The editorial calendar's machinery (core/calendar/): the month and week grids,
the admin page's filters and permissions, the feed tokens and the feed."""

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from django.contrib.auth.models import Permission
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone
from icalendar import Calendar

from articles.models import Article
from core.calendar import feed, grid, render, tokens
from core.calendar.sources import Entry
from core.models import CalendarFeedToken
from tests.conftest import VerifiedClient
from tests.factories import (
    make_article,
    make_draft,
    make_issue,
    make_reviewer,
    make_role_user,
    make_staff,
    make_topic,
    make_user,
)


def entry(day: date, title: str = "x", at: datetime | None = None) -> Entry:
    return Entry(
        uid=f"t-{title}",
        day=day,
        kind="planned",
        kind_label="Planned",
        title=title,
        url="/",
        at=at,
    )


# The grids ---------------------------------------------------------------------


def test_month_grid_runs_whole_weeks_from_the_monday_before_the_first():
    # February 2027 starts on a Monday and ends on a Sunday: four whole weeks.
    february = grid.build(grid.MONTH, date(2027, 2, 14), [], date(2027, 2, 1))
    assert (february.start, february.end) == (date(2027, 2, 1), date(2027, 2, 28))
    assert len(february.weeks) == 4
    # December 2026 starts on a Tuesday and ends on a Thursday.
    december = grid.build(grid.MONTH, date(2026, 12, 7), [], date(2026, 12, 7))
    assert december.start == date(2026, 11, 30)
    assert december.end == date(2027, 1, 3)
    assert [d.day.weekday() for d in december.weeks[0]] == list(range(7))
    assert not december.weeks[0][0].in_period  # 30 November
    assert december.weeks[0][1].in_period  # 1 December
    assert not december.weeks[-1][-1].in_period  # 3 January
    assert december.title == "December 2026"


def test_month_navigation_keeps_to_real_days():
    jan31 = grid.build(grid.MONTH, date(2027, 1, 31), [], date(2027, 1, 31))
    assert jan31.next == date(2027, 2, 28)
    assert jan31.previous == date(2026, 12, 31)


def test_week_grid_starts_on_monday_and_moves_by_seven_days():
    # Sunday 6 December 2026 is in the week of Monday 30 November.
    week = grid.build(grid.WEEK, date(2026, 12, 6), [], date(2026, 12, 6))
    assert (week.start, week.end) == (date(2026, 11, 30), date(2026, 12, 6))
    assert len(week.weeks) == 1 and len(week.weeks[0]) == 7
    assert week.previous == date(2026, 11, 29)
    assert week.next == date(2026, 12, 13)
    assert week.title == "Week of 30 November 2026"


def test_entries_land_on_their_day_dates_before_times():
    morning = timezone.make_aware(datetime(2026, 12, 8, 9, 0))
    entries = [
        entry(date(2026, 12, 8), "b timed", at=morning),
        entry(date(2026, 12, 8), "c"),
        entry(date(2026, 12, 8), "a"),
        entry(date(2027, 3, 1), "far away"),
    ]
    week = grid.build(grid.WEEK, date(2026, 12, 8), entries, date(2026, 12, 8))
    tuesday = week.weeks[0][1]
    assert [e.title for e in tuesday.entries] == ["a", "c", "b timed"]
    assert sum(len(d.entries) for d in week.weeks[0]) == 3


def test_a_crowded_month_day_shows_the_first_few_and_counts_the_rest():
    day = date(2026, 12, 10)
    entries = [entry(day, f"{n:02}") for n in range(grid.MONTH_DAY_MAX + 4)]
    month = grid.build(grid.MONTH, day, entries, day)
    cell = next(c for w in month.weeks for c in w if c.day == day)
    assert len(cell.entries) == grid.MONTH_DAY_MAX
    assert cell.hidden == 4
    week = grid.build(grid.WEEK, day, entries, day)
    assert len(week.weeks[0][3].entries) == grid.MONTH_DAY_MAX + 4


def test_times_fall_on_the_local_day(settings):
    settings.TIME_ZONE = "America/New_York"
    late = datetime(2026, 12, 9, 3, 30, tzinfo=UTC)  # 22:30 on the 8th in New York
    timezone.deactivate()
    assert grid.local_days()(late) == date(2026, 12, 8)
    assert grid.day_start(date(2026, 12, 8)) == datetime(2026, 12, 8, 5, 0, tzinfo=UTC)


# The page ------------------------------------------------------------------------


def signed_in(user) -> VerifiedClient:
    client = VerifiedClient()
    client.force_login(user)
    return client


@pytest.mark.django_db
def test_calendar_page_shows_the_month_with_links_to_each_entry():
    today = timezone.localdate()
    draft = make_draft(title="Sunscreen myths", planned_for=today)
    response = signed_in(make_staff(username="owner")).get(reverse("calendar:calendar"))
    assert response.status_code == 200
    html = response.content.decode()
    assert f"{today:%B %Y}" in html
    assert reverse("admin:articles_article_change", args=[draft.pk]) in html
    assert 'aria-current="date"' in html
    week = signed_in(make_staff(username="b")).get(
        reverse("calendar:calendar"), {"view": "week", "date": "2026-12-09"}
    )
    assert "Week of 7 December 2026" in week.content.decode()


@pytest.mark.django_db
def test_a_bad_date_or_filter_in_the_address_shows_today_unfiltered():
    client = signed_in(make_staff(username="owner"))
    response = client.get(
        reverse("calendar:calendar"),
        {"date": "2026-13-45", "topic": "1 OR 1=1", "person": "x" * 500},
    )
    assert response.status_code == 200
    assert response.context["calendar"].anchor == timezone.localdate()
    assert (response.context["topic"], response.context["person"]) == ("", "")


@pytest.mark.django_db
def test_calendar_filters_by_topic_and_by_person():
    today = timezone.localdate()
    writer = make_role_user("Writer")
    acne, spf = make_topic(name="Acne"), make_topic(name="SPF")
    make_draft(title="Acne plan", topic=acne, planned_for=today, created_by=writer)
    make_draft(title="SPF plan", topic=spf, planned_for=today)
    make_issue(
        subject="Monthly send",
        status="scheduled",
        scheduled_at=timezone.now() + timedelta(minutes=5),
    )
    client = signed_in(make_staff(username="owner"))
    url = reverse("calendar:calendar")

    def titles(**params) -> set[str]:
        response = client.get(url, {"view": "week", **params})
        return {
            e.title for d in response.context["calendar"].weeks[0] for e in d.entries
        }

    assert titles() >= {"Acne plan", "SPF plan", "Monthly send"}
    assert titles(topic=str(acne.pk)) == {"Acne plan"}
    assert titles(person=str(writer.pk)) == {"Acne plan"}


@pytest.mark.django_db
def test_each_role_sees_only_the_kinds_it_may_view():
    today = timezone.localdate()
    make_draft(title="A draft plan", planned_for=today)
    make_issue(subject="A send", status="scheduled", scheduled_at=timezone.now())
    url = reverse("calendar:calendar")

    def titles(user) -> set[str] | int:
        response = signed_in(user).get(url, {"view": "week"})
        if response.status_code != 200:
            return response.status_code
        return {
            e.title for d in response.context["calendar"].weeks[0] for e in d.entries
        }

    assert titles(make_staff(username="owner")) == {"A draft plan", "A send"}
    assert titles(make_role_user("Editor")) >= {"A draft plan"}
    # Writers draft issues, so they see the sends; one who may only view
    # articles does not.
    assert titles(make_role_user("Writer")) == {"A draft plan", "A send"}
    articles_only = make_role_user("Writer", username="articles-only")
    articles_only.groups.clear()
    articles_only.user_permissions.add(
        Permission.objects.get(
            codename="view_article", content_type__app_label="articles"
        )
    )
    assert titles(articles_only) == {"A draft plan"}
    issues_only = make_role_user("Writer", username="issues-only")
    issues_only.groups.clear()
    issues_only.user_permissions.add(
        Permission.objects.get(
            codename="view_issue", content_type__app_label="newsletter"
        )
    )
    assert titles(issues_only) == {"A send"}
    # Staff with no view permission at all are refused; others go to sign in.
    assert titles(make_user(username="nobody")) == 302
    bare = make_role_user("Writer", username="bare")
    bare.groups.clear()
    assert titles(bare) == 403


@pytest.mark.django_db
def test_dashboard_links_to_the_calendar():
    html = (
        signed_in(make_staff(username="owner"))
        .get(reverse("admin:index"))
        .content.decode()
    )
    assert reverse("calendar:calendar") in html


@pytest.mark.django_db
def test_month_page_takes_the_same_queries_for_few_and_many_entries():
    today = timezone.localdate()
    client = signed_in(make_staff(username="owner"))
    topic = make_topic()
    make_draft(planned_for=today, topic=topic)
    url = reverse("calendar:calendar")
    client.get(url)  # warms the session and permission caches

    def count() -> int:
        with CaptureQueriesContext(connection) as queries:
            assert client.get(url).status_code == 200
        return len(queries)

    few = count()
    Article.objects.bulk_create(
        Article(
            title=f"Planned {n}",
            slug=f"planned-{n}",
            summary="s",
            body="<p>b</p>",
            author_id=Article.objects.first().author_id,
            topic=topic,
            planned_for=today.replace(day=1) + timedelta(days=n % 28),
            review_due=today.replace(day=1) + timedelta(days=(n * 7) % 28),
        )
        for n in range(120)
    )
    for _ in range(5):
        make_issue(status="scheduled", scheduled_at=timezone.now())
    assert count() == few
    assert few <= 12


# Feed tokens and the feed -----------------------------------------------------------


@pytest.mark.django_db
def test_feed_token_is_stored_only_as_its_digest_and_replaced_by_a_new_one():
    user = make_staff(username="owner")
    first = tokens.new_feed_token(user=user)
    row = CalendarFeedToken.objects.get(user=user)
    assert row.token_hash != first and row.token_hash == tokens.digest(first)
    assert tokens.feed_user(first) == user
    second = tokens.new_feed_token(user=user)
    assert tokens.feed_user(first) is None
    assert tokens.feed_user(second) == user
    assert tokens.revoke_feed_token(user=user) is True
    assert tokens.feed_user(second) is None
    assert tokens.revoke_feed_token(user=user) is False


@pytest.mark.django_db
def test_feed_page_shows_a_new_address_once_and_revokes_it():
    user = make_staff(username="owner")
    client = signed_in(user)
    url = reverse("calendar:feed_settings")
    assert "You have no feed address" in client.get(url).content.decode()
    made = client.post(url, {"action": "new"})
    feed_url = made.context["new_url"]
    assert feed_url.startswith("http://testserver/calendar/")
    assert feed_url in made.content.decode()
    path = feed_url.removeprefix("http://testserver")
    assert VerifiedClient().get(path).status_code == 200
    again = client.get(url).content.decode()
    assert "You have a feed address" in again and feed_url not in again
    # A POST naming no known action changes nothing.
    assert client.post(url, {"action": "other"}).status_code == 302
    assert tokens.feed_user(path.removeprefix("/calendar/").removesuffix(".ics"))
    assert client.post(url, {"action": "revoke"}).status_code == 302
    assert VerifiedClient().get(path).status_code == 404


@pytest.mark.django_db
def test_forged_revoked_or_inactive_tokens_open_no_feed():
    user = make_staff(username="owner")
    token = tokens.new_feed_token(user=user)
    anonymous = VerifiedClient()
    feed_path = reverse("calendar_feed", args=[token])
    assert anonymous.get(feed_path).status_code == 200
    forged = token[:-1] + ("B" if token.endswith("A") else "A")
    assert anonymous.get(reverse("calendar_feed", args=[forged])).status_code == 404
    assert anonymous.get(reverse("calendar_feed", args=["x" * 400])).status_code == 404
    # The digest itself, as someone reading the database would have it, is no key.
    digest = CalendarFeedToken.objects.get().token_hash
    assert anonymous.get(reverse("calendar_feed", args=[digest])).status_code == 404
    user.is_active = False
    user.save()
    assert anonymous.get(feed_path).status_code == 404
    assert anonymous.post(feed_path).status_code == 405


@pytest.mark.django_db
def test_feed_page_is_only_for_staff_who_see_the_calendar():
    url = reverse("calendar:feed_settings")
    bare = make_role_user("Writer", username="bare")
    bare.groups.clear()
    assert signed_in(bare).post(url, {"action": "new"}).status_code == 403
    assert not CalendarFeedToken.objects.exists()
    # Without the CSRF token (a forged cross-site POST), nothing is made.
    client = VerifiedClient(enforce_csrf_checks=True)
    client.force_login(make_staff(username="owner"))
    assert client.post(url, {"action": "new"}).status_code == 403
    assert not CalendarFeedToken.objects.exists()


def parse(body: bytes) -> Calendar:
    return Calendar.from_ical(body)


@pytest.mark.django_db
def test_feed_holds_a_reviewers_reviews_due_a_writers_planned_drafts_and_the_sends():
    today = timezone.localdate()
    writer = make_role_user("Writer")
    other_writer = make_role_user("Writer", username="other-writer")
    reviewer = make_reviewer()
    newsletter = make_role_user("Newsletter editor")
    mine = make_draft(title="My plan", planned_for=today, created_by=writer)
    make_draft(title="Not mine", planned_for=today, created_by=other_writer)
    due = make_article(
        title="Review me",
        reviewer=reviewer.author_profile,
        reviewed_at=today - timedelta(days=300),
        review_due=today + timedelta(days=10),
    )
    make_article(title="Someone else's review", review_due=today)
    send_at = (timezone.now() + timedelta(days=2)).replace(microsecond=0)
    make_issue(subject="Next issue", status="scheduled", scheduled_at=send_at)

    def events(user) -> dict[str, dict]:
        token = tokens.new_feed_token(user=user)
        response = VerifiedClient().get(reverse("calendar_feed", args=[token]))
        assert response["Content-Type"] == "text/calendar; charset=utf-8"
        calendar = parse(response.content)
        return {str(e["summary"]): e for e in calendar.walk("VEVENT")}

    # Writers and reviewers may view issues: the sends are in their feeds too.
    writer_events = events(writer)
    assert set(writer_events) == {"Planned: My plan", "Send scheduled: Next issue"}
    planned = writer_events["Planned: My plan"]
    assert planned.decoded("dtstart") == today  # an all-day event: a date
    assert planned.decoded("dtend") == today + timedelta(days=1)
    assert str(planned["uid"]) == f"article-{mine.pk}-planned@{feed.UID_DOMAIN}"
    assert str(planned["url"]).endswith(
        reverse("admin:articles_article_change", args=[mine.pk])
    )
    assert set(events(reviewer)) == {
        "Review due: Review me",
        "Send scheduled: Next issue",
    }
    assert (
        events(reviewer)["Review due: Review me"].decoded("dtstart") == due.review_due
    )
    sends = events(newsletter)
    assert set(sends) == {"Send scheduled: Next issue"}
    no_issues = make_role_user("Writer", username="no-issues")
    no_issues.groups.clear()
    no_issues.user_permissions.add(
        Permission.objects.get(
            codename="view_article", content_type__app_label="articles"
        )
    )
    assert events(no_issues) == {}
    assert sends["Send scheduled: Next issue"].decoded("dtstart") == send_at


@pytest.mark.django_db
def test_feed_uids_stay_the_same_from_one_fetch_to_the_next():
    user = make_staff(username="owner")
    make_draft(planned_for=timezone.localdate(), created_by=user)
    token = tokens.new_feed_token(user=user)
    path = reverse("calendar_feed", args=[token])

    def uids() -> list[str]:
        body = VerifiedClient().get(path).content
        return [str(e["uid"]) for e in parse(body).walk("VEVENT")]

    assert uids() == uids() and len(uids()) == 1


def test_entries_are_written_escaped_with_local_times_and_move_forms():
    at = datetime(2026, 12, 9, 3, 30, tzinfo=UTC)
    moving = Entry(
        uid="article-7-planned",
        day=date(2026, 12, 8),
        kind="planned",
        kind_label="Planned",
        title='<script>alert("x")</script>',
        url="/admin/articles/article/7/change/",
        move_url="/admin/articles/article/7/planned-for/",
    )
    timed = Entry(
        uid="issue-1-send",
        day=date(2026, 12, 8),
        kind="send",
        kind_label="Send scheduled",
        title="Tom & Jerry",
        url="/x/",
        at=at,
    )
    html = render.entries_html(
        [moving, timed],
        here="/admin/calendar/?a=1&b=2",
        csrf="tok",
        tz=ZoneInfo("America/New_York"),
    )
    assert "<script>" not in html
    assert "&lt;script&gt;" in html and "Tom &amp; Jerry" in html
    assert '<time datetime="2026-12-08T22:30:00-0500">22:30</time>' in html
    assert 'action="/admin/articles/article/7/planned-for/"' in html
    assert 'name="csrfmiddlewaretoken" value="tok"' in html
    assert 'value="/admin/calendar/?a=1&amp;b=2"' in html
    assert '<label for="move-article-7-planned">' in html
    assert 'value="2026-12-08" required' in html
    assert html.count("<details") == 1


@pytest.mark.django_db
def test_calendar_pages_want_the_second_factor_too(unverified_client):
    unverified_client.force_login(make_staff(username="owner"))
    for name in ("calendar:calendar", "calendar:feed_settings"):
        response = unverified_client.get(reverse(name))
        assert response.status_code == 302
        assert "/admin/second-factor/" in response["Location"]
    assert not CalendarFeedToken.objects.exists()
    unverified_client.post(reverse("calendar:feed_settings"), {"action": "new"})
    assert not CalendarFeedToken.objects.exists()
