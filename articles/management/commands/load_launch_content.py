from datetime import timedelta

from django.core.management.base import BaseCommand
from django.db import transaction
from django.utils import timezone

from articles import launch, services
from articles.models import Article, Author, Topic


class Command(BaseCommand):
    help = (
        "Create the four launch articles (with their topic and author) from "
        "articles/launch/seed.txt. Safe to run again: anything that already exists, "
        "matched by slug, is left exactly as it is."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="Say what would be created without writing anything.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        articles = launch.parse_seed()
        with transaction.atomic():
            topic, topic_created = self._get_or_create(Topic, launch.TOPIC, dry_run)
            author, author_created = self._get_or_create(Author, launch.AUTHOR, dry_run)
            created = 0
            made: list[Article] = []
            now = timezone.now()
            for position, parsed in enumerate(articles):
                if Article.objects.filter(slug=parsed.spec.slug).exists():
                    self.stdout.write(f"exists   article  {parsed.spec.slug}")
                    continue
                created += 1
                self.stdout.write(
                    f"{'would create' if dry_run else 'created'}  article  "
                    f"{parsed.spec.slug}"
                )
                if dry_run:
                    continue
                article = services.publish_article(
                    article=Article(
                        title=parsed.title,
                        slug=parsed.spec.slug,
                        summary=parsed.spec.summary,
                        body=parsed.body_html,
                        topic=topic,
                        author=author,
                        featured=parsed.spec.featured,
                        evidence=parsed.spec.evidence,
                    ),
                    # Seconds apart, so "newest first" keeps the source's order.
                    at=now - timedelta(seconds=len(articles) - position),
                )
                made.append(article)
            # Once all exist, so each one's related articles include the others.
            for article in made:
                services.refresh_article_page(article=article)
        verb = "Would create" if dry_run else "Created"
        self.stdout.write(
            self.style.SUCCESS(
                f"{verb} {created} article(s), {int(topic_created)} topic(s), "
                f"{int(author_created)} author(s)."
            )
        )

    def _get_or_create(self, model, fields: dict, dry_run: bool):
        existing = model.objects.filter(slug=fields["slug"]).first()
        label = model._meta.model_name
        if existing is not None:
            self.stdout.write(f"exists   {label:<8} {fields['slug']}")
            return existing, False
        self.stdout.write(
            f"{'would create' if dry_run else 'created'}  {label:<8} {fields['slug']}"
        )
        if dry_run:
            return model(**fields), True
        return model.objects.create(**fields), True
