from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from staff import two_factor


class Command(BaseCommand):
    help = (
        "Forget a staff member's authenticator app (a lost or replaced phone). "
        "They set up a new one the next time they sign in to the admin. For the "
        "case no superuser can sign in to do it in the admin ('Staff authenticator "
        "apps' there)."
    )

    def add_arguments(self, parser):
        parser.add_argument("username", help="The account's username.")

    def handle(self, *args, username: str, **options):
        user = get_user_model().objects.filter(username=username).first()
        if user is None:
            raise CommandError(f"No account with the username {username!r}.")
        removed = two_factor.remove_devices(user=user)
        self.stdout.write(
            self.style.SUCCESS(
                f"Removed {removed} authenticator app(s) from {username}: they set "
                "up a new one at their next sign-in."
            )
        )
