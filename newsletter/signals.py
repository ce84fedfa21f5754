"""Signal receivers, connected in NewsletterConfig.ready().

A sent issue is public in the archive; staff can still edit or delete it in the
admin, and the page cache must hear of it however it was saved. Email providers'
reports of bounces and complaints arrive as anymail's tracking signal. A
correction published with "tell them now" gets its draft notice: articles may not
import the newsletter, so this is the one way its publishing reaches here; the
receiver only calls the service (newsletter/issues/notices.py), inside the
publishing transaction, so the correction and its notice are saved together.
"""

from anymail.signals import AnymailTrackingEvent, tracking
from django.db.models.signals import post_delete, post_save

from articles.public import Correction
from core.pagecache import content_changed
from newsletter import selectors
from newsletter.delivery import bounces
from newsletter.issues import notices
from newsletter.models import Issue


def issue_changed(sender, instance: Issue, **kwargs) -> None:
    if instance.sent_at is not None:
        content_changed(
            paths=selectors.archive_paths(instance), reason=f"issue {instance.pk}"
        )


def provider_reported(
    sender, event: AnymailTrackingEvent, esp_name: str, **kwargs
) -> None:
    """A bounce, complaint or unsubscribe from an email provider's webhook."""
    bounces.record_tracking_event(event=event, provider=bounces.provider_key(esp_name))


def correction_published(
    sender, instance: Correction, created: bool, raw: bool = False, **kwargs
) -> None:
    # raw: loaded from a fixture, not published by an editor.
    if created and not raw:
        notices.draft_notice(correction=instance)


def connect() -> None:
    tracking.connect(provider_reported, dispatch_uid="newsletter_provider_reported")
    post_save.connect(issue_changed, sender=Issue, dispatch_uid="issue_saved")
    post_delete.connect(issue_changed, sender=Issue, dispatch_uid="issue_deleted")
    post_save.connect(
        correction_published, sender=Correction, dispatch_uid="correction_published"
    )
