"""Admin pieces that belong to no one app."""

from django.contrib import admin
from django.http import HttpRequest
from django_tasks_db.admin import DBTaskResultAdmin
from django_tasks_db.models import DBTaskResult


class SuperuserTaskResultAdmin(DBTaskResultAdmin):
    """Task results hold task arguments (subscriber ids, email addresses) and
    tracebacks: for superusers only, whatever model permissions a user has."""

    def has_module_permission(self, request: HttpRequest) -> bool:
        return request.user.is_active and request.user.is_superuser

    def has_view_permission(
        self, request: HttpRequest, obj: DBTaskResult | None = None
    ) -> bool:
        return request.user.is_active and request.user.is_superuser


# Importing django_tasks_db.admin (above) registered the library's admin, whatever
# the order of INSTALLED_APPS (core comes first, for its db_worker command).
admin.site.unregister(DBTaskResult)
admin.site.register(DBTaskResult, SuperuserTaskResultAdmin)
