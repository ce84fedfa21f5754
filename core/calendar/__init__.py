"""The editorial calendar: what is planned, scheduled or falling due, day by day,
from every app that registers a source (articles, newsletter), in an admin month
or week view and in each staff member's iCalendar feed.

core knows no app: each app registers a Source in its AppConfig.ready()
(core.calendar.sources.register), and entries carry their own links.
"""
