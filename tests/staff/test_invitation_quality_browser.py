"""axe-core in Chromium on the invitation pages: the acceptance form (fresh and
with errors), a dead link, the author-profile step (with errors) and the
invitation list and add pages, on a phone and a desktop."""

import json

import pytest
from django.contrib.auth import get_user_model
from django.urls import reverse

from staff.invitations import services
from tests.browser_fixtures import DESKTOP, PHONE
from tests.conftest import VerifiedClient, give_second_factor
from tests.factories import make_role_user, make_staff
from tests.skincare.test_page_quality_browser import (  # noqa: F401
    AxeRun,
    axe_source,
)

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "Lavender-pillow-1987"


@pytest.mark.parametrize("viewport", [PHONE, DESKTOP], ids=["phone", "desktop"])
def test_invitation_pages_have_no_accessibility_violations(
    live_server,
    new_context,
    axe_source,  # noqa: F811
    viewport,
    settings,
):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    boss = make_staff(username="boss")
    # The role's group, as migrations make it (this test's database was emptied).
    make_role_user("Medical reviewer", username="another-reviewer")
    _, link = services.invite(email="r@example.com", role="reviewer", invited_by=boss)
    path = link.removeprefix(settings.SITE_URL)
    run = AxeRun(live_server, new_context, axe_source, viewport)
    problems, check, page_as = run.problems, run.check, run.page_as

    guest = page_as()
    guest.goto(live_server.url + path)
    check(guest, "accept")
    guest.get_by_role("button", name="Create my account").click()
    check(guest, "accept-errors")
    guest.goto(live_server.url + reverse("staff_invitation:accept", args=["forged"]))
    check(guest, "dead-link")

    newcomer = VerifiedClient()
    newcomer.post(
        path,
        {
            "name": "Ada Lovelace",
            "username": "ada",
            "password1": PASSWORD,
            "password2": PASSWORD,
        },
    )
    give_second_factor(newcomer, get_user_model().objects.get(username="ada"))
    page = page_as(newcomer)
    page.goto(live_server.url + reverse("admin:articles_author_mine"))
    check(page, "author-step")
    page.get_by_role("button", name="Save and go to the dashboard").click()
    check(page, "author-step-errors")

    chief = VerifiedClient()
    chief.force_login(boss)
    page = page_as(chief)
    for name in ("changelist", "add"):
        page.goto(live_server.url + reverse(f"admin:staff_invitation_{name}"))
        check(page, f"invitation-{name}")
    assert problems == {}, json.dumps(problems, indent=2)
