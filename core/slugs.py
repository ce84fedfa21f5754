from django.db.models import QuerySet
from django.utils.text import slugify


def unique_slug(
    *, queryset: QuerySet, text: str, max_length: int, fallback: str
) -> str:
    """A slug made from `text` that no row of `queryset` has (adds -2, -3, ...)."""
    # Room for a "-NNN" suffix within the field's max_length.
    base = slugify(text)[: max_length - 10].strip("-") or fallback
    existing = set(
        queryset.filter(slug__startswith=base).values_list("slug", flat=True)
    )
    candidate, n = base, 2
    while candidate in existing:
        candidate, n = f"{base}-{n}", n + 1
    return candidate
