"""Forms of the newsletter's staff side (the Django admin)."""

from datetime import timedelta

from django import forms
from django.conf import settings
from django.utils import timezone

from articles.public import Topic
from core.slugs import unique_slug
from newsletter import emails
from newsletter.models import Issue, LawfulBasis
from newsletter.subscribers import imports

# 100,000 rows of an address and a first name fit well within it.
# Evidence goes into Subscriber.lawful_basis (300 characters) after the basis text.
MAX_EVIDENCE_CHARS = 200


def unique_issue_slug(*, subject: str, exclude_pk: int | None = None) -> str:
    return unique_slug(
        queryset=Issue.objects.exclude(pk=exclude_pk),
        text=subject,
        max_length=Issue._meta.get_field("slug").max_length,
        fallback="issue",
    )


class IssueAdminForm(forms.ModelForm):
    class Meta:
        model = Issue
        fields = [
            "subject",
            "slug",
            "preheader",
            "greeting",
            "body",
            "audience",
            "topics",
        ]
        widgets = {
            "audience": forms.RadioSelect,
            "topics": forms.CheckboxSelectMultiple,
        }

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        if "slug" in self.fields:
            # Filled in from the subject when left empty (also without JavaScript).
            self.fields["slug"].required = False
        if "audience" in self.fields:
            # Not sent (an older form, a script): everyone, as before topics.
            self.fields["audience"].required = False

    def clean_audience(self) -> str:
        return self.cleaned_data["audience"] or Issue.Audience.EVERYONE

    def clean_greeting(self) -> str:
        greeting = self.cleaned_data["greeting"].strip()
        emails.check_greeting(greeting)
        return greeting

    def clean(self):
        cleaned = super().clean()
        saved = self.instance.pk and Issue.objects.filter(pk=self.instance.pk).first()
        if saved and saved.is_locked:
            # Sent (or due) by someone else while this form was open.
            raise forms.ValidationError(
                "This issue has started sending since you opened it and can no "
                "longer change."
            )
        if "audience" in self.fields:
            if cleaned.get("audience") == Issue.Audience.TOPICS:
                if not cleaned.get("topics"):
                    self.add_error(
                        "topics",
                        "Choose at least one topic, or send the issue to everyone.",
                    )
            elif "topics" in cleaned:
                # Everyone: topics chosen before would only mislead later.
                cleaned["topics"] = Topic.objects.none()
        if "slug" in self.fields and not cleaned.get("slug") and cleaned.get("subject"):
            cleaned["slug"] = unique_issue_slug(
                subject=cleaned["subject"], exclude_pk=self.instance.pk
            )
        return cleaned


class ScheduleForm(forms.Form):
    send_at = forms.DateTimeField(
        label="Send at",
        widget=forms.DateTimeInput(
            attrs={"type": "datetime-local"}, format="%Y-%m-%dT%H:%M"
        ),
        help_text="In the site's time zone.",
    )

    def clean_send_at(self):
        send_at = self.cleaned_data["send_at"]
        now = timezone.now()
        if send_at <= now + timedelta(minutes=1):
            raise forms.ValidationError(
                "Choose a time in the future (or use “Send now”)."
            )
        if send_at > now + timedelta(days=366):
            raise forms.ValidationError("Choose a time within the next year.")
        return send_at


class ImportForm(forms.Form):
    file = forms.FileField(
        label="CSV file",
        help_text="UTF-8 CSV whose first line names the columns: 'email' (required) "
        "and 'first_name' (optional). At most "
        f"{settings.MAX_IMPORT_BYTES // 1024 // 1024} MB "
        f"and {imports.MAX_IMPORT_ROWS:,} rows.",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,text/csv"}),
    )
    basis = forms.ChoiceField(
        label="Lawful basis",
        choices=LawfulBasis.choices,
        widget=forms.RadioSelect(attrs={"class": "radiolist"}),
        help_text="Only addresses that already gave consent to this newsletter may "
        "skip the confirmation email.",
    )
    evidence = forms.CharField(
        label="Evidence of consent",
        required=False,
        max_length=MAX_EVIDENCE_CHARS,
        widget=forms.Textarea(attrs={"rows": 2, "cols": 60}),
        help_text="Where and when they gave consent, e.g. “Sign-up form on "
        "old-site.example, 2024-2026, export of 3 March 2026”. Required when they "
        "already consented; kept with each subscriber.",
    )

    def clean_file(self):
        upload = self.cleaned_data["file"]
        if upload.size > settings.MAX_IMPORT_BYTES:
            raise forms.ValidationError(
                f"The file is {upload.size / 1024 / 1024:.1f} MB; the limit is "
                f"{settings.MAX_IMPORT_BYTES // 1024 // 1024} MB. Split it into "
                "smaller files."
            )
        return upload

    def clean(self):
        cleaned = super().clean()
        if (
            cleaned.get("basis") == LawfulBasis.CONSENTED
            and not (cleaned.get("evidence") or "").strip()
        ):
            self.add_error(
                "evidence",
                "Say where and when these people gave consent: it is kept as the "
                "record of their consent.",
            )
        cleaned["evidence"] = (cleaned.get("evidence") or "").strip()
        return cleaned
