"""Admin pieces that belong to no one app."""

from django.contrib import admin
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult

from core.models import SingleRowModel


class LabelledTabularInline(admin.TabularInline):
    """A tabular inline whose inputs each have a name for screen readers.

    The table's column headings are not <label>s, so every input (and the
    "Delete?" box) gets an aria-label: its column's heading and the row's number,
    e.g. "Title, row 2". The autocomplete's select2 box copies it
    (static/admin/js/select2-labels.js).
    """

    class Media:
        js = ["admin/js/select2-labels.js"]

    def get_formset(self, request: HttpRequest, obj=None, **kwargs):
        formset = super().get_formset(request, obj, **kwargs)

        class LabelledFormSet(formset):
            def add_fields(self, form, index):
                super().add_fields(form, index)
                row = "new row" if index is None else f"row {index + 1}"
                for name, field in form.fields.items():
                    if field.widget.is_hidden:
                        continue
                    heading = "Delete" if name == "DELETE" else field.label or name
                    # A related-object wrapper renders the widget it wraps, a copy
                    # per form (its own attrs are the class-wide original's).
                    widget = getattr(field.widget, "widget", field.widget)
                    widget.attrs["aria-label"] = f"{heading}, {row}"

        return LabelledFormSet


class SuperuserTaskResultAdmin(DBTaskResultAdmin):
    """Task results hold task arguments (subscriber ids, email addresses) and
    tracebacks: for superusers only, whatever model permissions a user has."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(
        self, request: HttpRequest, obj: DBTaskResult | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser


class SingleRowAdmin(admin.ModelAdmin):
    """The admin of a SingleRowModel: its list opens the one row (or the add form
    while there is none), it is added only while missing, and never deleted."""

    model: type[SingleRowModel]

    def has_add_permission(self, request: HttpRequest) -> bool:
        # The permission first: the admin's app list asks on every page, and only
        # those who may add need the query.
        return super().has_add_permission(request) and not self.model.objects.exists()

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def changelist_view(
        self, request: HttpRequest, extra_context: dict | None = None
    ) -> HttpResponse:
        if not self.has_view_or_change_permission(request):
            raise PermissionDenied
        row = self.model.current()
        info = (self.opts.app_label, self.opts.model_name)
        if row is None:
            return redirect("admin:{}_{}_add".format(*info))
        return redirect("admin:{}_{}_change".format(*info), row.pk)


# Importing django_tasks_db.admin (above) registered the library's admin, whatever
# the order of INSTALLED_APPS (core comes first, for its db_worker command).
admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, SuperuserTaskResultAdmin)
