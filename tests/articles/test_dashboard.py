"""The editorial dashboard on the admin home (articles/admin/dashboard.py): each
role sees the sections that concern it, each row links to its article, and the
page takes the same number of queries for one article as for forty."""

import re
from datetime import timedelta
from itertools import cycle, islice

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone

from articles.editorial import permissions
from articles.models import Article, Stage, Transition
from tests.factories import (
    make_article,
    make_author,
    make_draft,
    make_reviewer,
    make_role_user,
    make_scheduled,
    make_staff,
    make_topic,
)

pytestmark = pytest.mark.django_db

SECTIONS = {
    "my_drafts",
    "review",
    "changes_requested",
    "approved",
    "scheduled",
    "review_due",
}


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    """Accounts log in with force_login: hashing strength is beside the point."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture
def people(db) -> dict:
    return {
        "writer": make_role_user("Writer", username="writer"),
        "other_writer": make_role_user("Writer", username="other-writer"),
        "reviewer": make_reviewer(),
        "other_reviewer": make_reviewer(username="second-reviewer"),
        "editor": make_role_user("Editor"),
        "superuser": make_staff(username="chief"),
    }


def dashboard(client, user) -> str:
    client.force_login(user)
    response = client.get(reverse("admin:index"))
    assert response.status_code == 200
    return response.text


def section_ids(page: str) -> set[str]:
    return set(
        re.findall(r'class="module dashboard-section" id="dashboard-(\w+)"', page)
    )


def section(page: str, key: str) -> str:
    """The HTML of one section."""
    start = page.index(f'id="dashboard-{key}"')
    end = page.find('class="module dashboard-section"', start + 1)
    return page[start : end if end != -1 else len(page)]


def change_link(article: Article) -> str:
    return f'href="{reverse("admin:articles_article_change", args=[article.pk])}"'


def test_a_writer_sees_their_drafts_and_the_changes_asked_of_them(client, people):
    writer = people["writer"]
    mine = make_draft(title="My draft", created_by=writer)
    asked = make_draft(
        title="Needs work", created_by=writer, stage=Stage.CHANGES_REQUESTED
    )
    theirs = make_draft(title="Not mine", created_by=people["other_writer"])
    submitted = make_draft(title="Sent", created_by=writer, stage=Stage.IN_REVIEW)
    live = make_article(title="Out there", created_by=writer, stage=Stage.LIVE)
    theirs_live = make_article(title="Not mine either", stage=Stage.LIVE)

    page = dashboard(client, writer)

    assert section_ids(page) == {"my_drafts", "my_published", "changes_requested"}
    # Where a correction to what readers see starts.
    published = section(page, "my_published")
    assert change_link(live) in published and change_link(theirs_live) not in page
    assert change_link(mine) not in published
    drafts = section(page, "my_drafts")
    assert change_link(mine) in drafts and change_link(asked) in drafts
    assert change_link(theirs) not in page and change_link(submitted) not in page
    assert change_link(asked) in section(page, "changes_requested")
    assert change_link(mine) not in section(page, "changes_requested")


def test_a_reviewer_sees_their_queue_and_the_reviews_falling_due(client, people):
    reviewer = people["reviewer"]
    medical = make_topic(medical=True)
    unassigned = make_draft(title="Anyone's", stage=Stage.IN_REVIEW, topic=medical)
    assigned = make_draft(
        title="Mine to review", stage=Stage.IN_REVIEW, assigned_reviewer=reviewer
    )
    elsewhere = make_draft(
        title="Someone else's",
        stage=Stage.IN_REVIEW,
        assigned_reviewer=people["other_reviewer"],
    )
    launch = make_article(title="Launch article", topic=medical, stage=Stage.LIVE)
    general = make_article(title="General live", stage=Stage.LIVE)
    byline = reviewer.author_profile
    today = timezone.localdate()
    due = make_article(
        title="Due soon",
        topic=medical,
        reviewer=byline,
        reviewed_at=today - timedelta(days=340),
        review_due=today + timedelta(days=20),
    )
    overdue = make_article(
        title="Overdue",
        topic=medical,
        reviewer=byline,
        reviewed_at=today - timedelta(days=400),
        review_due=today - timedelta(days=5),
    )
    later = make_article(
        title="Later",
        topic=medical,
        reviewer=byline,
        reviewed_at=today,
        review_due=today + timedelta(days=90),
    )

    page = dashboard(client, reviewer)

    assert section_ids(page) == {"review", "review_due"}
    queue = section(page, "review")
    assert "Waiting for my review" in queue
    for article in (unassigned, assigned, launch):
        assert change_link(article) in queue
    for article in (elsewhere, general, due):
        assert change_link(article) not in queue
    assert permissions.needs_live_approval(launch)
    reviews = section(page, "review_due")
    assert change_link(due) in reviews and change_link(overdue) in reviews
    assert change_link(later) not in reviews
    # Most overdue first.
    assert reviews.index(change_link(overdue)) < reviews.index(change_link(due))


def test_a_live_medical_article_in_the_queue_says_it_is_not_yet_reviewed(
    client, people
):
    medical = make_topic(medical=True)
    launch = make_article(title="Launch article", topic=medical, stage=Stage.LIVE)
    submitted = make_draft(title="Submitted", stage=Stage.IN_REVIEW, topic=medical)

    queue = section(dashboard(client, people["reviewer"]), "review")

    def row(article: Article) -> str:
        return queue[queue.index(change_link(article)) :].split("</tr>")[0]

    assert "Live" in row(launch) and "Not yet medically reviewed" in row(launch)
    assert "Not yet medically reviewed" not in row(submitted)


def test_an_editor_sees_every_section(client, people):
    editor = people["editor"]
    approved = make_draft(title="Ready", stage=Stage.APPROVED)
    scheduled = make_scheduled(title="Tomorrow", stage=Stage.SCHEDULED)
    came = make_article(title="Came out", stage=Stage.SCHEDULED)
    elsewhere = make_draft(
        title="Someone else's",
        stage=Stage.IN_REVIEW,
        assigned_reviewer=people["reviewer"],
    )
    asked = make_draft(
        title="Needs work",
        created_by=people["writer"],
        stage=Stage.CHANGES_REQUESTED,
    )

    page = dashboard(client, editor)

    assert section_ids(page) == SECTIONS
    assert change_link(approved) in section(page, "approved")
    assert change_link(scheduled) in section(page, "scheduled")
    assert change_link(came) not in section(page, "scheduled")
    queue = section(page, "review")
    assert "Waiting for review" in queue and change_link(elsewhere) in queue
    assert "Reviewer: reviewer" in queue
    assert change_link(asked) in section(page, "changes_requested")
    assert section_ids(dashboard(client, people["superuser"])) == SECTIONS


def test_a_row_shows_stage_author_owner_and_date(client, people):
    writer = people["writer"]
    writer.first_name, writer.last_name = "Wendy", "Writer"
    writer.save()
    article = make_draft(
        title="Retinoids, gently",
        created_by=writer,
        stage=Stage.IN_REVIEW,
        author=make_author(name="Wendy W."),
    )
    step = Transition.objects.create(
        article=article,
        actor=writer,
        from_stage=Stage.DRAFT,
        to_stage=Stage.IN_REVIEW,
        at=timezone.now() - timedelta(days=3),
    )

    queue = section(dashboard(client, people["editor"]), "review")

    row = queue[queue.index(change_link(article)) :].split("</tr>")[0]
    assert "Retinoids, gently</a>" in row
    assert "In review" in row and "Wendy W." in row and "(Wendy Writer)" in row
    day = timezone.localtime(step.at)
    assert f"{day.day} {day:%b %Y}" in row and "Waiting since" in queue


def test_counts_show_beyond_the_rows_listed(client, people):
    for n in range(18):
        make_draft(title=f"Approved {n}", stage=Stage.APPROVED)
    approved = section(dashboard(client, people["editor"]), "approved")
    assert '<span class="dashboard-count">18</span>' in approved
    assert "Showing 15 of 18." in approved
    assert approved.count("<tr>") == 16


def test_a_long_queue_lists_the_articles_waiting_longest_by_their_latest_step(
    client, people
):
    # Every article's first step is on the same day, and their latest steps are
    # shuffled against the order they were created in: only the latest step
    # gives the order.
    now = timezone.now()
    waited = {}
    for n in range(18):
        article = make_draft(title=f"Queued {n}", stage=Stage.IN_REVIEW)
        days = 2 + (n * 7) % 18
        for ago in (40, days):
            Transition.objects.create(
                article=article,
                from_stage=Stage.DRAFT,
                to_stage=Stage.IN_REVIEW,
                at=now - timedelta(days=ago),
            )
        waited[article] = days

    queue = section(dashboard(client, people["editor"]), "review")

    longest = sorted(waited, key=waited.get, reverse=True)
    assert [a for a in longest if change_link(a) in queue] == longest[:15]
    positions = [queue.index(change_link(a)) for a in longest[:15]]
    assert positions == sorted(positions)


def test_staff_without_an_editorial_role_see_only_the_app_list(client, people):
    staff = get_user_model().objects.create_user(
        username="helper", password="x", is_staff=True
    )
    make_draft(stage=Stage.APPROVED)
    page = dashboard(client, staff)
    assert "Editorial work" not in page and section_ids(page) == set()


def test_the_app_list_stays_under_the_dashboard(client, people):
    page = dashboard(client, people["editor"])
    assert 'class="app-articles module' in page
    assert page.index("Editorial work") < page.index('class="app-articles module')
    assert reverse("admin:articles_article_changelist") in page


def populate(count: int, people: dict) -> None:
    """`count` articles spread over every section, with their workflow steps."""
    medical = make_topic(medical=True)
    author = make_author()
    today = timezone.localdate()
    kinds = [
        {"stage": Stage.DRAFT, "status": Article.Status.DRAFT},
        {"stage": Stage.IN_REVIEW, "status": Article.Status.DRAFT},
        {"stage": Stage.CHANGES_REQUESTED, "status": Article.Status.DRAFT},
        {"stage": Stage.APPROVED, "status": Article.Status.DRAFT},
        {
            "stage": Stage.SCHEDULED,
            "published_at": timezone.now() + timedelta(days=2),
        },
        {
            "stage": Stage.LIVE,
            "reviewer": people["reviewer"].author_profile,
            "reviewed_at": today - timedelta(days=350),
            "review_due": today + timedelta(days=15),
        },
        {"stage": Stage.LIVE},
    ]
    for n, kind in enumerate(islice(cycle(kinds), count)):
        article = make_article(
            topic=medical,
            author=author,
            created_by=people["writer"] if n % 3 else people["editor"],
            assigned_reviewer=people["reviewer"] if n % 2 else None,
            **kind,
        )
        Transition.objects.create(
            article=article,
            actor=people["writer"],
            from_stage=Stage.DRAFT,
            to_stage=article.stage,
        )


# Nine for the page around the dashboard (session, user, the user's and the
# groups' permissions, the app list's four checks for the home page and editorial
# policy rows, the recent actions),
# one more for the second factor's device (every staff account), then one for every
# section's count together and one for each section's rows; for editors and
# reviewers, four for the newsletter text waiting for review (the issues, the
# welcome email and its approved text, the welcome series' steps; none of the
# issues here); for editors, two for the source problems (their count and rows).
PAGE_QUERIES = 9
SECOND_FACTOR = {"editor": 1, "reviewer": 1, "writer": 1}
NEWSLETTER_REVIEW = {"editor": 4, "reviewer": 4, "writer": 0}
SOURCE_PROBLEMS = {"editor": 2, "reviewer": 0, "writer": 0}
SECTIONS_SEEN = {"editor": 6, "reviewer": 2, "writer": 3}


@pytest.mark.parametrize("count", [1, 40])
@pytest.mark.parametrize("role", ["editor", "reviewer", "writer"])
def test_the_dashboard_takes_as_many_queries_for_forty_articles_as_for_one(
    client, people, django_assert_max_num_queries, count, role
):
    populate(count, people)
    client.force_login(people[role])
    expected = (
        PAGE_QUERIES
        + SECOND_FACTOR[role]
        + NEWSLETTER_REVIEW[role]
        + SOURCE_PROBLEMS[role]
        + 1
        + SECTIONS_SEEN[role]
    )
    with django_assert_max_num_queries(expected):
        page = client.get(reverse("admin:index")).text
    rows = {
        key: section(page, key).count('<th scope="row">') for key in section_ids(page)
    }
    assert len(rows) == SECTIONS_SEEN[role]
    if count == 1:
        assert sum(rows.values()) == (1 if role == "editor" else 0)
    else:
        assert min(rows.values()) >= 2, rows
