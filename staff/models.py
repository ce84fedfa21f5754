"""What staff sign-in stores beside django-otp's and django-otp-webauthn's devices:
backup codes (hashed), the lockouts password guessing caused, the emailed
links that lift one, and the invitations that bring new staff in."""

import hashlib
import hmac

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.db.models.functions import Lower
from django.utils import timezone
from django_otp.models import Device, ThrottlingMixin, TimestampMixin

# Wrong backup codes wait 1, 2, 4... seconds, as wrong app codes do.
BACKUP_CODE_THROTTLE_FACTOR = 1


def code_digest(*, salt: str, code: str) -> str:
    """SHA-256 of the salt and the code. A slow password hash is not needed: a code
    holds 60 random bits, beyond guessing even offline, and ten slow hashes per
    attempt would make each sign-in wait."""
    return hashlib.sha256(f"{salt}:{code}".encode()).hexdigest()


def link_digest(token: str) -> str:
    """SHA-256 of an unlock link's secret (256 random bits): what is stored."""
    return hashlib.sha256(token.encode()).hexdigest()


class BackupCodeSet(ThrottlingMixin, TimestampMixin, Device):
    """A staff member's ten one-time backup codes, as a django-otp device: each
    code opens one session when the passkey or the phone is not at hand.

    Only salted hashes are kept (django-otp's own static device keeps codes in
    plain text); the codes are shown once, when made.
    """

    class Meta:
        verbose_name = "backup code set"

    def __str__(self) -> str:
        return f"Backup codes of {self.user}"

    def get_throttle_factor(self) -> int:
        return BACKUP_CODE_THROTTLE_FACTOR

    def verify_token(self, token: str) -> bool:
        """Use up the code `token` if it is one of this set's unused codes.

        django_otp.verify_token calls this inside a transaction holding this
        device's row lock, so two requests with the same code are taken one after
        the other, and the second finds the code gone.
        """
        allowed, _ = self.verify_is_allowed()
        if not allowed:
            return False
        match = next(
            (
                code
                for code in self.codes.all()
                if hmac.compare_digest(
                    code.digest, code_digest(salt=code.salt, code=token)
                )
            ),
            None,
        )
        if match is None:
            self.throttle_increment()
            return False
        match.delete()
        self.throttle_reset(commit=False)
        self.set_last_used_timestamp(commit=False)
        self.save()
        return True


class BackupCode(models.Model):
    """One unused backup code, as a salted hash; deleted once used."""

    device = models.ForeignKey(
        BackupCodeSet, on_delete=models.CASCADE, related_name="codes"
    )
    salt = models.CharField(max_length=32)
    digest = models.CharField(max_length=64)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["device", "digest"], name="staff_backupcode_unique_digest"
            )
        ]

    def __str__(self) -> str:
        return f"Backup code {self.pk} of {self.device.user}"


class SignInLockout(models.Model):
    """A sign-in limit that ran out (staff/sign_in_limits.py): shown to superusers
    on the admin home and in the admin, and logged as it happens."""

    class Limit(models.TextChoices):
        ACCOUNT = "account", "Password guesses at one account"
        NETWORK = "network", "Failed sign-ins from one network"

    limit = models.CharField(max_length=16, choices=Limit.choices)
    # The account guessed at (as typed, for the account limit; the attempt that
    # ran the network limit out, for that one).
    username = models.CharField(max_length=255, blank=True)
    # The IPv4 address, or the first address of the IPv6 /64.
    network = models.GenericIPAddressField(null=True, blank=True)
    failures = models.PositiveIntegerField()
    created_at = models.DateTimeField(default=timezone.now, db_index=True)

    class Meta:
        ordering = ["-created_at", "-pk"]
        verbose_name = "sign-in lockout"
        constraints = [
            models.CheckConstraint(
                condition=~Q(limit="account") | ~Q(username=""),
                name="staff_lockout_account_has_username",
            ),
            models.CheckConstraint(
                condition=~Q(limit="network") | Q(network__isnull=False),
                name="staff_lockout_network_has_address",
            ),
        ]

    def __str__(self) -> str:
        subject = self.username if self.limit == self.Limit.ACCOUNT else self.network
        return f"{self.get_limit_display()}: {subject}"


class UnlockLink(models.Model):
    """A single-use link, emailed to an account's own address, that lets its owner
    past the account's guessing limit once (password and second factor still
    asked). Only a hash of the link's secret is kept."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="staff_unlocklink_expires_after_creation",
            )
        ]

    def __str__(self) -> str:
        return f"Unlock link for {self.user} ({self.created_at:%Y-%m-%d %H:%M})"


class Invitation(models.Model):
    """An emailed invitation to join the staff in one role: who asked, when, and
    what became of it (accepted, revoked, or left to expire). Only a hash of the
    link's secret is kept; resending makes a new secret, so an older link stops
    working."""

    class Role(models.TextChoices):
        # The value is what `invite_staff --role` takes; the group, made by
        # migrations, is ROLE_GROUPS[value].
        WRITER = "writer", "Writer"
        REVIEWER = "reviewer", "Medical reviewer"
        EDITOR = "editor", "Editor"
        NEWSLETTER = "newsletter", "Newsletter editor"

    email = models.EmailField()
    role = models.CharField(max_length=16, choices=Role.choices)
    invited_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )
    token_digest = models.CharField(max_length=64, unique=True)
    created_at = models.DateTimeField(default=timezone.now)
    expires_at = models.DateTimeField()
    last_sent_at = models.DateTimeField(default=timezone.now)
    send_count = models.PositiveSmallIntegerField(default=1)
    accepted_at = models.DateTimeField(null=True, blank=True)
    accepted_user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        verbose_name="account made",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="invitation",
    )
    revoked_at = models.DateTimeField(null=True, blank=True)
    revoked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="+",
    )

    class Meta:
        ordering = ["-created_at", "-pk"]
        permissions = [("invite_staff", "Can invite staff")]
        constraints = [
            # One open invitation per address (expired ones included: resend or
            # revoke it), so two links never race to make two accounts.
            models.UniqueConstraint(
                Lower("email"),
                condition=Q(accepted_at__isnull=True, revoked_at__isnull=True),
                name="staff_invitation_one_open_per_email",
            ),
            models.CheckConstraint(
                condition=Q(expires_at__gt=models.F("created_at")),
                name="staff_invitation_expires_after_creation",
            ),
            models.CheckConstraint(
                condition=Q(accepted_at__isnull=True) | Q(revoked_at__isnull=True),
                name="staff_invitation_not_accepted_and_revoked",
            ),
        ]

    def __str__(self) -> str:
        return f"Invitation of {self.email} as {self.get_role_display()}"

    @property
    def status(self) -> str:
        if self.accepted_at:
            return "accepted"
        if self.revoked_at:
            return "revoked"
        if self.expires_at <= timezone.now():
            return "expired"
        return "pending"
