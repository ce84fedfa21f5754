from django.core.management.base import BaseCommand

from articles.models import ImageRendition
from articles.publishing import invalidation, prepared, renditions


class Command(BaseCommand):
    help = (
        "Make the missing responsive copies (renditions) of every image the site "
        "shows: article covers, author photos and images in article bodies. Safe to "
        "run again: images whose renditions exist are skipped."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="List the images that have no renditions yet; make nothing.",
        )

    def handle(self, *args, dry_run: bool = False, **options):
        sources = renditions.all_sources()
        done = set(
            ImageRendition.objects.filter(source__in=sources)
            .values_list("source", flat=True)
            .distinct()
        )
        if dry_run:
            missing = [s for s in sources if s not in done]
            for source in missing:
                self.stdout.write(source)
            self.stdout.write(
                f"{len(sources)} image(s); {len(missing)} without renditions. "
                "Dry run: nothing made."
            )
            return
        made = failed = 0
        for source in sources:
            try:
                count = renditions.make_renditions(source)
            except Exception as exc:  # One unreadable image must not stop the rest.
                failed += 1
                self.stderr.write(f"{source}: failed ({exc!r})")
                continue
            if count:
                self.stdout.write(f"{source}: {count} rendition(s)")
                # The pages showing it get its pictures.
                prepared.prepare_showing(source)
                invalidation.image_changed(source=source)
            made += count
        self.stdout.write(
            self.style.SUCCESS(f"{len(sources)} image(s); {made} rendition(s) made.")
        )
        if failed:
            self.stderr.write(f"{failed} image(s) failed; see above.")
