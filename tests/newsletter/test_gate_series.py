"""Who may do what to the welcome series: newsletter editors (and editors) write
steps and switch them, medical reviewers approve their text; every path (an admin
button, a crafted POST, a service call) is checked on the server."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import ERROR, SUCCESS, WARNING
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from newsletter.issues import review, series
from newsletter.models import (
    Subscriber,
    Verdict,
    WelcomeDelivery,
    WelcomeStep,
    WelcomeStepApproval,
    WelcomeStepDelivery,
)
from tests.factories import make_subscriber, make_welcome_email, make_welcome_step

# Fixtures come from test_gate.py: a test taking one as an argument redefines
# its name.
# ruff: noqa: F811
from tests.newsletter.test_gate import (  # noqa: F401
    ROLES,
    messages_of,
    people,
    quick_password_hashing,
    signed_in,
)

pytestmark = pytest.mark.django_db

STEPS = reverse("admin:newsletter_welcomestep_changelist")
ADD = reverse("admin:newsletter_welcomestep_add")


def change_url(step: WelcomeStep) -> str:
    return reverse("admin:newsletter_welcomestep_change", args=[step.pk])


def review_url(step: WelcomeStep) -> str:
    return reverse("admin:newsletter_welcomestep_review", args=[step.pk])


def step_form(step: WelcomeStep | None = None, **overrides) -> dict:
    fields = {
        "position": 5,
        "delay_days": 21,
        "subject": "KP basics: one more thing",
        "preheader": "",
        "greeting": "Hi {first_name},",
        "body": "<p>Sunscreen helps the marks fade.</p>",
    }
    if step is not None:
        fields.update(
            {
                "position": step.position,
                "delay_days": step.delay_days,
                "subject": step.subject,
                "preheader": step.preheader,
                "greeting": step.greeting,
                "body": step.body,
                "enabled": "on" if step.enabled else "",
            }
        )
    fields.update(overrides)
    return {name: value for name, value in fields.items() if value != ""}


# (open the list, add a step, change a step, approve it, switch it off)
RIGHTS = {
    "writer": (403, 403, 403, 403, False),
    "reviewer": (200, 403, 403, 302, False),
    "editor": (200, 302, 302, 403, True),
    "newsletter_editor": (200, 302, 302, 403, True),
    "superuser": (200, 302, 302, 302, True),
    "plain": (403, 403, 403, 403, False),
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_its_part_of_the_welcome_series(client, people, role):
    step = make_welcome_step(subject="KP basics", approved=False)
    client.force_login(people[role])

    opened = client.get(STEPS).status_code
    added = client.post(ADD, step_form()).status_code
    changed = client.post(change_url(step), step_form(step, subject="Hacked"))
    approved = client.post(
        review_url(step),
        {
            "verdict": Verdict.APPROVED,
            "content_hash": review.welcome_hash(WelcomeStep.objects.get(pk=step.pk)),
        },
    ).status_code
    client.post(
        STEPS,
        {"action": "switch_off", "_selected_action": [step.pk], "index": 0},
    )

    step.refresh_from_db()
    switched_off = not step.enabled
    assert (
        opened,
        added,
        changed.status_code,
        approved,
        switched_off,
    ) == RIGHTS[role]
    assert WelcomeStep.objects.filter(position=5).exists() == (added == 302)
    assert step.subject == ("Hacked" if changed.status_code == 302 else "KP basics")
    assert WelcomeStepApproval.objects.exists() == (role in {"reviewer", "superuser"})


def test_the_series_services_refuse_those_without_the_permission(people):
    step = make_welcome_step(approved=False)
    step.subject = "Changed by the wrong person"
    for role in ("writer", "reviewer", "plain"):
        with pytest.raises(PermissionDenied):
            series.save_welcome_step(step=step, user=people[role])
        with pytest.raises(PermissionDenied):
            series.switch_welcome_step(step=step, user=people[role], enabled=False)
        with pytest.raises(PermissionDenied):
            series.save_welcome_step(
                step=WelcomeStep(position=9, delay_days=60, subject="x", body="x"),
                user=people[role],
            )
    for role in ("writer", "editor", "newsletter_editor", "plain"):
        with pytest.raises(PermissionDenied):
            series.approve_welcome_step(
                step=step,
                user=people[role],
                verdict=Verdict.APPROVED,
                seen_hash=review.welcome_hash(step),
            )
    step.refresh_from_db()
    assert step.enabled and step.subject != "Changed by the wrong person"
    assert not step.approvals.exists()
    assert not WelcomeStep.objects.filter(position=9).exists()


def test_an_edited_step_says_it_needs_approval_again_and_the_reviewer_sees_what_changed(
    people,
):
    step = make_welcome_step(subject="KP basics")
    editor = signed_in(people["newsletter_editor"])
    reviewer = signed_in(people["reviewer"])

    response = editor.post(change_url(step), step_form(step, subject="KP, again"))

    assert response.status_code == 302
    assert (
        WARNING,
        "Subscribers do not get this text until a medical reviewer approves it (or "
        "records that it has no medical content): they keep getting the text "
        "approved last.",
    ) in messages_of(response)
    page = reviewer.get(change_url(step)).text
    assert "Changed since its medical approval." in page
    assert "<td>KP basics</td><td>KP, again</td>" in page
    assert 'name="body"' not in page

    step.refresh_from_db()
    response = reviewer.post(
        review_url(step),
        {"verdict": Verdict.APPROVED, "content_hash": review.welcome_hash(step)},
    )
    [(level, _)] = messages_of(response)
    assert level == SUCCESS
    assert step.approvals.first().subject == "KP, again"


def test_a_stale_approval_post_records_nothing_and_says_why(people):
    step = make_welcome_step(approved=False)
    reviewer = signed_in(people["reviewer"])

    response = reviewer.post(
        review_url(step), {"verdict": Verdict.APPROVED, "content_hash": "0" * 64}
    )

    [(level, text)] = messages_of(response)
    assert level == ERROR and "changed after you opened it" in text
    assert not step.approvals.exists()


def test_a_step_that_would_go_before_the_one_ahead_of_it_is_refused_with_a_message(
    people,
):
    make_welcome_step(position=2, delay_days=3)
    editor = signed_in(people["newsletter_editor"])

    response = editor.post(ADD, step_form(position=3, delay_days=2))

    assert response.status_code == 200
    assert "Step 2 goes out after 3 days: step 3 must wait longer." in response.text
    assert not WelcomeStep.objects.filter(position=3).exists()


# The counts ---------------------------------------------------------------------


def test_the_step_list_counts_sent_waiting_failed_and_skipped_per_step(
    staff_client,
):
    make_welcome_email()
    step = make_welcome_step(position=2, delay_days=3)
    readers = [
        make_subscriber(status=Subscriber.Status.CONFIRMED, confirmed_at=timezone.now())
        for _ in range(3)
    ]
    for reader, status in zip(readers, ["sent", "failed", "skipped"], strict=True):
        WelcomeStepDelivery.objects.create(
            subscriber=reader,
            step=step,
            confirmed_at=reader.confirmed_at,
            status=status,
        )
    WelcomeDelivery.objects.create(
        subscriber=readers[0], confirmed_at=readers[0].confirmed_at, status="sent"
    )

    page = staff_client.get(STEPS).text

    row = page.split('<tr data-position="2">')[1].split("</tr>")[0]
    # All three confirmed today: their day for step 2 is still to come.
    assert '<td data-count="sent">1</td>' in row
    assert '<td data-count="waiting">3</td>' in row
    assert '<td data-count="failed">1</td>' in row
    assert '<td data-count="skipped">1</td>' in row
    first = page.split('<tr data-position="1">')[1].split("</tr>")[0]
    assert '<td data-count="sent">1</td>' in first


def test_each_step_waits_for_those_confirmed_within_its_delay_and_no_one_older(
    staff_client,
):
    make_welcome_email()
    make_welcome_step(position=2, delay_days=3)
    make_welcome_step(position=3, delay_days=10)
    now = timezone.now()
    for days in (1, 5, 5, 30):
        make_subscriber(
            status=Subscriber.Status.CONFIRMED,
            confirmed_at=now - timedelta(days=days),
        )
    make_subscriber(status=Subscriber.Status.PENDING)

    page = staff_client.get(STEPS).text

    for position, waiting in ((2, 1), (3, 3)):
        row = page.split(f'<tr data-position="{position}">')[1].split("</tr>")[0]
        assert f'<td data-count="waiting">{waiting}</td>' in row


def test_the_step_list_counts_only_recent_confirmations(staff_client):
    # The count is a range on (status, confirmed_at), not a scan of everyone.
    make_welcome_step(position=2, delay_days=3)
    make_welcome_step(position=3, delay_days=10)
    with CaptureQueriesContext(connection) as queries:
        assert staff_client.get(STEPS).status_code == 200
    counting = [q["sql"] for q in queries if 'FROM "newsletter_subscriber"' in q["sql"]]
    assert len(counting) == 1
    where = counting[0].split(' FROM "newsletter_subscriber" ')[1]
    assert '"newsletter_subscriber"."confirmed_at" >' in where


def test_the_step_list_takes_as_many_queries_for_many_subscribers_as_for_one(
    staff_client,
):
    make_welcome_step(position=2, delay_days=3)
    make_subscriber(status=Subscriber.Status.CONFIRMED)
    with CaptureQueriesContext(connection) as few:
        assert staff_client.get(STEPS).status_code == 200
    for _ in range(20):
        make_subscriber(status=Subscriber.Status.CONFIRMED)
    with CaptureQueriesContext(connection) as many:
        assert staff_client.get(STEPS).status_code == 200
    assert len(many) == len(few)


# Medical review ------------------------------------------------------------------


def test_every_field_of_a_step_is_hashed_or_listed_among_those_readers_never_see():
    fields = {field.name for field in WelcomeStep._meta.get_fields()}
    assert fields - set(review.WELCOME_HASHED) - review.STEP_NOT_HASHED == set()
    assert (set(review.WELCOME_HASHED) | review.STEP_NOT_HASHED) <= fields


def test_a_step_switched_on_and_not_approved_waits_on_the_reviewers_dashboard(
    people,
):
    step = make_welcome_step(position=2, subject="KP basics: new", approved=False)
    make_welcome_step(position=3, delay_days=7, subject="KP basics: approved")
    reviewer = signed_in(people["reviewer"])

    section = reviewer.get(reverse("admin:index")).text.split(
        'id="dashboard-newsletter-review"'
    )[1]

    assert "Welcome series, step 2: KP basics: new" in section
    assert "Never approved: not sent" in section
    assert "KP basics: approved" not in section
    series.switch_welcome_step(
        step=step, user=people["newsletter_editor"], enabled=False
    )
    section = reviewer.get(reverse("admin:index")).text.split(
        'id="dashboard-newsletter-review"'
    )[1]
    assert "Welcome series, step 2" not in section


def test_the_migration_gives_the_roles_their_series_permissions():
    def codenames(role: str) -> set[str]:
        group = Group.objects.get(name=role)
        return set(
            group.permissions.filter(codename__contains="welcomestep").values_list(
                "codename", flat=True
            )
        )

    editing = {
        "add_welcomestep",
        "change_welcomestep",
        "view_welcomestep",
        "view_welcomestepdelivery",
    }
    assert codenames("Newsletter editor") == editing
    assert codenames("Editor") == editing
    assert codenames("Medical reviewer") == {"view_welcomestep"}
    assert codenames("Writer") == set()


@pytest.mark.parametrize(
    ("role", "status", "sent"),
    [
        ("writer", 403, 0),
        ("reviewer", 302, 1),
        ("newsletter_editor", 302, 1),
        ("plain", 403, 0),
    ],
)
def test_those_who_may_read_a_step_can_send_themselves_a_test_of_it(
    client, people, mailoutbox, django_capture_on_commit_callbacks, role, status, sent
):
    step = make_welcome_step(subject="KP basics: draft", approved=False)
    client.force_login(people[role])

    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("admin:newsletter_welcomestep_send_test", args=[step.pk])
        )

    assert response.status_code == status
    assert [m.subject for m in mailoutbox] == ["[Test] KP basics: draft"] * sent
    assert [m.to for m in mailoutbox] == [[people[role].email]] * sent
    assert not WelcomeStepDelivery.objects.exists()
