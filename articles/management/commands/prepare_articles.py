from django.core.management.base import BaseCommand
from django.utils import timezone

from articles.models import Article, PreparedPage
from articles.publishing import prepared
from articles.tasks import (
    RELATED_REFRESH_EVERY,
    queue_related_refresh,
    refresh_all_related,
)


class Command(BaseCommand):
    help = (
        "Prepare the public pages of published articles (processed body, table of "
        "contents, JSON-LD, related articles: articles/publishing/prepared.py) that "
        "have none "
        "or one made before the article's last save or for other site settings or "
        "format, in batches of 500 (about 20,000 articles in minutes), and queues "
        "the daily refresh of related lists. Run it after migrate and collectstatic "
        "at each deploy; until it has, such pages are worked out per request. "
        "Safe to run again."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--all",
            action="store_true",
            help="Prepare every published article again, up to date or not.",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say how many articles would be prepared without writing anything.",
        )

    def progress(self, done: int, total: int) -> None:
        if total > prepared.BATCH:
            self.stdout.write(f"Prepared {done} of {total}...")

    def handle(self, *args, all: bool = False, dry_run: bool = False, **options):
        published = Article.objects.filter(status=Article.Status.PUBLISHED)
        ids = (
            list(published.order_by("pk").values_list("pk", flat=True))
            if all
            else prepared.outdated_ids()
        )
        # Rows of articles no longer published (unpublished around the site).
        leftovers = list(
            PreparedPage.objects.exclude(article__status=Article.Status.PUBLISHED)
            .order_by("pk")
            .values_list("pk", flat=True)
        )
        if dry_run:
            self.stdout.write(
                f"Would prepare {len(ids)} of {published.count()} published "
                f"article(s) and clear {len(leftovers)} unpublished one(s). "
                "Dry run: nothing written."
            )
            return
        done = prepared.prepare_articles([*ids, *leftovers], progress=self.progress)
        # Related lists drift as articles age and scheduled ones go live: the
        # daily refresh keeps them (a chain of tasks, started here once; a
        # backend that cannot wait a day, as in development, has none).
        if refresh_all_related.get_backend().supports_defer:
            queue_related_refresh(run_after=timezone.now() + RELATED_REFRESH_EVERY)
        self.stdout.write(
            self.style.SUCCESS(
                f"Prepared {done - len(leftovers)} article(s); cleared "
                f"{len(leftovers)} unpublished one(s)."
            )
        )
