"""Check every issue's delivery counters against its rows."""

from django.core.management.base import BaseCommand

from newsletter.models import Issue, counters


class Command(BaseCommand):
    help = (
        "Compare each issue's delivery counters (what its admin pages show) with "
        "a count of its deliveries and reports, and list every difference. With "
        "--fix, set the counters of issues not sending to what the rows say. "
        "Issues whose deliveries were rolled up are skipped: their counters are "
        "the only record. Read-only without --fix; safe to run repeatedly."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--fix",
            action="store_true",
            help="Set the counters of the issues that differ (not while sending).",
        )
        parser.add_argument(
            "--issue", type=int, metavar="ID", help="Check this issue only."
        )

    def handle(self, *args, fix: bool, issue: int | None, **options):
        issues = Issue.objects.exclude(status=Issue.Status.DRAFT).order_by("pk")
        if issue is not None:
            issues = issues.filter(pk=issue)
        checked = drifted = fixed = 0
        for each in issues.select_related("stats"):
            stats = getattr(each, "stats", None)
            if stats is not None and stats.rolled_up_at is not None:
                continue
            checked += 1
            counted, found = counters.issue_counts(each), counters.recount(each)
            if counted == found:
                continue
            drifted += 1
            differences = ", ".join(
                f"{field} {counted[field]} (rows: {found[field]})"
                for field in counters.COUNT_FIELDS
                if counted[field] != found[field]
            )
            self.stdout.write(f"Issue {each.pk} “{each.subject}”: {differences}")
            if fix and each.status != Issue.Status.SENDING:
                counters.reset(issue=each)
                fixed += 1
        summary = f"Checked {checked} issue(s): {drifted} differ"
        if fix:
            summary += f", {fixed} fixed"
        self.stdout.write(summary + ".")
