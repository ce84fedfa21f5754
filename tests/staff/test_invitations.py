"""Invitations (staff/invitations): who may invite, resend and revoke, on every
path; the link (forged, expired, used, revoked); acceptance into the role, then
the second factor; the command."""

import re
from datetime import timedelta
from io import StringIO

import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group, Permission
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction
from django.urls import reverse
from django.utils import timezone

from staff.invitations import services
from staff.models import Invitation
from tests.factories import make_role_user, make_staff

pytestmark = pytest.mark.django_db
ROLES = ["Writer", "Medical reviewer", "Editor", "Newsletter editor"]
ADD_URL = "admin:staff_invitation_add"
LIST_URL = "admin:staff_invitation_changelist"
PASSWORD = "Lavender-pillow-1987"


@pytest.fixture(autouse=True)
def quick_password_hashing(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def inviter_with_permission():
    user = make_role_user("Editor", username="lead-editor")
    user.user_permissions.add(Permission.objects.get(codename="invite_staff"))
    return get_user_model().objects.get(pk=user.pk)


def token_of(link: str) -> str:
    return link.rstrip("/").rsplit("/", 1)[-1]


def link_in(message) -> str:
    return re.search(r"https?://\S+/admin/invitation/\S+/", message.body).group(0)


def invite(email="new@example.com", role="writer", by=None):
    by = by or (
        get_user_model().objects.filter(username="boss").first()
        or make_staff(username="boss")
    )
    return services.invite(email=email, role=role, invited_by=by)


def accept_data(**overrides) -> dict:
    return {
        "name": "Ada Lovelace",
        "username": "ada",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **overrides,
    }


# Who may invite --------------------------------------------------------------------


def test_a_superuser_invites_from_the_admin_and_the_email_carries_the_link(
    client, mailoutbox
):
    boss = make_staff(username="boss")
    client.force_login(boss)
    response = client.post(
        reverse(ADD_URL), {"email": "New@Example.com", "role": "reviewer"}
    )
    assert response.status_code == 302
    invitation = Invitation.objects.get()
    assert (invitation.email, invitation.role, invitation.invited_by) == (
        "new@example.com",
        "reviewer",
        boss,
    )
    assert invitation.expires_at - invitation.created_at == timedelta(days=7)
    [message] = mailoutbox
    assert message.to == ["new@example.com"]
    assert (
        message.subject == "You are invited to the Skincare admin as Medical reviewer"
    )
    html = message.alternatives[0][0]
    assert link_in(message) in html and "credentials" in message.body
    # Who invited whom, when, with which role: the admin's own log says it too.
    assert LogEntry.objects.get(object_id=str(invitation.pk)).user == boss


def test_an_account_given_can_invite_staff_may_invite(client, mailoutbox):
    client.force_login(inviter_with_permission())
    response = client.post(
        reverse(ADD_URL), {"email": "w@example.com", "role": "writer"}
    )
    assert response.status_code == 302
    assert Invitation.objects.get().invited_by.username == "lead-editor"
    assert len(mailoutbox) == 1


@pytest.mark.parametrize("role", ROLES)
def test_roles_without_the_permission_cannot_invite_even_by_a_crafted_post(
    client, mailoutbox, role
):
    client.force_login(make_role_user(role))
    response = client.post(
        reverse(ADD_URL), {"email": "x@example.com", "role": "editor"}
    )
    assert response.status_code == 403
    assert client.get(reverse(LIST_URL)).status_code == 403
    assert not Invitation.objects.exists() and not mailoutbox


@pytest.mark.parametrize("role", ROLES)
@pytest.mark.parametrize("action", ["resend_selected", "revoke_selected"])
def test_roles_without_the_permission_cannot_resend_or_revoke(
    client, mailoutbox, role, action
):
    invitation, _ = invite()
    mailoutbox.clear()
    before = Invitation.objects.values().get()
    client.force_login(make_role_user(role))
    response = client.post(
        reverse(LIST_URL), {"action": action, "_selected_action": [invitation.pk]}
    )
    assert response.status_code == 403
    assert Invitation.objects.values().get() == before and not mailoutbox


@pytest.mark.parametrize("role", ROLES)
def test_the_services_refuse_roles_without_the_permission(role):
    user = make_role_user(role)
    with pytest.raises(services.InvitationError):
        services.invite(email="x@example.com", role="writer", invited_by=user)
    invitation, _ = invite()
    for service in (services.resend, services.revoke):
        with pytest.raises(services.InvitationError):
            service(invitation=invitation, by=user)
    assert Invitation.objects.get().status == "pending"


def test_resend_from_the_admin_sends_a_new_link_and_the_old_one_stops_working(
    client, mailoutbox
):
    invitation, old_link = invite()
    client.force_login(inviter_with_permission())
    response = client.post(
        reverse(LIST_URL),
        {"action": "resend_selected", "_selected_action": [invitation.pk]},
    )
    assert response.status_code == 302
    new_link = link_in(mailoutbox[-1])
    assert new_link != old_link
    invitation.refresh_from_db()
    assert invitation.send_count == 2
    assert client.get(old_link).status_code == 410
    assert client.get(new_link).status_code == 200


def test_revoke_from_the_admin_makes_the_link_say_it_was_withdrawn(client):
    invitation, link = invite()
    boss = make_staff(username="chief")
    client.force_login(boss)
    client.post(
        reverse(LIST_URL),
        {"action": "revoke_selected", "_selected_action": [invitation.pk]},
    )
    invitation.refresh_from_db()
    assert invitation.status == "revoked" and invitation.revoked_by == boss
    client.logout()
    response = client.get(link)
    assert response.status_code == 410 and "withdrawn" in response.text


def test_an_address_with_an_account_or_an_open_invitation_is_refused(client):
    make_role_user("Writer", username="old")
    with pytest.raises(services.InvitationError, match="already has an account"):
        invite(email="OLD@example.com")
    invite(email="a@example.com")
    with pytest.raises(services.InvitationError, match="open invitation"):
        invite(email="A@example.com")
    client.force_login(make_staff(username="chief"))
    response = client.post(
        reverse(ADD_URL), {"email": "a@example.com", "role": "editor"}
    )
    assert response.status_code == 200 and "open invitation" in response.text
    assert Invitation.objects.count() == 1


def test_the_database_allows_one_open_invitation_per_address():
    invitation, _ = invite(email="a@example.com")
    with pytest.raises(IntegrityError), transaction.atomic():
        Invitation.objects.create(
            email="A@EXAMPLE.COM",
            role="editor",
            token_digest="x" * 64,
            expires_at=timezone.now() + timedelta(days=1),
        )
    services.revoke(invitation=invitation, by=None)
    invite(email="a@example.com")  # a revoked one no longer counts
    assert Invitation.objects.count() == 2


def test_the_list_shows_each_status_and_who_invited_in_constant_queries(
    client, django_assert_max_num_queries
):
    boss = make_staff(username="boss")
    boss.first_name, boss.last_name = "Grace", "Hopper"
    boss.save()
    invite(email="p@example.com", by=boss)
    expired, _ = invite(email="e@example.com", by=boss)
    Invitation.objects.filter(pk=expired.pk).update(
        created_at=timezone.now() - timedelta(days=8), expires_at=timezone.now()
    )
    revoked, _ = invite(email="r@example.com", by=boss)
    services.revoke(invitation=revoked, by=boss)
    _, link = invite(email="a@example.com", by=boss)
    services.accept(token=token_of(link), username="a", password=PASSWORD, name="A B")
    client.force_login(boss)
    with django_assert_max_num_queries(12):
        text = client.get(reverse(LIST_URL)).text
    for status in ("Pending", "Expired", "Revoked", "Accepted"):
        assert f">{status}<" in text
    assert text.count('<td class="field-inviter">Grace Hopper</td>') == 4
    assert '<td class="field-account">A B</td>' in text
    filtered = client.get(reverse(LIST_URL), {"status": "expired"}).text
    assert "e@example.com" in filtered and "p@example.com" not in filtered


# The link ----------------------------------------------------------------------------


def test_a_forged_link_is_gone_not_an_error(client):
    invite()
    response = client.get(reverse("staff_invitation:accept", args=["forged-token"]))
    assert response.status_code == 410 and "not valid" in response.text
    response = client.post(
        reverse("staff_invitation:accept", args=["forged-token"]), accept_data()
    )
    assert response.status_code == 410
    assert not get_user_model().objects.filter(username="ada").exists()


def test_an_expired_link_says_so_and_makes_nothing(client):
    invitation, link = invite()
    Invitation.objects.filter(pk=invitation.pk).update(
        created_at=timezone.now() - timedelta(days=8),
        expires_at=timezone.now() - timedelta(seconds=1),
    )
    response = client.post(link, accept_data())
    assert response.status_code == 410 and "expired" in response.text
    assert not get_user_model().objects.filter(username="ada").exists()


def test_a_used_link_says_so_and_cannot_make_a_second_account(client):
    _, link = invite()
    assert client.post(link, accept_data()).status_code == 302
    client.logout()
    response = client.post(link, accept_data(username="ada2"))
    assert response.status_code == 410 and "used already" in response.text
    assert not get_user_model().objects.filter(username="ada2").exists()


def test_the_link_page_names_the_role_and_asks_for_a_strong_password(client):
    _, link = invite(role="editor")
    page = client.get(link)
    assert page.status_code == 200 and "Editor" in page.text
    response = client.post(
        link, accept_data(password1="password", password2="password")
    )
    assert response.status_code == 400 and "too common" in response.text
    response = client.post(link, accept_data(password2="Other-pass-2020"))
    assert response.status_code == 400 and "differ" in response.text
    assert not get_user_model().objects.filter(username="ada").exists()


@pytest.mark.parametrize(
    "role,group",
    [
        ("writer", "Writer"),
        ("reviewer", "Medical reviewer"),
        ("editor", "Editor"),
        ("newsletter", "Newsletter editor"),
    ],
)
def test_accepting_makes_a_staff_account_in_the_role_with_the_name_given(
    client, role, group
):
    invitation, link = invite(email="ada@example.com", role=role)
    response = client.post(link, accept_data(name="  Ada   King Lovelace "))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:articles_author_mine")
    user = get_user_model().objects.get(username="ada")
    assert user.is_staff and not user.is_superuser and user.email == "ada@example.com"
    assert list(user.groups.values_list("name", flat=True)) == [group]
    assert user.get_full_name() == "Ada King Lovelace"
    assert user.check_password(PASSWORD)
    invitation.refresh_from_db()
    assert invitation.status == "accepted" and invitation.accepted_user == user


def test_with_the_second_factor_on_acceptance_leads_to_enrolment(
    unverified_client, settings
):
    settings.STAFF_TWO_FACTOR = True
    _, link = invite(role="editor")
    response = unverified_client.post(link, accept_data(), follow=True)
    first_redirect = response.redirect_chain[1][0]
    assert first_redirect.startswith(reverse("staff:enrol"))
    assert "Set up your second factor" in response.text


# The command ------------------------------------------------------------------------


def run(*args) -> str:
    out = StringIO()
    call_command("invite_staff", *args, stdout=out)
    return out.getvalue()


def test_the_command_dry_run_writes_and_sends_nothing(mailoutbox):
    out = run("--email", "n@example.com", "--role", "writer", "--dry-run")
    assert "Would invite n@example.com as Writer" in out
    assert not Invitation.objects.exists() and not mailoutbox


def test_the_command_invites_prints_the_link_and_is_safe_to_run_twice(mailoutbox):
    out = run("--email", "n@example.com", "--role", "reviewer")
    invitation = Invitation.objects.get()
    assert invitation.invited_by is None and invitation.role == "reviewer"
    assert link_in(mailoutbox[0]) in out
    again = run("--email", "n@example.com", "--role", "reviewer")
    assert "open (pending) invitation" in again and "Nothing sent" in again
    assert len(mailoutbox) == 1 and Invitation.objects.count() == 1
    assert "Would resend" in run(
        "--email", "n@example.com", "--role", "reviewer", "--resend", "--dry-run"
    )
    assert len(mailoutbox) == 1
    resent = run("--email", "n@example.com", "--role", "reviewer", "--resend")
    assert "Resent" in resent and link_in(mailoutbox[1]) in resent
    with pytest.raises(CommandError, match="another role"):
        run("--email", "n@example.com", "--role", "editor")
    with pytest.raises(CommandError, match="not an email"):
        run("--email", "nobody", "--role", "editor")


def test_a_username_taken_meanwhile_is_said_on_the_form_and_the_link_still_works(
    client, monkeypatch
):
    _, link = invite()
    # Taken between the form's check and the account's creation.
    monkeypatch.setattr(
        "staff.invitations.forms.AcceptForm.clean_username",
        lambda form: form.cleaned_data["username"],
    )
    make_role_user("Editor", username="ada")
    response = client.post(link, accept_data())
    assert response.status_code == 400 and "That username is taken" in response.text
    assert client.post(link, accept_data(username="ada-l")).status_code == 302


def test_a_role_whose_group_is_missing_is_refused_on_the_form_not_a_500(client):
    Group.objects.filter(name="Editor").delete()
    client.force_login(make_staff(username="chief"))
    response = client.post(
        reverse(ADD_URL), {"email": "e@example.com", "role": "editor"}
    )
    assert response.status_code == 200 and "manage.py migrate" in response.text
    assert not Invitation.objects.exists()


def test_a_mail_server_failure_keeps_the_invitation_and_says_to_resend(
    client, monkeypatch
):
    def refuse(message, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr("django.core.mail.EmailMultiAlternatives.send", refuse)
    client.force_login(make_staff(username="chief"))
    response = client.post(
        reverse(ADD_URL), {"email": "e@example.com", "role": "editor"}, follow=True
    )
    assert response.status_code == 200 and "could not be sent" in response.text
    assert Invitation.objects.get().status == "pending"
    out = run("--email", "e@example.com", "--role", "editor", "--resend")
    assert "could not be sent" in out and "/admin/invitation/" in out
