"""Inviting, resending, revoking and accepting invitations. Every function checks
who may do it itself, so the admin, a crafted POST and the command are held to
the same rule. The link's secret is random (256 bits) and only its hash is kept
(staff.models.link_digest), as for unlock links."""

import secrets
import smtplib
from logging import getLogger

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.db import IntegrityError, transaction
from django.db.models import F, Q, QuerySet
from django.urls import reverse
from django.utils import timezone

from core.emails import build, render_email
from core.links import absolute
from core.people import display_name, split_name
from staff.models import Invitation, link_digest

logger = getLogger(__name__)

INVITE_PERMISSION = "staff.invite_staff"
# The role groups, made by the articles and newsletter migrations.
ROLE_GROUPS = {
    Invitation.Role.WRITER: "Writer",
    Invitation.Role.REVIEWER: "Medical reviewer",
    Invitation.Role.EDITOR: "Editor",
    Invitation.Role.NEWSLETTER: "Newsletter editor",
}


STATUSES = ("pending", "accepted", "expired", "revoked")


class InvitationError(Exception):
    """An invitation that cannot be made, changed or used; the message says why
    and what to do."""


class EmailNotSent(InvitationError):
    """The invitation is made or renewed, but its email was not sent: `link` is
    the new link, for the command line to print."""

    def __init__(self, message: str, *, link: str):
        super().__init__(message)
        self.link = link


def may_invite(user) -> bool:
    """A superuser, or an active staff account given "Can invite staff"."""
    return bool(
        user is not None
        and user.is_active
        and user.is_staff
        and (user.is_superuser or user.has_perm(INVITE_PERMISSION))
    )


def _check_may_invite(user) -> None:
    # None: the command line (manage.py invite_staff), which is the server's
    # operator.
    if user is not None and not may_invite(user):
        raise InvitationError("Your account may not invite staff.")


def link_for(token: str) -> str:
    return absolute(reverse("staff_invitation:accept", args=[token]))


def invite(*, email: str, role: str, invited_by, send: bool = True) -> tuple:
    """Make an invitation for `email` in `role` and (send) email its link.
    Returns (invitation, link). Refused for an address that already has an
    account or an open invitation (resend or revoke that one)."""
    _check_may_invite(invited_by)
    email = get_user_model().objects.normalize_email(email.strip()).lower()
    if role not in ROLE_GROUPS:
        raise InvitationError(f"Unknown role {role!r}.")
    role_group(role)
    if get_user_model().objects.filter(email__iexact=email).exists():
        raise InvitationError(
            f"{email} already has an account: give it the role from Users instead."
        )
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    try:
        with transaction.atomic():
            invitation = Invitation.objects.create(
                email=email,
                role=role,
                invited_by=invited_by,
                token_digest=link_digest(token),
                created_at=now,
                last_sent_at=now,
                expires_at=now + settings.STAFF_INVITATION_MAX_AGE,
            )
    except IntegrityError:
        raise InvitationError(
            f"{email} already has an open invitation: resend or revoke it."
        ) from None
    logger.info(
        "Invitation %s: %s invited as %s by %s.",
        invitation.pk,
        email,
        role,
        _who(invited_by),
    )
    if send:
        send_email(invitation=invitation, token=token)
    return invitation, link_for(token)


def open_invitation(email: str) -> Invitation | None:
    """The address's invitation that is neither accepted nor revoked."""
    return Invitation.objects.filter(
        email__iexact=email.strip(), accepted_at__isnull=True, revoked_at__isnull=True
    ).first()


def with_status(queryset: QuerySet, status: str) -> QuerySet:
    """The invitations of `queryset` in `status` (Invitation.status)."""
    now = timezone.now()
    open_ = Q(accepted_at__isnull=True, revoked_at__isnull=True)
    return queryset.filter(
        {
            "pending": open_ & Q(expires_at__gt=now),
            "expired": open_ & Q(expires_at__lte=now),
            "accepted": Q(accepted_at__isnull=False),
            "revoked": Q(revoked_at__isnull=False),
        }.get(status, Q(pk__in=[]))
    )


def resend(*, invitation: Invitation, by, send: bool = True) -> str:
    """A new link for an open invitation, valid STAFF_INVITATION_MAX_AGE from now
    (the old link stops working), emailed again; returns it."""
    _check_may_invite(by)
    token = secrets.token_urlsafe(32)
    now = timezone.now()
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(
        token_digest=link_digest(token),
        last_sent_at=now,
        expires_at=now + settings.STAFF_INVITATION_MAX_AGE,
        send_count=F("send_count") + 1,
    )
    if not updated:
        raise InvitationError(
            "This invitation was accepted or revoked: it cannot be resent."
        )
    invitation.refresh_from_db()
    logger.info("Invitation %s resent by %s.", invitation.pk, _who(by))
    if send:
        send_email(invitation=invitation, token=token)
    return link_for(token)


