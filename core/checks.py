"""System checks for settings the site cannot run well without."""

from email.utils import parseaddr

from django.conf import settings
from django.core.checks import CheckMessage, Error

# Names that can never receive mail (RFC 2606, RFC 6761, RFC 6762, and what
# machines call themselves): a sender there gets its mail refused or junked, and
# Message-IDs and List-Id, which use the From domain, look forged.
LOCAL_NAMES = {"localhost", "localhost.localdomain"}
RESERVED_SUFFIXES = (
    ".local",
    ".localhost",
    ".localdomain",
    ".invalid",
    ".test",
    ".example",
    ".internal",
    ".home.arpa",
)
HINT = (
    "Set DJANGO_DEFAULT_FROM_EMAIL to the address site emails and newsletters are "
    "sent from, on your real domain, e.g. 'Skincare <news@yourdomain.com>' "
    "(see README.md, 'Environment variables')."
)


def sender_problem(value: object) -> str | None:
    """Why `value` is not a sender on a real domain, or None if it is one."""
    if not isinstance(value, str) or not value.strip():
        return "is not set"
    address = parseaddr(value)[1]
    local, at, domain = address.rpartition("@")
    domain = domain.strip().lower().rstrip(".")
    if not at or not local or not domain or any(c.isspace() for c in address):
        return f"({value!r}) is not an email address"
    if domain in LOCAL_NAMES or domain.endswith(RESERVED_SUFFIXES):
        return f"({value!r}) is on {domain!r}, which cannot receive mail"
    labels = domain.split(".")
    if len(labels) < 2 or not all(labels):
        return f"({value!r}) has no real domain ({domain!r})"
    if domain.replace(".", "").isdigit():
        return f"({value!r}) is on an IP address, not a domain"
    return None


def check_sender(app_configs=None, **kwargs) -> list[CheckMessage]:
    """In production posture the sender must be on a real domain."""
    if settings.DEBUG:
        return []
    problem = sender_problem(getattr(settings, "DEFAULT_FROM_EMAIL", None))
    if problem is None:
        return []
    return [
        Error(
            f"DEFAULT_FROM_EMAIL {problem}.",
            hint=HINT,
            id="core.E001",
        )
    ]
