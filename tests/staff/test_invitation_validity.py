"""The invitation pages, checked by the W3C Nu Html Checker as the other admin
pages are (tests/skincare/test_admin_validity.py): the acceptance form (fresh and
with errors), a dead link, the author-profile step, the invitation list, add and
view pages, and the email."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from django.urls import reverse

from staff.invitations import services
from tests.conftest import VerifiedClient, give_second_factor
from tests.factories import make_staff
from tests.skincare.test_admin_validity import DJANGO_SIDEBAR_ROWS
from tests.skincare.test_page_validity import is_problem, java, nu_check  # noqa: F401

pytestmark = pytest.mark.django_db
PASSWORD = "Lavender-pillow-1987"


def invitation_documents() -> dict[str, str]:
    boss = make_staff(username="boss")
    invitation, link = services.invite(
        email="rev@example.com", role="reviewer", invited_by=boss
    )
    services.invite(email="ed@example.com", role="editor", invited_by=boss)
    email = mail.outbox[0]
    visitor = VerifiedClient()
    documents = {
        "accept.html": visitor.get(link),
        "accept-errors.html": visitor.post(link, {"name": "", "password1": "x"}),
        "accept-dead-link.html": visitor.get(
            reverse("staff_invitation:accept", args=["forged"])
        ),
    }
    visitor.post(
        link,
        {
            "name": "Ada Lovelace",
            "username": "ada",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    give_second_factor(visitor, get_user_model().objects.get(username="ada"))
    step = reverse("admin:articles_author_mine")
    documents["author-step.html"] = visitor.get(step)
    documents["author-step-errors.html"] = visitor.post(step, {"name": "Ada"})
    staff = VerifiedClient()
    staff.force_login(boss)
    documents["admin-invitation-list.html"] = staff.get(
        reverse("admin:staff_invitation_changelist")
    )
    documents["admin-invitation-add.html"] = staff.get(
        reverse("admin:staff_invitation_add")
    )
    documents["admin-invitation-view.html"] = staff.get(
        reverse("admin:staff_invitation_change", args=[invitation.pk])
    )
    pages = {name: response.content.decode() for name, response in documents.items()}
    pages["email-invitation.html"] = email.alternatives[0][0]
    return pages


def test_the_invitation_pages_and_email_are_valid_html(
    tmp_path,
    java,  # noqa: F811
):
    documents = invitation_documents()
    messages = nu_check(java, tmp_path, documents)
    assert set(messages) <= set(documents)
    problems = [
        f"{name}:{m.get('lastLine', '?')}: {m['type']}: {m['message']}"
        for name, found in sorted(messages.items())
        for m in found
        if is_problem(name, m) and not DJANGO_SIDEBAR_ROWS.match(m["message"])
    ]
    if problems:
        pytest.fail(
            f"{len(problems)} Nu Html Checker problem(s):\n" + "\n".join(problems),
            pytrace=False,
        )
