"""Importing subscribers from a CSV file in the admin.

Staff upload a file; a worker checks every row while its page shows the progress,
then the report. A clean file is imported by a worker when staff press "Import N
addresses" (newsletter/subscribers/imports.py does the work; services.py starts it).
"""

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.views.decorators.http import require_GET, require_POST

from newsletter.admin.forms import ImportForm
from newsletter.models import LawfulBasis, SubscriberImport
from newsletter.subscribers import imports, services

Status = SubscriberImport.Status
POLL_STATUSES = {Status.CHECKING, Status.IMPORTING}
RECENT_IMPORTS = 20


def import_progress(subscriber_import: SubscriberImport) -> dict:
    """What the import's page shows of it, and polls for while a worker runs."""
    return {
        "id": subscriber_import.pk,
        "status": subscriber_import.status,
        "status_label": subscriber_import.get_status_display(),
        "total_rows": subscriber_import.total_rows,
        "rows_done": subscriber_import.rows_done,
        "added": subscriber_import.added,
        "existing": subscriber_import.existing,
        "error_count": subscriber_import.error_count,
        "error": subscriber_import.error,
        "poll": subscriber_import.status in POLL_STATUSES,
    }


class SubscriberImportMixin:
    """The import pages of the subscriber admin (newsletter/admin/subscribers.py)."""

    def has_import_permission(self, request: HttpRequest) -> bool:
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def import_urls(self) -> list:
        wrap = self.admin_site.admin_view
        return [
            path(
                "import/",
                wrap(self.import_view),
                name="newsletter_subscriber_import",
            ),
            path(
                "import/<int:import_id>/",
                wrap(require_GET(self.import_status_view)),
                name="newsletter_subscriber_import_status",
            ),
            path(
                "import/<int:import_id>/progress.json",
                wrap(require_GET(self.import_progress_view)),
                name="newsletter_subscriber_import_progress",
            ),
            path(
                "import/<int:import_id>/start/",
                wrap(require_POST(self.import_start_view)),
                name="newsletter_subscriber_import_start",
            ),
        ]

    def _imports(self, request: HttpRequest) -> QuerySet:
        """The imports this user may see: their own (a superuser: everyone's).
        Never the uploaded file itself, which can be megabytes."""
        if not self.has_import_permission(request):
            raise PermissionDenied
        queryset = SubscriberImport.objects.defer("data").select_related("created_by")
        if request.user.is_superuser:
            return queryset
        return queryset.filter(created_by=request.user)

    def _import(self, request: HttpRequest, import_id: int) -> SubscriberImport:
        return get_object_or_404(self._imports(request), pk=import_id)

    @staticmethod
    def _status_url(subscriber_import: SubscriberImport) -> str:
        return reverse(
            "admin:newsletter_subscriber_import_status", args=[subscriber_import.pk]
        )

    def _context(self, request: HttpRequest, title: str) -> dict:
        return {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "title": title,
        }

    # Views -----------------------------------------------------------------------

    def import_view(self, request: HttpRequest) -> HttpResponse:
        """Upload a file (it is checked by a worker), and the recent imports."""
        recent = self._imports(request)
        form = ImportForm(request.POST or None, request.FILES or None)
        if request.method == "POST" and form.is_valid():
            subscriber_import = self._create(request, form)
            if subscriber_import is not None:
                return HttpResponseRedirect(self._status_url(subscriber_import))
        context = {
            **self._context(request, "Import subscribers"),
            "form": form,
            "recent": recent.order_by("-created_at")[:RECENT_IMPORTS],
            "most_errors": f"{imports.REPORT_ROWS:,}",
        }
        return TemplateResponse(
            request, "admin/newsletter/subscriber/import.html", context
        )

    def _create(self, request: HttpRequest, form: ImportForm):
        """The new import, or None with the file's problem on the form."""
        upload = form.cleaned_data["file"]
        try:
            text = imports.decode_import_file(upload.read())
            rows = imports.read_import_csv(text)
        except ValidationError as exc:
            form.add_error("file", exc)
            return None
        if not rows:
            form.add_error("file", "The file has no addresses below its first line.")
            return None
        basis = form.cleaned_data["basis"]
        evidence = form.cleaned_data["evidence"]
        done_before = (
            SubscriberImport.objects.filter(
                fingerprint=imports.fingerprint(
                    text=text, basis=basis, evidence=evidence
                ),
                status=Status.DONE,
            )
            .only("finished_at")
            .first()
        )
        subscriber_import = services.create_import(
            file_name=upload.name or "upload.csv",
            text=text,
            basis=basis,
            evidence=evidence,
            total_rows=len(rows),
            user=request.user,
        )
        if done_before is not None:
            messages.warning(
                request,
                "This same file was already imported on "
                f"{done_before.finished_at:%Y-%m-%d %H:%M}. Its addresses on the list "
                "will be left as they are.",
            )
        return subscriber_import

    def import_status_view(self, request: HttpRequest, import_id: int):
        subscriber_import = self._import(request, import_id)
        report = subscriber_import.report or []
        context = {
            **self._context(request, f"Import of {subscriber_import.file_name}"),
            "subscriber_import": subscriber_import,
            "progress": import_progress(subscriber_import),
            "progress_url": reverse(
                "admin:newsletter_subscriber_import_progress",
                args=[subscriber_import.pk],
            ),
            "start_url": reverse(
                "admin:newsletter_subscriber_import_start", args=[subscriber_import.pk]
            ),
            "can_start": self._can_start(request, subscriber_import),
            "confirmed": subscriber_import.basis == LawfulBasis.CONSENTED,
            "report": report,
            "hidden": max(0, subscriber_import.total_rows - len(report)),
        }
        return TemplateResponse(
            request, "admin/newsletter/subscriber/import_status.html", context
        )

    def import_progress_view(self, request: HttpRequest, import_id: int):
        return JsonResponse(import_progress(self._import(request, import_id)))

    @staticmethod
    def _can_start(request: HttpRequest, subscriber_import: SubscriberImport) -> bool:
        # Whoever uploaded the file vouched for its basis and evidence: only they
        # may import it.
        return (
            subscriber_import.status == Status.CHECKED
            and subscriber_import.added > 0
            and subscriber_import.created_by_id == request.user.pk
        )

    def import_start_view(self, request: HttpRequest, import_id: int):
        subscriber_import = self._import(request, import_id)
        if subscriber_import.created_by_id != request.user.pk:
            raise PermissionDenied
        try:
            services.start_import(subscriber_import=subscriber_import)
        except services.ImportRefused as exc:
            messages.error(request, f"{exc} Nothing was imported.")
        else:
            messages.success(
                request,
                f"Importing {subscriber_import.added} address(es). This page shows "
                "when it is done.",
            )
        return HttpResponseRedirect(self._status_url(subscriber_import))
