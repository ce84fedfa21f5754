from django.core.management.base import BaseCommand
from django.db import transaction

from articles.models import Article
from articles.search import engine


class Command(BaseCommand):
    help = (
        "Rebuild the full-text search index from every article (any status: "
        "search shows only live ones). Safe to run again: the index is emptied "
        "and filled in one transaction. Saves through the site keep it in step; "
        "run this after bulk changes made around save_article, or a restore."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say how many articles would be indexed without writing anything.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        backend = engine.backend()
        if dry_run:
            self.stdout.write(
                f"Would index {Article.objects.count()} article(s); the index "
                f"now holds {backend.indexed_count()}."
            )
            return
        with transaction.atomic():
            total = engine.rebuild()
        self.stdout.write(self.style.SUCCESS(f"Indexed {total} article(s)."))
