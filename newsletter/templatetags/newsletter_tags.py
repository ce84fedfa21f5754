"""{% newsletter_signup_form %}: the footer's sign-up form, on every page.

A template tag rather than a context processor, so pages that never render the
footer (admin, emails) build no form.
"""

from django import template

from newsletter.forms import SubscribeForm
from newsletter.models import Subscriber

register = template.Library()


@register.inclusion_tag("includes/newsletter_form.html")
def newsletter_signup_form() -> dict:
    form = SubscribeForm(
        auto_id="footer_%s", initial={"source": Subscriber.Source.FOOTER}
    )
    return {"form": form, "variant": "footer"}