def revoke(*, invitation: Invitation, by) -> Invitation:
    """Stop an open invitation's link from working."""
    _check_may_invite(by)
    updated = Invitation.objects.filter(
        pk=invitation.pk, accepted_at__isnull=True, revoked_at__isnull=True
    ).update(revoked_at=timezone.now(), revoked_by=by)
    if not updated:
        raise InvitationError(
            "This invitation was accepted or revoked already: nothing changed."
        )
    invitation.refresh_from_db()
    logger.info("Invitation %s revoked by %s.", invitation.pk, _who(by))
    return invitation


def send_email(*, invitation: Invitation, token: str) -> None:
    """Email the link; EmailNotSent (the invitation is kept) if the mail server
    refused it or could not be reached."""
    subject, text, html = render_email(
        "staff/emails/invitation",
        {
            "invitation": invitation,
            "role": invitation.get_role_display(),
            "inviter": _who(invitation.invited_by, unknown="The Skincare team"),
            "url": link_for(token),
            "days": settings.STAFF_INVITATION_MAX_AGE.days,
        },
    )
    message = build(
        to=invitation.email,
        subject=subject,
        text=text,
        html=html,
        headers={"Auto-Submitted": "auto-generated"},
    )
    try:
        message.send()
    except (smtplib.SMTPException, OSError) as error:
        logger.exception("Invitation %s: the email was not sent.", invitation.pk)
        raise EmailNotSent(
            f"The invitation of {invitation.email} is saved, but its email could "
            "not be sent. Resend it once email works again.",
            link=link_for(token),
        ) from error


def usable(token: str) -> Invitation:
    """The open, unexpired invitation `token` opens; InvitationError says which
    of used, revoked, expired or unknown it is, and what to do."""
    invitation = (
        Invitation.objects.filter(token_digest=link_digest(token)).first()
        if token
        else None
    )
    if invitation is None:
        raise InvitationError(
            "This invitation link is not valid: it may have been mistyped, or a "
            "newer link was sent since. Use the latest email, or ask whoever "
            "invited you to resend it."
        )
    if invitation.accepted_at:
        raise InvitationError(
            "This invitation has been used already: sign in with the username "
            "and password chosen then."
        )
    if invitation.revoked_at:
        raise InvitationError(
            "This invitation was withdrawn. Ask whoever invited you if you "
            "should still join."
        )
    if invitation.expires_at <= timezone.now():
        raise InvitationError(
            "This invitation has expired. Ask whoever invited you to resend it: "
            "a new link works for another "
            f"{settings.STAFF_INVITATION_MAX_AGE.days} days."
        )
    return invitation


def is_usable(token: str) -> bool:
    try:
        usable(token)
    except InvitationError:
        return False
    return True


def accept(*, token: str, username: str, password: str, name: str):
    """Make the staff account the invitation is for, in its role group, and spend
    the invitation; returns the account. Of two requests with the same link, one
    wins (the row is locked)."""
    with transaction.atomic():
        invitation = usable(token)
        invitation = Invitation.objects.select_for_update().get(pk=invitation.pk)
        if invitation.accepted_at or invitation.revoked_at:
            raise InvitationError("This invitation has been used already.")
        User = get_user_model()
        if User.objects.filter(username__iexact=username).exists():
            raise InvitationError("That username is taken: choose another.")
        first_name, last_name = split_name(name)
        user = User(
            username=username,
            email=invitation.email,
            first_name=first_name,
            last_name=last_name,
            is_staff=True,
            is_active=True,
        )
        user.set_password(password)
        user.save()
        user.groups.add(role_group(invitation.role))
        invitation.accepted_at = timezone.now()
        invitation.accepted_user = user
        invitation.save(update_fields=["accepted_at", "accepted_user"])
    logger.info(
        "Invitation %s accepted: account %s made as %s.",
        invitation.pk,
        username,
        invitation.role,
    )
    return user


def role_group(role: str) -> Group:
    group = Group.objects.filter(name=ROLE_GROUPS[role]).first()
    if group is None:
        raise InvitationError(
            f"The role group {ROLE_GROUPS[role]!r} does not exist: run "
            "`manage.py migrate`, which makes the role groups."
        )
    return group


def _who(user, unknown: str = "manage.py invite_staff") -> str:
    return unknown if user is None else display_name(user)
