from django.core.management.base import BaseCommand

from articles.models import Article, PreparedPage
from articles.publishing import prepared


class Command(BaseCommand):
    help = (
        "Prepare the public pages of published articles (processed body, table of "
        "contents, JSON-LD, related articles: articles/publishing/prepared.py) that "
        "have none "
        "or one made before the article's last save or for other site settings or "
        "format. Run it after migrate and collectstatic at each deploy; until it "
        "has, such pages are worked out per request. Safe to run again."
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
        done = prepared.prepare_articles([*ids, *leftovers])
        self.stdout.write(
            self.style.SUCCESS(
                f"Prepared {done - len(leftovers)} article(s); cleared "
                f"{len(leftovers)} unpublished one(s)."
            )
        )
