"""What a calendar shows, and the registry of the apps' sources of it."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import date, datetime
from typing import TYPE_CHECKING, Protocol

from django.urls import reverse

if TYPE_CHECKING:
    # Not at run time: AppConfig modules import this before the models load.
    from django.contrib.auth.models import AbstractBaseUser


@dataclass(frozen=True)
class Entry:
    """One thing on one day: an article planned for it, a publish, a review
    falling due, a newsletter send."""

    # Stable across renderings and feeds (the iCalendar UID's first part).
    uid: str
    day: date
    kind: str  # "planned", "publish", "review", "send"...
    kind_label: str
    title: str
    url: str
    # A time for what happens at a time (a publish, a send); None for a date.
    at: datetime | None = None
    # Where a POST of a new date moves the entry, when the viewer may move it.
    move_url: str = ""
    detail: str = ""


_PLACEHOLDER = 987654321


def url_maker(name: str) -> Callable[[int], str]:
    """An object's address by URL name (its key the one argument), reversed once
    for all the entries rather than entry by entry."""
    before, after = reverse(name, args=[_PLACEHOLDER]).split(str(_PLACEHOLDER))
    return lambda pk: f"{before}{pk}{after}"


@dataclass(frozen=True)
class Choice:
    value: str
    label: str


class Source(Protocol):
    """An app's entries. Each query method runs a fixed number of queries,
    whatever the number of entries."""

    # Who may see the source's entries at all (a model view permission).
    permission: str

    def entries(
        self,
        *,
        user: "AbstractBaseUser",
        start: date,
        end: date,
        topic: str = "",
        person: str = "",
    ) -> list[Entry]:
        """The entries from `start` to `end` (both included) `user` sees, for
        the admin calendar, narrowed to a topic and a person (ids, "" for all)."""
        ...

    def feed_entries(
        self, *, user: "AbstractBaseUser", start: date, end: date
    ) -> list[Entry]:
        """`user`'s own entries from `start` to `end`, for their feed."""
        ...

    def topics(self) -> list[Choice]:
        """The topics entries can be narrowed to (may be empty)."""
        ...


_SOURCES: list[Source] = []


def register(source: Source) -> None:
    """Add an app's source (from its AppConfig.ready(); once per source)."""
    if source not in _SOURCES:
        _SOURCES.append(source)


def sources() -> list[Source]:
    return list(_SOURCES)


def visible_sources(user: "AbstractBaseUser") -> list[Source]:
    """The sources whose entries `user` may see."""
    return [s for s in _SOURCES if user.has_perm(s.permission)]
