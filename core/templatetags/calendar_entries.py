"""{% calendar_entries cell.entries %}: a calendar day's entries
(core/calendar/render.py), with the move forms' CSRF token and way back."""

from django import template
from django.middleware.csrf import get_token
from django.utils import timezone
from django.utils.safestring import SafeString

from core.calendar.render import entries_html

register = template.Library()


@register.simple_tag(takes_context=True)
def calendar_entries(context, entries) -> SafeString:
    request = context["request"]
    return entries_html(
        entries,
        here=context["here"],
        csrf=get_token(request),
        tz=timezone.get_current_timezone(),
    )
