"""Background tasks of staff sign-in (django-tasks; `manage.py db_worker`)."""

import secrets
from datetime import timedelta
from logging import getLogger

from django.conf import settings
from django.contrib.auth import get_user_model
from django.urls import reverse
from django.utils import timezone
from django_tasks import task

from core.emails import build, render_email
from core.links import absolute
from staff.models import UnlockLink, link_digest

logger = getLogger(__name__)


@task()
def send_unlock_link(username: str) -> None:
    """Email a new unlock link to the staff account `username`, if there is one
    with an address and it has not had STAFF_UNLOCK_LINKS_PER_HOUR this hour.
    Nothing is said to whoever asked either way (staff/unlock.py)."""
    user = (
        get_user_model()
        .objects.filter(username=username, is_active=True, is_staff=True)
        .exclude(email="")
        .first()
    )
    if user is None:
        return
    now = timezone.now()
    recent = UnlockLink.objects.filter(
        user=user, created_at__gt=now - timedelta(hours=1)
    ).count()
    if recent >= settings.STAFF_UNLOCK_LINKS_PER_HOUR:
        logger.warning("Unlock link for %s not sent: %d this hour.", username, recent)
        return
    token = secrets.token_urlsafe(32)
    UnlockLink.objects.create(
        user=user,
        token_digest=link_digest(token),
        created_at=now,
        expires_at=now + settings.STAFF_UNLOCK_LINK_MAX_AGE,
    )
    minutes = int(settings.STAFF_UNLOCK_LINK_MAX_AGE.total_seconds() // 60)
    subject, text, html = render_email(
        "staff/email/unlock",
        {
            "user": user,
            "url": absolute(reverse("staff:unlock", args=[token])),
            "minutes": minutes,
        },
    )
    build(
        to=user.email,
        subject=subject,
        text=text,
        html=html,
        headers={"Auto-Submitted": "auto-generated"},
    ).send()
