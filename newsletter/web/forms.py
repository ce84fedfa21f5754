"""The newsletter's public forms: sign-up (in every page's footer and on
/newsletter/) and the subscriber's preferences."""

from django import forms
from django.core.exceptions import ValidationError

from articles.public import Topic
from newsletter.models import Subscriber
from newsletter.subscribers.names import MAX_NAME_LENGTH, name_problem
from newsletter.subscribers.services import CONSENT_TEXT


class BoundedMixin:
    """Redisplays at most `max_chars` characters of what was sent (the field's
    maxlength by default): a too-long value gets its error message, and the page
    does not echo megabytes back."""

    def __init__(self, *args, max_chars: int | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.max_chars = max_chars

    def format_value(self, value):
        value = super().format_value(value)
        limit = self.max_chars or self.attrs.get("maxlength")
        if value is not None and limit:
            return str(value)[: int(limit)]
        return value


class BoundedTextInput(BoundedMixin, forms.TextInput):
    pass


class BoundedEmailInput(BoundedMixin, forms.EmailInput):
    pass


class BoundedHiddenInput(BoundedMixin, forms.HiddenInput):
    pass


class SubscribeForm(forms.Form):
    # Where the form was shown. Only the two public forms may claim a source.
    SOURCES = [
        (Subscriber.Source.FOOTER.value, Subscriber.Source.FOOTER.label),
        (Subscriber.Source.PAGE.value, Subscriber.Source.PAGE.label),
    ]
    HONEYPOT = "website"

    email = forms.EmailField(
        label="Email address",
        max_length=254,
        error_messages={
            "required": "Enter your email address.",
            "invalid": "Enter an email address like name@example.com.",
            "max_length": "An email address can be at most 254 characters long.",
        },
        widget=BoundedEmailInput(
            attrs={"autocomplete": "email", "spellcheck": "false"}
        ),
    )
    first_name = forms.CharField(
        label="First name (optional)",
        max_length=MAX_NAME_LENGTH,
        required=False,
        error_messages={
            "max_length": f"A first name can be at most {MAX_NAME_LENGTH} "
            "characters long.",
        },
        widget=BoundedTextInput(attrs={"autocomplete": "given-name"}),
    )
    # The label is the consent wording itself: what is shown is what is stored.
    consent = forms.BooleanField(
        label=CONSENT_TEXT,
        error_messages={
            "required": "Tick this box to agree to receive the newsletter.",
        },
    )
    # Hidden from people (CSS, aria-hidden, no tab stop); bots fill it in.
    website = forms.CharField(
        label="Leave this field empty",
        required=False,
        max_length=200,
        widget=BoundedTextInput(attrs={"autocomplete": "off", "tabindex": "-1"}),
    )
    source = forms.ChoiceField(
        choices=SOURCES,
        initial=Subscriber.Source.PAGE,
        widget=BoundedHiddenInput(max_chars=20),
        error_messages={
            "required": "This form could not be sent. Please try again.",
            "invalid_choice": "This form could not be sent. Please try again.",
        },
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # Django puts "Email address:" by default; our labels carry no colon.
        self.label_suffix = ""

    def clean_first_name(self) -> str:
        name = self.cleaned_data["first_name"]
        problem = name_problem(name)
        if problem:
            raise ValidationError(
                f"{problem} Enter just your first name, or leave it empty."
            )
        return name

    @classmethod
    def is_bot(cls, data) -> bool:
        """A filled-in honeypot: answer as if it worked, and do nothing."""
        return bool(str(data.get(cls.HONEYPOT, "")).strip())


def topic_choices() -> forms.ModelMultipleChoiceField:
    return forms.ModelMultipleChoiceField(
        label="Topics",
        queryset=Topic.objects.order_by("name"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
        help_text="Leave them all unticked to hear about every topic.",
        error_messages={
            "invalid_choice": "One of the topics no longer exists. Please choose "
            "again from the list.",
            "invalid_pk_value": "One of the topics no longer exists. Please choose "
            "again from the list.",
        },
    )


class SubscribePageForm(SubscribeForm):
    """The newsletter page's form: topics may be chosen, folded away by default.

    The footer keeps SubscribeForm: it is the same for every visitor of every page.
    """

    topics = topic_choices()

    field_order = ["email", "first_name", "topics", "consent"]


class PreferencesForm(forms.Form):
    """What a subscriber chooses on their preference page."""

    topics = topic_choices()
    frequency = forms.ChoiceField(
        label="How often",
        choices=Subscriber.Frequency.choices,
        widget=forms.RadioSelect,
        error_messages={
            "required": "Choose how often you want the newsletter.",
            "invalid_choice": "Choose how often you want the newsletter.",
        },
    )
    advice_changes = forms.BooleanField(
        label="Tell me when advice I read has changed",
        required=False,
        help_text="When we change our advice in an article of your topics (not a "
        "typo): in your digest, or at once when it matters.",
    )

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.label_suffix = ""
