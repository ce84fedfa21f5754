import re

from django import forms


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
