from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError
from django.core.validators import validate_email

from staff.invitations import services
from staff.models import Invitation


class Command(BaseCommand):
    help = (
        "Invite a person to the staff in one role: emails them a link (single use, "
        "valid 7 days) to choose a username and password and set up a second "
        "factor, and prints the link. Safe to run twice: an address with an open "
        "invitation is left alone unless --resend is given (a new link; the old "
        "one stops working). Recorded as invited by manage.py."
    )

    def add_arguments(self, parser):
        parser.add_argument("--email", required=True, help="Where the link goes.")
        parser.add_argument(
            "--role", required=True, choices=[role.value for role in Invitation.Role]
        )
        parser.add_argument(
            "--resend",
            action="store_true",
            help="If the address has an open invitation, send it again with a "
            "new link.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would happen; make, send and change nothing.",
        )

    def handle(self, *args, email: str, role: str, resend: bool, dry_run: bool, **o):
        email = email.strip().lower()
        try:
            validate_email(email)
        except ValidationError:
            raise CommandError(f"{email!r} is not an email address.") from None
        existing = services.open_invitation(email)
        try:
            if existing is not None:
                self._open(existing, role=role, resend=resend, dry_run=dry_run)
            elif dry_run:
                self.stdout.write(
                    f"Would invite {email} as {Invitation.Role(role).label}. "
                    "Dry run: nothing changed."
                )
            else:
                invitation, link = services.invite(
                    email=email, role=role, invited_by=None
                )
                self.stdout.write(
                    self.style.SUCCESS(
                        f"Invited {email} as {invitation.get_role_display()}; "
                        f"the link (valid until {invitation.expires_at:%Y-%m-%d %H:%M}"
                        " UTC) was emailed:"
                    )
                )
                self.stdout.write(link)
        except services.EmailNotSent as error:
            self.stdout.write(self.style.WARNING(f"{error} The link:"))
            self.stdout.write(error.link)
        except services.InvitationError as error:
            raise CommandError(str(error)) from None

    def _open(self, invitation: Invitation, *, role: str, resend: bool, dry_run: bool):
        said = (
            f"{invitation.email} has an open ({invitation.status}) invitation as "
            f"{invitation.get_role_display()}, made {invitation.created_at:%Y-%m-%d}"
        )
        if invitation.role != role:
            raise CommandError(
                f"{said}: revoke it in the admin before inviting in another role."
            )
        if not resend:
            self.stdout.write(f"{said}. Nothing sent: add --resend for a new link.")
        elif dry_run:
            self.stdout.write(f"{said}. Would resend it. Dry run: nothing changed.")
        else:
            link = services.resend(invitation=invitation, by=None)
            self.stdout.write(self.style.SUCCESS(f"{said}. Resent, with a new link:"))
            self.stdout.write(link)
