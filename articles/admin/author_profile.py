"""Your author profile: the last step of accepting an invitation as a writer or
medical reviewer (settings.STAFF_INVITATION_LANDING), and the page the dashboard
sends any writer or reviewer account without a profile to. It asks for the name
readers see on bylines and "Medically reviewed by" lines, and the credentials
(required for reviewers: an approval records them), then makes and links the
profile (services.make_own_profile). Anyone else goes on to the dashboard."""

from django import forms
from django.contrib import messages
from django.contrib.admin import AdminSite
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect
from django.template.response import TemplateResponse
from django.views.decorators.cache import never_cache

from articles import services
from articles.editorial import medical
from articles.errors import WorkflowError
from articles.models import Author

WRITER_GROUP = "Writer"


def needs_author_profile(user) -> bool:
    """A writer or medical reviewer account without a linked author profile:
    they cannot sign an article or an approval until they have one."""
    if not (user.is_authenticated and user.is_active and user.is_staff):
        return False
    if Author.objects.filter(user=user).exists():
        return False
    return user.groups.filter(
        name=WRITER_GROUP
    ).exists() or medical.is_medical_reviewer(user)


class OwnProfileForm(forms.Form):
    name = forms.CharField(
        label="Your name as readers see it",
        max_length=Author._meta.get_field("name").max_length,
        help_text="On your bylines and reviews, and everywhere in the admin.",
        widget=forms.TextInput(attrs={"class": "vTextField", "autocomplete": "name"}),
    )
    credentials = forms.CharField(
        label="Credentials",
        max_length=Author._meta.get_field("credentials").max_length,
        required=False,
        help_text="Degrees or qualifications, e.g. 'MD, board-certified "
        "dermatologist'. Leave empty rather than guess.",
        widget=forms.TextInput(attrs={"class": "vTextField"}),
    )

    def __init__(self, *args, reviewer: bool, **kwargs):
        super().__init__(*args, **kwargs)
        if reviewer:
            self.fields["credentials"].required = True
            self.fields["credentials"].help_text = (
                "Required for medical reviewers: readers are told who reviewed "
                "an article, with these. E.g. 'MD, board-certified dermatologist'."
            )

    def clean_name(self) -> str:
        name = " ".join(self.cleaned_data["name"].split())
        if not name:
            raise forms.ValidationError("Enter your name.")
        return name


def view(site: AdminSite):
    @never_cache
    def own_profile(request: HttpRequest) -> HttpResponse:
        user = request.user
        if not needs_author_profile(user):
            return redirect("admin:index")
        reviewer = medical.is_medical_reviewer(user)
        form = OwnProfileForm(
            request.POST or None,
            reviewer=reviewer,
            initial={"name": user.get_full_name()},
        )
        if request.method == "POST" and form.is_valid():
            try:
                services.make_own_profile(
                    user=user,
                    name=form.cleaned_data["name"],
                    credentials=form.cleaned_data["credentials"].strip(),
                )
            except WorkflowError as error:
                form.add_error(None, str(error))
            else:
                messages.success(
                    request, "Your author profile is made: welcome to the team."
                )
                return redirect("admin:index")
        return TemplateResponse(
            request,
            "admin/articles/author/own_profile.html",
            {
                **site.each_context(request),
                "title": "Your author profile",
                "form": form,
                "reviewer": reviewer,
            },
            status=400 if form.is_bound else 200,
        )

    return site.admin_view(own_profile)
