import secrets
from dataclasses import dataclass

from django.conf import settings
from django.contrib.auth import get_user_model
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from articles import services
from articles.models import Author
from core.slugs import unique_slug


@dataclass(frozen=True)
class DemoAccount:
    username: str
    role: str  # the group made by migrations
    does: str
    # Writers and reviewers sign their work: an author profile linked to the account
    # (a reviewer's with credentials, which an approval records).
    author_name: str = ""
    credentials: str = ""


ACCOUNTS = (
    DemoAccount(
        "demo-writer",
        "Writer",
        "writes and submits drafts",
        author_name="Demo Writer",
    ),
    DemoAccount(
        "demo-reviewer",
        "Medical reviewer",
        "approves medical articles and newsletter text",
        author_name="Dr Demo Reviewer",
        credentials="MD (demo account)",
    ),
    DemoAccount("demo-editor", "Editor", "assigns reviewers, publishes, schedules"),
    DemoAccount(
        "demo-newsletter", "Newsletter editor", "sends issues, manages subscribers"
    ),
)


class Command(BaseCommand):
    help = (
        "Development only (DJANGO_DEBUG=1): make one staff account per role "
        "(demo-writer, demo-reviewer, demo-editor, demo-newsletter) and print a "
        "one-time random password for each. The writer and the reviewer get an "
        "author profile (the reviewer's with credentials, so they can approve at "
        "once). Safe to run again: it gives those four accounts new passwords and "
        "touches no other account. `make demo` calls it."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say which accounts would be made or get a new password; "
            "change nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        if not settings.DEBUG:
            raise CommandError(
                "demo_staff makes accounts whose passwords are printed: it runs in "
                "development only (DJANGO_DEBUG=1), and DEBUG is off. Invite real "
                "staff through the admin instead."
            )
        groups = {g.name: g for g in Group.objects.filter(name__in=_roles())}
        missing = sorted(set(_roles()) - set(groups))
        if missing:
            raise CommandError(
                f"The role groups {', '.join(missing)} do not exist yet: run "
                "`manage.py migrate` first (or `make demo`)."
            )
        User = get_user_model()
        existing = set(
            User.objects.filter(
                username__in=[a.username for a in ACCOUNTS]
            ).values_list("username", flat=True)
        )
        if dry_run:
            for account in ACCOUNTS:
                verb = (
                    "Would give a new password to"
                    if account.username in existing
                    else "Would make"
                )
                self.stdout.write(f"{verb} {account.username} ({account.role}).")
            self.stdout.write("Dry run: nothing changed.")
            return
        passwords = {}
        with transaction.atomic():
            for account in ACCOUNTS:
                passwords[account.username] = _make_or_reset(
                    account, group=groups[account.role]
                )
        for account in ACCOUNTS:
            state = (
                "existed: its password is reset"
                if account.username in existing
                else "made"
            )
            self.stdout.write(
                f"{account.username:<16} password: {passwords[account.username]}  "
                f"{account.role} ({account.does}); {state}"
            )
        self.stdout.write(
            self.style.SUCCESS(
                "Sign in at /admin/ with these passwords; they are shown only now "
                "(run demo_staff again for new ones)."
            )
        )
        if settings.STAFF_TWO_FACTOR:
            self.stdout.write(
                "The second factor is on (DJANGO_STAFF_TWO_FACTOR): each account "
                "enrols one at its first sign-in."
            )


def _roles() -> list[str]:
    return [a.role for a in ACCOUNTS]


def _make_or_reset(account: DemoAccount, *, group: Group) -> str:
    """The account as the role needs it, with a new random password (returned)."""
    password = secrets.token_urlsafe(12)
    user, _ = get_user_model().objects.get_or_create(
        username=account.username,
        defaults={"email": f"{account.username}@example.com"},
    )
    user.is_staff = True
    user.is_active = True
    user.set_password(password)
    user.save()
    user.groups.add(group)
    if account.author_name and not Author.objects.filter(user=user).exists():
        author = Author(
            name=account.author_name,
            slug=unique_slug(
                queryset=Author.objects.all(),
                text=account.author_name,
                max_length=Author._meta.get_field("slug").max_length,
                fallback="author",
            ),
            credentials=account.credentials,
            user=user,
        )
        # Saved as the account itself: a profile of one's own (services.save_author).
        services.save_author(author=author, user=user)
    return password
