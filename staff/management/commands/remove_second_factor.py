from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from staff import two_factor


class Command(BaseCommand):
    help = (
        "Forget every second factor of a staff member (lost phone, passkeys and "
        "backup codes): they set up a new one the next time they sign in to the "
        "admin. For the case no superuser can sign in to do it in the admin (Staff "
        "passkeys, Staff authenticator apps, Staff sign-in > Backup code sets). "
        "Safe to run twice: the second run removes nothing."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The account's username.")
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be removed, and remove nothing.",
        )

    def handle(self, *args, username: str, dry_run: bool, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account with the username {username!r}.")
        if dry_run:
            self.stdout.write(
                f"Would remove from {username}: {len(two_factor.passkeys(user))} "
                f"passkey(s), "
                f"{int(two_factor.confirmed_device(user) is not None)} authenticator "
                f"app(s), {two_factor.backup_codes_left(user)} backup code(s)."
            )
            return
        removed = two_factor.remove_devices(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed {removed} second factor(s) from {username}: they set up a "
                "new one at their next sign-in."
            )
        )
