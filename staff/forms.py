import re

from django import forms

from staff import two_factor


class TokenForm(forms.Form):
    token = forms.CharField(
        label="6-digit code",
        max_length=12,
        widget=forms.TextInput(
            attrs={
                "inputmode": "numeric",
                "autocomplete": "one-time-code",
                "autofocus": True,
                "size": 8,
            }
        ),
    )

    def clean_token(self) -> str:
        # Apps show the code as "123 456"; people type it that way too.
        token = "".join(self.cleaned_data["token"].split())
        if not re.fullmatch(r"[0-9]{6}", token):
            raise forms.ValidationError(
                "Enter the 6 digits your authenticator app shows."
            )
        return token


class BackupCodeForm(forms.Form):
    code = forms.CharField(label="Backup code", max_length=40)

    def clean_code(self) -> str:
        code = two_factor.normalise_backup_code(self.cleaned_data["code"])
        if not re.fullmatch(
            rf"[{two_factor.BACKUP_CODE_ALPHABET}]{{{two_factor.BACKUP_CODE_LENGTH}}}",
            code,
        ):
            raise forms.ValidationError(
                "Enter one of your backup codes: 12 letters and digits, as "
                "xxxx-xxxx-xxxx."
            )
        return code


class UnlockRequestForm(forms.Form):
    username = forms.CharField(label="Username", max_length=150)
