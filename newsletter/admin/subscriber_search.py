"""The subscriber search staff use in the admin (the subscriber list, and the
welcome emails' lists by their subscriber), answered from indexes at a million
addresses.

- An address or its start ("ada@exa", "ada"), or the start of a first name:
  on the index of lower(email) (subscriber_email_ci_unique serves an exact
  address; on PostgreSQL subscriber_email_prefix_idx, text_pattern_ops, serves a
  start whatever the database's collation) and subscriber_first_name_prefix_idx.
- Typed after an "@", a domain or any part of an address ("@yahoo.com",
  "@king" for ada.king@...): the addresses containing it. On PostgreSQL a pg_trgm GIN
  index (subscriber_email_trgm_idx) serves it; SQLite, at a tenth of the size,
  reads the table. Only on request: a part in the middle of an address made
  every search read the trigram index's longest lists ("reader5" is in every
  address of reader5...), seconds at a million rows, where a start takes
  milliseconds.

The indexes are made by newsletter/migrations/0014_subscriber_list_indexes.py,
the PostgreSQL ones there only.
"""

from django.db.models import Q, QuerySet
from django.db.models.functions import Lower

from newsletter.models import Subscriber

HELP = (
    "An email address or its start (ada@exa, ada), the start of a first name, "
    "or after an @ a domain or any part of an address (@yahoo, @king)."
)


def search(subscribers: QuerySet, term: str) -> QuerySet:
    """Subscribers matching what staff typed; all of them for nothing typed."""
    term = term.strip().lower()
    if not term:
        return subscribers
    subscribers = subscribers.alias(email_lower=Lower("email"))
    if term.startswith("@"):
        return subscribers.filter(email_lower__contains=term[1:] or "@")
    if "@" in term:
        return subscribers.filter(email_lower__startswith=term)
    return subscribers.alias(first_name_lower=Lower("first_name")).filter(
        Q(email_lower__startswith=term) | Q(first_name_lower__startswith=term)
    )


def by_subscriber(rows: QuerySet, term: str) -> QuerySet:
    """Rows with a subscriber (a welcome's delivery, say) whose subscriber
    matches, as search() finds them."""
    if not term.strip():
        return rows
    return rows.filter(subscriber__in=search(Subscriber.objects.all(), term))
