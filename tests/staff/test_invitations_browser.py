"""An invitation as people go through it, in Chromium: a superuser invites a
medical reviewer from the admin; the reviewer opens the emailed link, chooses a
name, username and password, sets up an authenticator app, saves the backup
codes, gives the name and credentials readers see, and lands on the dashboard
under that name."""

import pytest
from django.contrib.auth import get_user_model
from django.core import mail
from playwright.sync_api import expect

from articles.models import Author
from staff import two_factor
from tests.browser_fixtures import current_code, log_in
from tests.factories import make_role_user, make_staff

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]
PASSWORD = "Lavender-pillow-1987"


def test_a_reviewer_is_invited_and_joins_with_a_second_factor_and_a_profile(
    page, new_context, live_server, artifacts_dir, settings
):
    settings.SITE_URL = live_server.url  # the email's link leads here
    boss = make_staff(username="boss")
    # The role's group, as migrations make it (a transactional test empties it).
    make_role_user("Medical reviewer", username="another-reviewer")
    log_in(page, live_server, boss)
    page.goto(f"{live_server.url}/admin/staff/invitation/add/")
    page.get_by_label("Email").fill("ada@example.com")
    page.get_by_label("Role").select_option("reviewer")
    page.get_by_role("button", name="Save", exact=True).click()
    expect(page.locator("#result_list")).to_contain_text("ada@example.com")
    expect(page.locator("#result_list")).to_contain_text("Pending")
    page.screenshot(path=artifacts_dir / "invitation-admin-list.png", full_page=True)

    [email] = mail.outbox
    link = next(word for word in email.body.split() if "/admin/invitation/" in word)
    page.set_content(email.alternatives[0][0])
    page.screenshot(path=artifacts_dir / "invitation-email.png", full_page=True)

    guest = new_context().new_page()
    guest.goto(link)
    expect(guest.get_by_role("heading", name="Join the Skincare team")).to_be_visible()
    guest.get_by_label("Your full name").fill("Ada Lovelace")
    guest.get_by_label("Username").fill("ada")
    guest.locator("#id_password1").fill(PASSWORD)
    guest.get_by_label("Password again").fill(PASSWORD)
    guest.screenshot(path=artifacts_dir / "invitation-1-accept.png", full_page=True)
    guest.get_by_role("button", name="Create my account").click()

    expect(
        guest.get_by_role("heading", name="Set up your second factor")
    ).to_be_visible()
    guest.screenshot(path=artifacts_dir / "invitation-2-enrol.png", full_page=True)
    ada = get_user_model().objects.get(username="ada")
    guest.get_by_label("6-digit code from the app").fill(
        current_code(two_factor.pending_device(user=ada))
    )
    guest.get_by_role("button", name="Confirm and continue").click()
    expect(guest.get_by_role("heading", name="Save your backup codes")).to_be_visible()
    guest.screenshot(path=artifacts_dir / "invitation-3-backup-codes.png")
    guest.get_by_role("link", name="I have saved them: continue").click()

    expect(guest.get_by_role("heading", name="Your author profile")).to_be_visible()
    expect(guest.get_by_label("Your name as readers see it")).to_have_value(
        "Ada Lovelace"
    )
    guest.get_by_role("button", name="Save and go to the dashboard").click()
    expect(guest.locator(".errorlist")).to_contain_text("required")
    guest.get_by_label("Your name as readers see it").fill("Dr Ada Lovelace")
    guest.get_by_label("Credentials").fill("MD, board-certified dermatologist")
    guest.screenshot(path=artifacts_dir / "invitation-4-profile.png", full_page=True)
    guest.get_by_role("button", name="Save and go to the dashboard").click()

    expect(guest.locator("#user-tools")).to_contain_text("Welcome, Dr Ada")
    expect(guest.locator(".messagelist")).to_contain_text("author profile is made")
    guest.screenshot(path=artifacts_dir / "invitation-5-dashboard.png")
    author = Author.objects.get(user=ada)
    assert author.credentials == "MD, board-certified dermatologist"

    # The link is spent: it says so.
    guest.goto(link)
    expect(guest.locator(".errornote")).to_contain_text("used already")
    guest.screenshot(path=artifacts_dir / "invitation-6-used-link.png")
