"""The gate on the welcome email: subscribers get only an approved text, and each
role does exactly its part."""

import pytest
from django.contrib.messages import SUCCESS, WARNING
from django.core.exceptions import PermissionDenied
from django.urls import reverse

from newsletter.delivery import welcome
from newsletter.issues import review
from newsletter.issues import services as issue_services
from newsletter.models import (
    Verdict,
    WelcomeApproval,
    WelcomeDelivery,
    WelcomeEmail,
)
from newsletter.subscribers import services
from newsletter.subscribers.tokens import Purpose, make_token
from tests.factories import (
    make_subscriber,
    make_welcome_email,
)

# Fixtures come from test_gate.py: a test taking one as an argument redefines
# its name.
# ruff: noqa: F811
from tests.newsletter.test_gate import (  # noqa: F401
    ROLES,
    WELCOME,
    messages_of,
    people,
    quick_password_hashing,
    signed_in,
)
from tests.skincare.test_page_quality_browser import AXE_TAGS, axe_source  # noqa: F401

pytestmark = pytest.mark.django_db


# The welcome email ---------------------------------------------------------------


def confirm(client, subscriber) -> None:
    token = make_token(subscriber=subscriber, purpose=Purpose.CONFIRM)
    response = client.post(reverse("newsletter:confirm", kwargs={"token": token}))
    assert response.status_code == 200


WELCOME_REVIEW = reverse("admin:newsletter_welcomeemail_review", args=[1])


def welcome_form(**overrides) -> dict:
    draft = WelcomeEmail.objects.get()
    return {
        "enabled": "on",
        "subject": draft.subject,
        "preheader": draft.preheader,
        "greeting": draft.greeting,
        "body": draft.body,
        **overrides,
    }


def test_without_an_approved_text_no_welcome_goes_out_and_nothing_is_claimed(
    client, staff_client, mailoutbox
):
    make_welcome_email(approved=False)
    subscriber = make_subscriber()
    page = staff_client.get(WELCOME).text
    assert "No welcome email goes out until a medical reviewer approves" in page

    confirm(client, subscriber)

    assert mailoutbox == []
    assert not WelcomeDelivery.objects.exists()
    outcome = welcome.send_welcome(subscriber_id=subscriber.pk)
    assert outcome == welcome.Outcome.NOT_APPROVED
    assert not WelcomeDelivery.objects.exists()


def test_subscribers_get_the_approved_text_until_the_draft_is_approved(
    client,
    people,
    mailoutbox,
):
    make_welcome_email(subject="Welcome aboard")
    editor = signed_in(people["newsletter_editor"])
    reviewer = signed_in(people["reviewer"])

    response = editor.post(WELCOME, welcome_form(subject="Welcome, reader"))
    assert response.status_code == 302
    assert (
        WARNING,
        "Subscribers do not get this text until a medical reviewer approves it (or "
        "records that it has no medical content): they keep getting the text "
        "approved last.",
    ) in messages_of(response)
    confirm(client, make_subscriber(email="first@example.com"))
    page = reviewer.get(WELCOME).text
    assert "Changed since its medical approval." in page
    assert "<td>Welcome aboard</td><td>Welcome, reader</td>" in page

    draft_hash = review.welcome_hash(WelcomeEmail.objects.get())
    response = reviewer.post(
        WELCOME_REVIEW,
        {"verdict": Verdict.NO_MEDICAL_CONTENT, "content_hash": draft_hash},
    )
    [(level, _)] = messages_of(response)
    assert level == SUCCESS
    confirm(client, make_subscriber(email="second@example.com"))

    assert [(m.to[0], m.subject) for m in mailoutbox] == [
        ("first@example.com", "Welcome aboard"),
        ("second@example.com", "Welcome, reader"),
    ]
    approval = WelcomeApproval.objects.first()
    assert approval.verdict == Verdict.NO_MEDICAL_CONTENT
    assert approval.reviewer == people["reviewer"]


# Who may: (open it, change it, approve it) for the welcome email.
WELCOME_RIGHTS = {
    "writer": (403, 403, 403),
    "reviewer": (200, 403, 302),
    "editor": (200, 302, 403),
    "newsletter_editor": (200, 302, 403),
    "superuser": (200, 302, 302),
    "plain": (403, 403, 403),
}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_may_do_exactly_its_part_of_the_welcome_email(client, people, role):
    make_welcome_email(subject="Welcome aboard", approved=False)
    client.force_login(people[role])

    opened = client.get(WELCOME).status_code
    changed = client.post(WELCOME, welcome_form(subject="Hacked")).status_code
    approved = client.post(
        WELCOME_REVIEW,
        {
            "verdict": Verdict.APPROVED,
            "content_hash": review.welcome_hash(WelcomeEmail.objects.get()),
        },
    ).status_code

    assert (opened, changed, approved) == WELCOME_RIGHTS[role]
    subject = WelcomeEmail.objects.get().subject
    assert subject == ("Hacked" if changed == 302 else "Welcome aboard")
    assert WelcomeApproval.objects.exists() == (role in {"reviewer", "superuser"})


def test_a_reviewer_reads_the_welcome_email_as_it_reads_and_can_approve_it(
    client,
    people,
):
    make_welcome_email(approved=False, body="<p>Thank you for <em>confirming</em>.</p>")
    client.force_login(people["reviewer"])

    page = client.get(WELCOME).text

    assert 'name="body"' not in page
    assert "<p>Thank you for <em>confirming</em>.</p>" in page
    assert "Approve this text" in page and "Send a test to me" in page


def test_the_welcome_services_refuse_those_without_the_permission(people):
    make_welcome_email(approved=False)
    draft = WelcomeEmail.objects.get()

    with pytest.raises(PermissionDenied):
        services.save_welcome_email(welcome=draft, user=people["writer"])
    with pytest.raises(PermissionDenied):
        issue_services.approve_welcome(
            user=people["newsletter_editor"],
            verdict=Verdict.APPROVED,
            seen_hash=review.welcome_hash(draft),
        )
    assert not WelcomeApproval.objects.exists()
