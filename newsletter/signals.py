"""Signal receivers, connected in NewsletterConfig.ready().

A sent issue is public in the archive; staff can still edit or delete it in the
admin, and the page cache must hear of it however it was saved.
"""

from django.db.models.signals import post_delete, post_save

from core.pagecache import content_changed
from newsletter import selectors
from newsletter.models import Issue


def issue_changed(sender, instance: Issue, **kwargs) -> None:
    if instance.sent_at is not None:
        content_changed(
            paths=selectors.archive_paths(instance), reason=f"issue {instance.pk}"
        )


def connect() -> None:
    post_save.connect(issue_changed, sender=Issue, dispatch_uid="issue_saved")
    post_delete.connect(issue_changed, sender=Issue, dispatch_uid="issue_deleted")
