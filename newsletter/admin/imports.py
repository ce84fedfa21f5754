"""Importing subscribers from a CSV file in the admin: a dry run, then the import."""

import hashlib

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from newsletter import services
from newsletter.admin.forms import ImportForm
from newsletter.models import LawfulBasis

IMPORT_SESSION_KEY = "newsletter_import_checked"
IMPORT_REPORT_ROWS = 1000


class SubscriberImportMixin:
    """The import page of the subscriber admin (newsletter/admin/subscribers.py)."""

    def has_import_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def import_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_import_permission(request):
            raise PermissionDenied
        report = None
        checked = False
        if request.method == "POST":
            form = ImportForm(request.POST, request.FILES)
            if form.is_valid():
                report, checked = self._run_import(request, form)
                if checked:
                    # Ready for the real run: same basis and evidence, dry run off.
                    form = ImportForm(
                        initial={
                            "basis": form.cleaned_data["basis"],
                            "evidence": form.cleaned_data["evidence"],
                            "dry_run": False,
                        }
                    )
        else:
            form = ImportForm()
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": "Import subscribers",
            "form": form,
            "report": report,
            "checked": checked,
            "summary": import_summary(report) if report else None,
            "max_rows": IMPORT_REPORT_ROWS,
        }
        return TemplateResponse(
            request, "admin/newsletter/subscriber/import.html", context
        )

    def _run_import(self, request: HttpRequest, form: ImportForm):
        """(report or None, whether a clean dry run now allows the real run)."""
        data = form.cleaned_data["file"].read()
        try:
            rows = services.read_import_csv(data)
        except ValidationError as exc:
            form.add_error("file", exc)
            return None, False
        if not rows:
            form.add_error("file", "The file has no addresses below its first line.")
            return None, False
        basis = form.cleaned_data["basis"]
        evidence = form.cleaned_data["evidence"]
        dry_run = form.cleaned_data["dry_run"]
        fingerprint = hashlib.sha256(
            b"\0".join([data, basis.encode(), evidence.encode()])
        ).hexdigest()
        if not dry_run and request.session.get(IMPORT_SESSION_KEY) != fingerprint:
            form.add_error(
                "dry_run",
                "Check this file with a dry run first (same file, basis and "
                "evidence); then import it.",
            )
            return None, False
        report = services.import_subscribers(
            rows=rows, basis=basis, evidence=evidence, dry_run=dry_run
        )
        if report.errors:
            request.session.pop(IMPORT_SESSION_KEY, None)
            messages.error(
                request,
                f"{len(report.errors)} row(s) have errors: nothing was imported. "
                "Correct the file and check it again.",
            )
            return report, False
        if dry_run:
            request.session[IMPORT_SESSION_KEY] = fingerprint
            return report, report.added > 0
        request.session.pop(IMPORT_SESSION_KEY, None)
        confirmed = basis == LawfulBasis.CONSENTED
        messages.success(
            request,
            f"Imported {report.added} address(es)"
            + (
                " as confirmed subscribers (their consent is recorded; no email sent)."
                if confirmed
                else ": each was sent an email asking them to confirm."
            ),
        )
        return report, False


def import_summary(report: services.ImportReport) -> dict:
    errors = report.errors
    existing = sum(1 for row in report.rows if row.outcome and row.outcome != "added")
    shown = errors + [row for row in report.rows if not row.error]
    return {
        "total": len(report.rows),
        "added": report.added,
        "existing": existing,
        "errors": len(errors),
        "rows": shown[: max(IMPORT_REPORT_ROWS, len(errors))],
        "hidden": max(0, len(shown) - max(IMPORT_REPORT_ROWS, len(errors))),
    }
