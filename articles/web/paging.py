"""Deep pages of article lists read by key: the page's ids first, from an index of
publish times alone (skipping index entries, not rows), then only those rows with
their author and topic."""

from django.core.paginator import Page, Paginator

# Rows skipped before a page is read by key: shallower pages are one query, as
# the database walks the index and stops at the page; deeper ones would read and
# sort every row before them, which two queries avoid.
KEYED_FROM = 100


class KeyedPaginator(Paginator):
    """A Paginator for querysets ordered by an index that holds their ids
    (articles' publish-time indexes): the same pages, in a cost that does not
    grow with the page's depth."""

    def _get_page(self, object_list, number: int, paginator: Paginator) -> Page:
        if (number - 1) * self.per_page >= KEYED_FROM:
            ids = list(object_list.values_list("pk", flat=True))
            rows = self.object_list.in_bulk(ids)
            object_list = [rows[pk] for pk in ids]
        return super()._get_page(object_list, number, paginator)
