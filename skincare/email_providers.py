"""Email providers (django-anymail) from the environment, for settings.py.

DJANGO_EMAIL_PROVIDER names the provider whose API sends mail; its credentials come
from the environment. DJANGO_EMAIL_WEBHOOKS names the providers whose tracking
webhooks (bounces, complaints, unsubscribes) are accepted: by default the sending
provider's, and it may name one when mail goes out through that provider's SMTP
relay. A provider that is unknown, or a credential that is missing, stops the site
at start-up with a message naming the variable: a half-configured provider would
otherwise fail at the first send, or accept webhooks from anyone.
"""

from collections.abc import Mapping
from dataclasses import dataclass, field

from django.core.exceptions import ImproperlyConfigured

BACKENDS = {
    "postmark": "anymail.backends.postmark.EmailBackend",
    "mailgun": "anymail.backends.mailgun.EmailBackend",
    "amazon_ses": "anymail.backends.amazon_ses.EmailBackend",
    "sendgrid": "anymail.backends.sendgrid.EmailBackend",
    "brevo": "anymail.backends.brevo.EmailBackend",
}

# What each provider needs to send: (environment variable, ANYMAIL setting).
# Amazon SES takes boto3's own credentials (AWS_ACCESS_KEY_ID and
# AWS_SECRET_ACCESS_KEY, or an instance role), never settings.
SENDING_CREDENTIALS = {
    "postmark": [("POSTMARK_SERVER_TOKEN", "POSTMARK_SERVER_TOKEN")],
    "mailgun": [("MAILGUN_API_KEY", "MAILGUN_API_KEY")],
    "amazon_ses": [],
    "sendgrid": [("SENDGRID_API_KEY", "SENDGRID_API_KEY")],
    "brevo": [("BREVO_API_KEY", "BREVO_API_KEY")],
}
# Optional settings: (environment variable, ANYMAIL setting).
OPTIONAL = {
    "mailgun": [
        # e.g. https://api.eu.mailgun.net/v3 for an EU domain.
        ("MAILGUN_API_URL", "MAILGUN_API_URL"),
        ("MAILGUN_SENDER_DOMAIN", "MAILGUN_SENDER_DOMAIN"),
    ],
}
# Beyond the shared basic-auth secret, what a provider signs its webhooks with.
WEBHOOK_CREDENTIALS = {
    "mailgun": [("MAILGUN_WEBHOOK_SIGNING_KEY", "MAILGUN_WEBHOOK_SIGNING_KEY")],
}
WEBHOOK_SECRET = "ANYMAIL_WEBHOOK_SECRET"


@dataclass
class EmailProviders:
    backend: str | None = None
    anymail: dict = field(default_factory=dict)
    webhooks: list[str] = field(default_factory=list)


def _required(env: Mapping[str, str], name: str, why: str) -> str:
    value = env.get(name, "").strip()
    if not value:
        raise ImproperlyConfigured(
            f"{name} must be set {why} (see docs/email.md, 'Email providers')."
        )
    return value


def _provider(name: str, variable: str) -> str:
    provider = name.strip().lower()
    if provider not in BACKENDS:
        raise ImproperlyConfigured(
            f"{variable} names an unknown email provider {name!r}: use one of "
            f"{', '.join(BACKENDS)} (see docs/email.md, 'Email providers')."
        )
    return provider


def from_environment(env: Mapping[str, str]) -> EmailProviders:
    """The email backend (None: not a provider), ANYMAIL settings and the
    providers whose tracking webhooks are on."""
    result = EmailProviders()
    chosen = env.get("DJANGO_EMAIL_PROVIDER", "").strip()
    if chosen:
        provider = _provider(chosen, "DJANGO_EMAIL_PROVIDER")
        if env.get("EMAIL_HOST", "").strip():
            raise ImproperlyConfigured(
                "Set either EMAIL_HOST (our own SMTP server) or "
                "DJANGO_EMAIL_PROVIDER (an email provider's API), not both "
                "(see docs/email.md, 'Email providers')."
            )
        result.backend = BACKENDS[provider]
        for variable, setting in SENDING_CREDENTIALS[provider]:
            result.anymail[setting] = _required(
                env, variable, f"with DJANGO_EMAIL_PROVIDER={provider}"
            )
        for variable, setting in OPTIONAL.get(provider, []):
            if env.get(variable, "").strip():
                result.anymail[setting] = env[variable].strip()
        if provider == "amazon_ses" and env.get("AMAZON_SES_REGION", "").strip():
            result.anymail["AMAZON_SES_CLIENT_PARAMS"] = {
                "region_name": env["AMAZON_SES_REGION"].strip()
            }
    webhooks = env.get("DJANGO_EMAIL_WEBHOOKS", chosen)
    result.webhooks = [
        _provider(name, "DJANGO_EMAIL_WEBHOOKS")
        for name in webhooks.split(",")
        if name.strip()
    ]
    if result.webhooks:
        # Anymail's views accept anyone's post without it (with a warning only).
        secret = _required(env, WEBHOOK_SECRET, "to receive provider webhooks")
        if ":" not in secret:
            raise ImproperlyConfigured(
                f"{WEBHOOK_SECRET} must be 'user:password' (the basic auth put in "
                "the webhook address at the provider)."
            )
        result.anymail["WEBHOOK_SECRET"] = secret
    for provider in result.webhooks:
        for variable, setting in WEBHOOK_CREDENTIALS.get(provider, []):
            result.anymail[setting] = _required(
                env, variable, f"to receive {provider} webhooks"
            )
    return result
