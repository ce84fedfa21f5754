"""{% newsletter_review_queue %}: on the admin home, the newsletter text waiting
for a medical approval, for medical reviewers and for those who send."""

from django import template

from newsletter import selectors

register = template.Library()

# Who sees the list: those who approve the text, and those waiting to send it.
SHOWN_TO = ("newsletter.review_issue", "newsletter.send_issue")


@register.inclusion_tag(
    "admin/newsletter/includes/review_queue.html", takes_context=True
)
def newsletter_review_queue(context) -> dict:
    user = context["request"].user
    if not any(user.has_perm(permission) for permission in SHOWN_TO):
        return {"shown": False}
    queue = selectors.texts_awaiting_review()
    steps = selectors.welcome_steps_awaiting_review()
    return {
        "shown": True,
        "queue": queue,
        "welcome_steps": steps,
        "count": len(queue.issues) + (1 if queue.welcome else 0) + len(steps),
        "reviewer": user.has_perm("newsletter.review_issue"),
        "looked_at": selectors.REVIEW_QUEUE_LOOKED_AT,
    }
