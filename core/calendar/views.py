"""The admin calendar page, the page where staff make or revoke their feed
address, and the feed itself (behind nothing but its secret token)."""

from datetime import date
from urllib.parse import urlencode

from django.contrib import admin
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from core.calendar import feed, grid, tokens
from core.calendar.sources import Choice, visible_sources


def _anchor(value: str, today: date) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        return today


def _id(value: str) -> str:
    """A filter's id as typed in the address, or "" when it is not one."""
    return value if value.isdigit() and len(value) < 12 else ""


def people() -> list[Choice]:
    users = (
        get_user_model()
        .objects.filter(is_staff=True, is_active=True)
        .order_by("username")
        .only("pk", "username", "first_name", "last_name")
    )
    return [Choice(str(u.pk), u.get_full_name() or u.get_username()) for u in users]


def calendar_page(request: HttpRequest) -> HttpResponse:
    """The month (default) or week view of everything `request.user` may see,
    narrowed by topic and person (GET, so a view can be bookmarked)."""
    shown = visible_sources(request.user)
    if not shown:
        raise PermissionDenied
    today = timezone.localdate()
    view = grid.WEEK if request.GET.get("view") == grid.WEEK else grid.MONTH
    anchor = _anchor(request.GET.get("date", ""), today)
    topic, person = (
        _id(request.GET.get("topic", "")),
        _id(request.GET.get("person", "")),
    )
    start, end = grid.period(view, anchor)
    entries = []
    topics: dict[str, Choice] = {}
    for source in shown:
        entries.extend(
            source.entries(
                user=request.user, start=start, end=end, topic=topic, person=person
            )
        )
        topics.update((c.value, c) for c in source.topics())
    calendar = grid.build(view, anchor, entries, today)
    filters = {"topic": topic, "person": person}

    def link(**changes) -> str:
        params = {"view": view, "date": anchor.isoformat(), **filters, **changes}
        return "?" + urlencode({k: v for k, v in params.items() if v})

    here = request.get_full_path()
    context = {
        **admin.site.each_context(request),
        "title": f"Editorial calendar: {calendar.title}",
        "calendar": calendar,
        "entry_count": len(entries),
        "topics": sorted(topics.values(), key=lambda c: c.label.lower()),
        "people": people(),
        "topic": topic,
        "person": person,
        "here": here,
        "links": {
            "previous": link(date=calendar.previous.isoformat()),
            "next": link(date=calendar.next.isoformat()),
            "today": link(date=today.isoformat()),
            "month": link(view=grid.MONTH),
            "week": link(view=grid.WEEK),
        },
        "week_link_base": link(view=grid.WEEK, date=""),
        "weekdays": ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"],
    }
    return TemplateResponse(request, "admin/calendar/calendar.html", context)


def feed_page(request: HttpRequest) -> HttpResponse:
    """Make a new feed address (showing it once) or revoke the current one."""
    if not visible_sources(request.user):
        raise PermissionDenied
    new_url = ""
    if request.method == "POST":
        action = request.POST.get("action")
        if action != "new":
            if action == "revoke":
                tokens.revoke_feed_token(user=request.user)
            return redirect("calendar:feed_settings")
        token = tokens.new_feed_token(user=request.user)
        new_url = request.build_absolute_uri(reverse("calendar_feed", args=[token]))
    current = getattr(request.user, "calendar_feed_token", None)
    context = {
        **admin.site.each_context(request),
        "title": "Your calendar feed",
        "current": current,
        "new_url": new_url,
    }
    return TemplateResponse(request, "admin/calendar/feed.html", context)


@never_cache
@require_GET
def feed_view(request: HttpRequest, token: str) -> HttpResponse:
    """The iCalendar of the staff member the token belongs to; 404 for a token
    revoked, replaced or never made (no hint which)."""
    user = tokens.feed_user(token)
    if user is None:
        raise Http404("No such calendar.")
    entries = feed.feed_entries(user, timezone.localdate())
    name = f"Skincare: {user.get_full_name() or user.get_username()}"
    body = feed.to_ical(entries, name=name, absolute=request.build_absolute_uri)
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = 'inline; filename="skincare.ics"'
    response["X-Robots-Tag"] = "noindex"
    response["Referrer-Policy"] = "no-referrer"
    return response
