"""The invitations in the admin: who invited whom, when, in which role, and what
became of it. Superusers and accounts given "Can invite staff" invite from "Add
invitation", and resend or revoke open ones with the list's actions (POST, and
checked again by the services)."""

from django import forms
from django.contrib import admin, messages
from django.db.models import QuerySet
from django.http import HttpRequest
from django.utils import timezone
from django.utils.html import format_html

from core.people import display_name
from staff.invitations import services
from staff.models import Invitation


class InvitationAddForm(forms.ModelForm):
    class Meta:
        model = Invitation
        fields = ["email", "role"]
        help_texts = {
            "email": "The link is sent here, and becomes the account's address.",
            "role": "Writers and medical reviewers are asked for the name (and, "
            "for reviewers, the credentials) readers see when they accept.",
        }

    def clean_email(self) -> str:
        email = self.cleaned_data["email"].strip().lower()
        if services.open_invitation(email):
            raise forms.ValidationError(
                "This address has an open invitation: resend or revoke it from "
                "the list."
            )
        return email

    def clean_role(self) -> str:
        role = self.cleaned_data["role"]
        try:
            services.role_group(role)
        except services.InvitationError as error:
            raise forms.ValidationError(str(error)) from None
        return role


def _time(moment) -> str:
    local = timezone.localtime(moment)
    return format_html(
        '<time datetime="{}">{}</time>',
        local.isoformat(timespec="seconds"),
        local.strftime("%-d %b %Y %H:%M"),
    )


class StatusFilter(admin.SimpleListFilter):
    title = "status"
    parameter_name = "status"

    def lookups(self, request, model_admin):
        return [(s, s.capitalize()) for s in services.STATUSES]

    def queryset(self, request, queryset):
        return services.with_status(queryset, self.value()) if self.value() else None


@admin.register(Invitation)
class InvitationAdmin(admin.ModelAdmin):
    form = InvitationAddForm
    list_display = [
        "email",
        "role",
        "status_label",
        "inviter",
        "invited_at",
        "sent",
        "account",
    ]
    list_filter = [StatusFilter, "role"]
    list_select_related = ["invited_by", "accepted_user"]
    search_fields = ["email"]
    actions = ["resend_selected", "revoke_selected"]
    readonly_fields = [
        "email",
        "role",
        "status_label",
        "invited_by",
        "created_at",
        "last_sent_at",
        "send_count",
        "expires_at",
        "accepted_at",
        "accepted_user",
        "revoked_at",
        "revoked_by",
    ]

    @admin.display(description="Status")
    def status_label(self, obj: Invitation) -> str:
        status = obj.status
        return format_html(
            '<span class="invitation-status invitation-status--{}">{}</span>',
            status,
            status.capitalize(),
        )

    # People by the one name shown for them everywhere (core.people).
    @admin.display(description="Invited by", ordering="invited_by")
    def inviter(self, obj: Invitation) -> str:
        return display_name(obj.invited_by) if obj.invited_by else "manage.py"

    @admin.display(description="Account", ordering="accepted_user")
    def account(self, obj: Invitation) -> str:
        return display_name(obj.accepted_user) if obj.accepted_user else "-"

    @admin.display(description="Invited", ordering="created_at")
    def invited_at(self, obj: Invitation) -> str:
        return _time(obj.created_at)

    @admin.display(description="Sent", ordering="last_sent_at")
    def sent(self, obj: Invitation) -> str:
        if obj.send_count == 1:
            return "once"
        return format_html("{} times, last {}", obj.send_count, _time(obj.last_sent_at))

    class Media:
        css = {"all": ["staff/invitations.css"]}

    def get_fields(self, request, obj=None):
        return ["email", "role"] if obj is None else self.readonly_fields

    def get_readonly_fields(self, request, obj=None):
        return () if obj is None else self.readonly_fields

    def has_module_permission(self, request: HttpRequest) -> bool:
        return services.may_invite(request.user)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return services.may_invite(request.user)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return services.may_invite(request.user)

    def has_invite_permission(self, request: HttpRequest) -> bool:
        return services.may_invite(request.user)

    # The record is the audit: nothing is edited or deleted by hand.
    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def save_model(self, request: HttpRequest, obj: Invitation, form, change) -> None:
        try:
            invitation, _ = services.invite(
                email=form.cleaned_data["email"],
                role=form.cleaned_data["role"],
                invited_by=request.user,
            )
        except services.EmailNotSent as error:
            messages.error(request, str(error))
            invitation = services.open_invitation(form.cleaned_data["email"])
        # The admin's "added" message and log entry name the row just made.
        obj.pk = invitation.pk
        obj.created_at = invitation.created_at

    @admin.action(description="Resend the selected invitations", permissions=["invite"])
    def resend_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.resend, "Resent")

    @admin.action(description="Revoke the selected invitations", permissions=["invite"])
    def revoke_selected(self, request: HttpRequest, queryset: QuerySet) -> None:
        self._each(request, queryset, services.revoke, "Revoked")

    def _each(self, request, queryset, service, done: str) -> None:
        for invitation in queryset:
            try:
                service(invitation=invitation, by=request.user)
            except services.InvitationError as error:
                messages.warning(request, f"{invitation.email}: {error}")
            else:
                messages.success(
                    request, f"{done} the invitation of {invitation.email}."
                )
