"""A staff member's calendar as iCalendar (RFC 5545), for calendar apps to
subscribe to: dates as all-day events, times as short events in UTC, each with a
UID that stays the same from one fetch to the next so apps update, not
duplicate."""

from datetime import UTC, date, timedelta

from django.contrib.auth.models import AbstractBaseUser
from django.utils import timezone
from icalendar import Calendar, Event

from core.calendar.sources import Entry, sources

# What the feed covers around today: recent past, the year ahead.
PAST_DAYS = 30
FUTURE_DAYS = 366
# A timed entry (a publish, a send) is shown as this long.
TIMED_LENGTH = timedelta(minutes=15)
UID_DOMAIN = "calendar.skincare"


def feed_entries(user: AbstractBaseUser, today: date) -> list[Entry]:
    start, end = today - timedelta(days=PAST_DAYS), today + timedelta(days=FUTURE_DAYS)
    found = []
    for source in sources():
        found.extend(source.feed_entries(user=user, start=start, end=end))
    return found


def to_ical(entries: list[Entry], *, name: str, absolute) -> bytes:
    """The calendar of `entries`; `absolute` makes an entry's link a full URL."""
    calendar = Calendar()
    calendar.add("prodid", "-//Skincare//Editorial calendar//EN")
    calendar.add("version", "2.0")
    calendar.add("calscale", "GREGORIAN")
    calendar.add("x-wr-calname", name)
    stamp = timezone.now().replace(microsecond=0)
    for entry in entries:
        event = Event()
        event.add("uid", f"{entry.uid}@{UID_DOMAIN}")
        event.add("dtstamp", stamp)
        event.add("summary", f"{entry.kind_label}: {entry.title}")
        if entry.at is None:
            event.add("dtstart", entry.day)
            event.add("dtend", entry.day + timedelta(days=1))
            event.add("transp", "TRANSPARENT")
        else:
            start = entry.at.astimezone(UTC).replace(microsecond=0)
            event.add("dtstart", start)
            event.add("dtend", start + TIMED_LENGTH)
        link = absolute(entry.url)
        event.add("url", link)
        description = f"{entry.detail}\n{link}" if entry.detail else link
        event.add("description", description)
        calendar.add_component(event)
    return calendar.to_ical()
