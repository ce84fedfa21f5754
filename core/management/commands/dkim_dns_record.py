from django.core.exceptions import ImproperlyConfigured
from django.core.management.base import BaseCommand, CommandError

from core import dkim_signing

# A TXT record's strings hold 255 characters each; DNS joins them back.
TXT_CHUNK = 255


class Command(BaseCommand):
    help = (
        "Print the DNS TXT record that publishes the public half of the DKIM key "
        "(DJANGO_DKIM_PRIVATE_KEY_FILE or DJANGO_DKIM_PRIVATE_KEY, "
        "DJANGO_DKIM_SELECTOR, DJANGO_DKIM_DOMAIN), for your DNS provider or zone "
        "file. Reads the settings only; changes nothing."
    )

    def handle(self, *args, **options):
        if not dkim_signing.configured():
            raise CommandError(
                "No DKIM key is configured: set DJANGO_DKIM_PRIVATE_KEY_FILE (or "
                "DJANGO_DKIM_PRIVATE_KEY) and DJANGO_DKIM_SELECTOR first."
            )
        try:
            signer = dkim_signing.load_signer()
        except ImproperlyConfigured as exc:
            raise CommandError(str(exc)) from exc
        value = signer.dns_value()
        chunks = " ".join(
            f'"{value[i : i + TXT_CHUNK]}"' for i in range(0, len(value), TXT_CHUNK)
        )
        self.stdout.write(f"Name:  {signer.dns_name()}")
        self.stdout.write("Type:  TXT")
        self.stdout.write(f"Value: {value}")
        self.stdout.write("")
        self.stdout.write("As a zone file line:")
        self.stdout.write(f"{signer.dns_name()}. 3600 IN TXT ( {chunks} )")
