"""Day-one accounts for trying the admin out (manage.py demo_staff, `make demo`):
development only, one account per role, a printed one-time password."""

import re
from io import StringIO

import pytest
from django.contrib.auth import get_user_model
from django.core.management import CommandError, call_command
from django.urls import reverse

from articles.editorial import revisions, workflow
from articles.management.commands.demo_staff import ACCOUNTS
from articles.models import Article, Author
from tests.factories import make_draft, make_role_user, make_topic

pytestmark = pytest.mark.django_db

LONG_SUMMARY = (
    "Keratosis pilaris makes small rough bumps on the arms; this explains what "
    "helps, what does not, and when to see a dermatologist about it."
)


@pytest.fixture(autouse=True)
def development(settings):
    settings.DEBUG = True
    settings.STAFF_TWO_FACTOR = False
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def run(*args) -> tuple[str, dict[str, str]]:
    out = StringIO()
    call_command("demo_staff", *args, stdout=out)
    text = out.getvalue()
    return text, dict(re.findall(r"^(demo-\S+)\s+password: (\S+)", text, re.M))


def test_refuses_with_debug_off(settings):
    settings.DEBUG = False
    with pytest.raises(CommandError, match="development only"):
        call_command("demo_staff", stdout=StringIO())
    assert not get_user_model().objects.filter(username__startswith="demo-").exists()


def test_makes_one_account_per_role_that_signs_in(client):
    _, passwords = run()
    assert set(passwords) == {a.username for a in ACCOUNTS}
    for account in ACCOUNTS:
        user = get_user_model().objects.get(username=account.username)
        assert user.is_staff and not user.is_superuser
        assert list(user.groups.values_list("name", flat=True)) == [account.role]
        response = client.post(
            reverse("admin:login"),
            {"username": account.username, "password": passwords[account.username]},
        )
        assert response.status_code == 302
        assert client.get(reverse("admin:index")).status_code == 200
        client.logout()
    writer = Author.objects.get(user__username="demo-writer")
    assert writer.name == "Demo Writer"


def test_second_run_resets_passwords_and_touches_no_one_else():
    other = make_role_user("Editor", username="someone")
    other_password = other.password
    _, first = run()
    text, second = run()
    assert set(second) == set(first)
    assert all(first[name] != second[name] for name in first)
    assert "password is reset" in text
    assert get_user_model().objects.filter(username__startswith="demo-").count() == 4
    assert Author.objects.filter(user__username__startswith="demo-").count() == 2
    editor = get_user_model().objects.get(username="demo-editor")
    assert not editor.check_password(first["demo-editor"])
    assert editor.check_password(second["demo-editor"])
    other.refresh_from_db()
    assert other.password == other_password


def test_dry_run_writes_nothing():
    text, passwords = run("--dry-run")
    assert passwords == {}
    assert "Would make demo-reviewer (Medical reviewer)." in text
    assert not get_user_model().objects.filter(username__startswith="demo-").exists()
    assert not Author.objects.exists()


def test_the_reviewer_approves_a_medical_article_at_once():
    run()
    users = {u.username: u for u in get_user_model().objects.all()}
    writer, reviewer = users["demo-writer"], users["demo-reviewer"]
    article = make_draft(
        summary=LONG_SUMMARY, created_by=writer, topic=make_topic(medical=True)
    )
    data = {**revisions.latest(article).data, "body": "<p>Urea helps [1].</p>"}
    data["sources"] = [{"title": "A trial", "url": "https://example.org/trial"}]
    workflow.save_draft(article=article, data=data, user=writer)
    workflow.submit_for_review(article=Article.objects.get(pk=article.pk), user=writer)
    approval = workflow.approve(
        article=Article.objects.get(pk=article.pk), user=reviewer
    )
    assert approval is not None
    assert approval.reviewer_name == "Dr Demo Reviewer"
    assert approval.reviewer_credentials == "MD (demo account)"
