"""System checks for settings the site cannot run well without."""

from email.utils import parseaddr

from django.conf import settings
from django.core.checks import CheckMessage, Error
from django.core.exceptions import ImproperlyConfigured
from django.utils.module_loading import import_string

from core import dkim_signing

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
    "(see docs/operations.md, 'Environment variables')."
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


DKIM_HINT = "See docs/email.md, 'DKIM'."


def check_dkim(app_configs=None, **kwargs) -> list[CheckMessage]:
    """A DKIM setting that cannot sign, or a key with mail going out unsigned."""
    if not (
        dkim_signing.configured() or settings.DKIM_SELECTOR or settings.DKIM_DOMAIN
    ):
        return []
    try:
        dkim_signing.load_signer()
    except ImproperlyConfigured as exc:
        return [Error(str(exc), hint=DKIM_HINT, id="core.E002")]
    try:
        backend = import_string(settings.EMAIL_BACKEND)
    except ImportError:
        return []  # Django's own check of the setting says so.
    if not issubclass(backend, dkim_signing.EmailBackend):
        return [
            Error(
                f"DKIM: a key is set but EMAIL_BACKEND is {settings.EMAIL_BACKEND!r}, "
                "so mail would go out unsigned.",
                hint="Set EMAIL_HOST (mail is signed when it goes out over our own "
                "SMTP server), or unset DJANGO_DKIM_* when a provider signs for you. "
                + DKIM_HINT,
                id="core.E003",
            )
        ]
    return []


def check_worker(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Worker heartbeats that can tell a dead worker from a slow one, and recovery
    functions that exist (core/workers.py)."""
    errors = []
    beat, dead = settings.WORKER_HEARTBEAT_SECONDS, settings.WORKER_DEAD_AFTER_SECONDS
    if not 0 < beat <= dead / 2:
        errors.append(
            Error(
                f"DJANGO_WORKER_HEARTBEAT_SECONDS ({beat:g}) must be more than 0 and "
                f"at most half of DJANGO_WORKER_DEAD_AFTER_SECONDS ({dead:g}): a "
                "worker that missed one beat would be taken for dead, and its task "
                "run a second time beside it.",
                hint="The defaults are 10 and 60.",
                id="core.E010",
            )
        )
    for path in settings.WORKER_RECOVERY:
        try:
            import_string(path)
        except ImportError as exc:
            errors.append(
                Error(f"WORKER_RECOVERY: {exc}", id="core.E011"),
            )
    return errors


def check_retention(app_configs=None, **kwargs) -> list[CheckMessage]:
    """Retention steps that exist and can be called (core/retention.py): a step
    that cannot be imported would fail every daily run."""
    errors = []
    for path in settings.RETENTION_STEPS:
        try:
            step = import_string(path)
        except ImportError as exc:
            errors.append(Error(f"RETENTION_STEPS: {exc}", id="core.E012"))
            continue
        if not callable(step):
            errors.append(
                Error(f"RETENTION_STEPS: {path} is not callable.", id="core.E012")
            )
    return errors
