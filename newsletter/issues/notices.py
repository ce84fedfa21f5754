"""Notices that advice changed: when an editor publishes a correction that changes
the advice and chooses "tell them now", a draft notice (an Issue of kind notice,
one per correction) waits in the reviewers' queue. It goes out as every issue
does: a medical reviewer approves its text, then someone who may send sends it
(newsletter/issues/services.py schedule_send refuses it unapproved), once to each
reader of the article's topic who asked to hear of changes to the advice.

Articles know nothing of the newsletter, so the correction reaches here through
post_save (newsletter/signals.py), whose receiver only calls draft_notice();
a correction told "in the next digest" waits for build_digest instead.
"""

from django.db import transaction
from django.utils.html import escape

from articles.public import Correction
from core.sanitize import sanitize_html
from core.slugs import unique_slug
from newsletter.models import Issue, IssueArticle

SUBJECT_MAX = Issue._meta.get_field("subject").max_length
PREHEADER_MAX = Issue._meta.get_field("preheader").max_length


def draft_notice(*, correction: Correction) -> Issue | None:
    """The draft notice of a correction told "now" (made once: the existing one
    when called again); None for any other correction."""
    if not (
        correction.changes_advice
        and correction.tell_readers == Correction.TellReaders.NOW
    ):
        return None
    article = correction.article
    subject = f"Our advice changed: {article.title}"
    if len(subject) > SUBJECT_MAX:
        subject = subject[: SUBJECT_MAX - 1] + "…"
    with transaction.atomic():
        existing = Issue.objects.filter(correction=correction).first()
        if existing is not None:
            return existing
        issue = Issue.objects.create(
            kind=Issue.Kind.NOTICE,
            audience=Issue.Audience.TOPICS,
            correction=correction,
            subject=subject,
            slug=unique_slug(
                queryset=Issue.objects.all(),
                text=subject,
                max_length=Issue._meta.get_field("slug").max_length,
                fallback="notice",
            ),
            preheader=correction.text[:PREHEADER_MAX],
            body=sanitize_html(
                html=f"<p>We changed our advice in “{escape(article.title)}”. "
                "What changed:</p>"
                f"<p>{escape(correction.text)}</p>"
            ),
        )
        issue.topics.set([article.topic_id])
        # The article's card links to it as it reads now.
        IssueArticle.objects.create(issue=issue, article=article, position=1)
    return issue
