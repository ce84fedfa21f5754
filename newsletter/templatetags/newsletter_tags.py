"""{% newsletter_signup_form %}: the footer's sign-up form, on every page.

A template tag rather than a context processor, so pages that never render the
footer (admin, emails) build no form.
"""

from functools import cache

from django import template
from django.template.loader import render_to_string
from django.utils.safestring import SafeString, mark_safe

from newsletter.models import Subscriber
from newsletter.web.forms import SubscribeForm

register = template.Library()


@register.simple_tag
def newsletter_signup_form() -> SafeString:
    return footer_form()


@cache
def footer_form() -> SafeString:
    """Rendered once per process: the unbound form is the same on every page and
    for every visitor (no token, nothing personal), and rendering its widgets
    cost more than the rest of a cached article page."""
    form = SubscribeForm(
        auto_id="footer_%s", initial={"source": Subscriber.Source.FOOTER}
    )
    # Safe: rendered by the template engine, which escaped it.
    return mark_safe(
        render_to_string(
            "includes/newsletter_form.html", {"form": form, "variant": "footer"}
        )
    )
