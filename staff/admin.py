"""Staff sign-in in the admin: passkeys, backup code sets and lockouts.

Superusers remove a lost passkey or backup codes here (as a lost phone under Staff
authenticator apps); lockouts are a read-only record.
"""

from django.contrib import admin
from django_otp_webauthn.admin import WebAuthnCredentialAdmin
from django_otp_webauthn.models import WebAuthnCredential

from staff.invitations.admin import InvitationAdmin
from staff.models import BackupCodeSet, SignInLockout

admin.site.register(WebAuthnCredential, WebAuthnCredentialAdmin)

# Registered by its own module (staff/invitations/admin.py).
__all__ = ["InvitationAdmin"]


@admin.register(BackupCodeSet)
class BackupCodeSetAdmin(admin.ModelAdmin):
    """Never shows a code (only hashes are kept); deleting a set is how a
    superuser takes them away."""

    list_display = ["user", "created_at", "last_used_at", "codes_left"]
    fields = ["user", "created_at", "last_used_at", "codes_left"]
    readonly_fields = fields
    search_fields = ["user__username"]

    @admin.display(description="Codes left")
    def codes_left(self, obj: BackupCodeSet) -> int:
        return obj.codes.count()

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False


@admin.register(SignInLockout)
class SignInLockoutAdmin(admin.ModelAdmin):
    list_display = ["created_at", "limit", "username", "network", "failures"]
    list_filter = ["limit", "created_at"]
    search_fields = ["username", "network"]
    date_hierarchy = "created_at"

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
