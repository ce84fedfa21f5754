"""A day's entries as HTML, written in Python rather than a template include
per entry: a month shows a few hundred, and the includes cost about as much as
the rest of the page (bench/calendar_render.py). Every value is escaped."""

from datetime import datetime, tzinfo

from django.utils.html import escape, format_html
from django.utils.safestring import SafeString, mark_safe

from core.calendar.sources import Entry

ISO_SECOND = "%Y-%m-%dT%H:%M:%S%z"


def entry_html(entry: Entry, *, here: str, csrf: str, tz: tzinfo) -> str:
    parts = [
        f'<li class="calendar-entry calendar-entry--{escape(entry.kind)}">'
        f'<span class="calendar-entry__kind">{escape(entry.kind_label)}</span>'
    ]
    if entry.at is not None:
        local: datetime = entry.at.astimezone(tz)
        parts.append(
            f' <time datetime="{local.strftime(ISO_SECOND)}">{local:%H:%M}</time>'
        )
    parts.append(f' <a href="{escape(entry.url)}">{escape(entry.title)}</a>')
    if entry.move_url:
        parts.append(
            format_html(
                '\n<details class="calendar-move"><summary>Move<span '
                'class="visually-hidden"> “{}”</span></summary><form method="post" '
                'action="{}"><input type="hidden" name="csrfmiddlewaretoken" '
                'value="{}"><input type="hidden" name="next" value="{}"><label '
                'for="move-{}">New date</label> <input type="date" id="move-{}" '
                'name="planned_for" value="{}" required> <button type="submit" '
                'class="button">Move</button></form></details>',
                entry.title,
                entry.move_url,
                csrf,
                here,
                entry.uid,
                entry.uid,
                entry.day.isoformat(),
            )
        )
    parts.append("</li>")
    return "".join(parts)


def entries_html(
    entries: list[Entry], *, here: str, csrf: str, tz: tzinfo
) -> SafeString:
    """The <ul> of a day's entries ("" for none)."""
    if not entries:
        return mark_safe("")
    items = "".join(entry_html(e, here=here, csrf=csrf, tz=tz) for e in entries)
    return mark_safe(f'<ul class="calendar-entries">{items}</ul>')
