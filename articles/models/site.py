"""Site-wide content staff edit: the home page's words, the editorial policy,
search synonyms."""

from django.db import models
from django.urls import reverse

from core.editor.fields import RichTextField
from core.models import SingleRowModel


class EditorialPolicy(SingleRowModel):
    """How articles are written, reviewed, labelled and corrected. One row only;
    editors change it."""

    title = models.CharField(max_length=120, default="Editorial policy")
    body = RichTextField(
        help_text="The policy readers see. The evidence labels are explained "
        "under it automatically."
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(SingleRowModel.Meta):
        verbose_name = "editorial policy"
        verbose_name_plural = "editorial policy"

    def __str__(self) -> str:
        return self.title

    def get_absolute_url(self) -> str:
        return reverse("articles:editorial_policy")


class HomePage(SingleRowModel):
    """The words at the top of the home page, edited by staff. One row only."""

    headline = models.CharField(
        max_length=80,
        default="Skin care you can trust",
        help_text="The home page's main heading, at most 80 characters.",
    )
    introduction = models.TextField(
        max_length=300,
        default="Clear, careful articles on skin conditions and treatments, written "
        "so you can talk to your dermatologist with confidence.",
        help_text="One or two sentences under the heading. Plain text.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta(SingleRowModel.Meta):
        verbose_name = "home page"
        verbose_name_plural = "home page"

    def __str__(self) -> str:
        return "Home page"

    def get_absolute_url(self) -> str:
        return reverse("articles:home")


class SearchSynonym(models.Model):
    """Words readers use for a term, so a search for either finds both."""

    term = models.CharField(
        max_length=100, unique=True, help_text="e.g. 'keratosis pilaris'"
    )
    synonyms = models.CharField(
        max_length=500,
        help_text="Comma-separated words or phrases meaning the same, e.g. "
        "'chicken skin, KP'.",
    )

    class Meta:
        ordering = ["term"]

    def __str__(self) -> str:
        return self.term
