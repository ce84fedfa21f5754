"""The workflow actions (submit, approve, request changes, publish, unpublish,
assign a reviewer) as admin POST views under each article, and what the change
page's workflow panel shows.

The views only read the posted fields and call articles.editorial.workflow, which checks
the permission again: a crafted POST is refused exactly as a hidden button is.
"""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from functools import wraps
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth import get_user_model
from django.db.models import QuerySet
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseNotAllowed,
    HttpResponseRedirect,
)
from django.shortcuts import get_object_or_404
from django.urls import URLPattern, path, reverse
from django.utils import timezone

from articles import selectors
from articles.editorial import content_checks, permissions, revisions, workflow
from articles.editorial.medical import needs_medical_review
from articles.editorial.permissions import Action
from articles.errors import WorkflowError
from articles.models import (
    Article,
    ArticleRevision,
    Correction,
    MedicalApproval,
    Stage,
    Transition,
)

NOTE_MAX = 2000
# A workflow button on the dashboard posts back=dashboard: the person returns there.
BACK_TO_DASHBOARD = "dashboard"
CORRECTION_MAX = Correction._meta.get_field("text").max_length
# The panel's buttons, in the order they are shown.
PANEL_ACTIONS = (
    Action.SUBMIT,
    Action.APPROVE,
    Action.REQUEST_CHANGES,
    Action.PUBLISH,
    Action.UNPUBLISH,
    Action.ASSIGN_REVIEWER,
    Action.MARK_NOT_MEDICAL,
)


class NoteForm(forms.Form):
    note = forms.CharField(required=False, max_length=NOTE_MAX, strip=True)


class ReviewedForm(NoteForm):
    # The revision the page showed: the service refuses if a later one was saved
    # since, so nobody approves or publishes a version they did not see.
    revision = forms.IntegerField(required=False, min_value=1)


class ReasonForm(forms.Form):
    reason = forms.CharField(required=False, max_length=NOTE_MAX, strip=True)


class PublishForm(forms.Form):
    revision = forms.IntegerField(required=False, min_value=1)
    at = forms.DateTimeField(
        label="Publish at",
        required=False,
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%dT%H:%M:%S", "%Y-%m-%d %H:%M"],
    )
    override_reason = forms.CharField(
        label="Reason to publish anyway", required=False, max_length=NOTE_MAX
    )
    correction = forms.CharField(required=False, max_length=CORRECTION_MAX)
    changes_advice = forms.BooleanField(required=False)
    # Any text: the workflow says why an unknown one is refused.
    tell_readers = forms.CharField(required=False, max_length=20)


class AssignReviewerForm(forms.Form):
    # Any user: the workflow says why one who cannot review is refused.
    reviewer = forms.ModelChoiceField(
        queryset=get_user_model().objects.all(), required=False
    )


def reviewer_choices() -> QuerySet:
    """Active staff who may review (the assign-a-reviewer list)."""
    return (
        get_user_model()
        .objects.with_perm(
            permissions.REVIEW_PERMISSION,
            is_active=True,
            backend="django.contrib.auth.backends.ModelBackend",
        )
        .filter(is_staff=True)
        .select_related("author_profile")
        .order_by("first_name", "last_name", "username")
    )


def reviewed_by(approval: MedicalApproval) -> str:
    """The reviewer as the approval names them (their name and credentials then)."""
    if approval.reviewer_credentials:
        return f"{approval.reviewer_name}, {approval.reviewer_credentials}"
    return approval.reviewer_name


def person(user) -> str:
    return user.get_full_name() or user.get_username()


def _form_error(form: forms.Form) -> str:
    return " ".join(
        f"{form.fields[name].label or name.replace('_', ' ').capitalize()}: {e}"
        if name != "__all__"
        else e
        for name, errors in form.errors.items()
        for e in errors
    )


def _act(
    request: HttpRequest,
    object_id: int,
    form_class: type[forms.Form],
    do: Callable[[Article, dict[str, Any]], str],
) -> HttpResponse:
    """Run one action from a posted form: a refusal is shown as an error message,
    success as a success message; back to the change page either way, or to the
    dashboard when the button was there (`back`)."""
    article = get_object_or_404(Article.objects.select_related("topic"), pk=object_id)
    on_dashboard = request.POST.get("back") == BACK_TO_DASHBOARD
    back = (
        reverse("admin:index")
        if on_dashboard
        else reverse("admin:articles_article_change", args=[article.pk])
    )
    # On the dashboard, among many articles, each message names its own.
    about = f"“{article.title}”: " if on_dashboard else ""
    form = form_class(request.POST)
    if not form.is_valid():
        messages.error(request, about + _form_error(form))
        return HttpResponseRedirect(back)
    try:
        done = do(article, form.cleaned_data)
    except WorkflowError as refused:
        messages.error(request, about + str(refused))
    else:
        messages.success(request, about + done)
    return HttpResponseRedirect(back)


def submit_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        workflow.submit_for_review(
            article=article, user=request.user, note=data["note"]
        )
        return "Submitted for review."

    return _act(request, object_id, NoteForm, do)


def approve_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        approval = workflow.approve(
            article=article,
            user=request.user,
            note=data["note"],
            revision_number=data["revision"],
        )
        if approval is None:
            return "Approved."
        return (
            f"Approved revision {approval.revision.number} as {reviewed_by(approval)}."
        )

    return _act(request, object_id, ReviewedForm, do)


def request_changes_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        workflow.request_changes(article=article, user=request.user, note=data["note"])
        return "Changes requested: the writer sees your note."

    return _act(request, object_id, NoteForm, do)


def publish_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        article = workflow.publish(
            article=article,
            user=request.user,
            at=data["at"],
            override_reason=data["override_reason"],
            correction=data["correction"],
            revision_number=data["revision"],
            changes_advice=data["changes_advice"],
            tell_readers=data["tell_readers"] or Correction.TellReaders.NEXT_DIGEST,
        )
        if article.is_scheduled:
            moment = timezone.localtime(article.published_at)
            return f"Scheduled: readers see it from {moment:%d %b %Y %H:%M}."
        return "Published: readers see this version now."

    return _act(request, object_id, PublishForm, do)


def unpublish_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        workflow.unpublish(article=article, user=request.user, note=data["note"])
        return "Unpublished: readers no longer see the article."

    return _act(request, object_id, NoteForm, do)


def assign_reviewer_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        reviewer = data["reviewer"]
        workflow.assign_reviewer(article=article, user=request.user, reviewer=reviewer)
        if reviewer is None:
            return "Reviewer unassigned."
        return f"Reviewer assigned: {person(reviewer)}."

    return _act(request, object_id, AssignReviewerForm, do)


def mark_not_medical_view(request: HttpRequest, object_id: int) -> HttpResponse:
    def do(article: Article, data: dict[str, Any]) -> str:
        revision = workflow.mark_not_medical(
            article=article, user=request.user, reason=data["reason"]
        )
        return (
            f"Marked not medical in revision {revision.number}, with your reason in "
            "the history."
            + (
                " Readers see the medical version until a reviewer approves this "
                "one and an editor publishes it."
                if article.status == Article.Status.PUBLISHED
                else ""
            )
        )

    return _act(request, object_id, ReasonForm, do)


VIEWS = {
    Action.SUBMIT: submit_view,
    Action.APPROVE: approve_view,
    Action.REQUEST_CHANGES: request_changes_view,
    Action.PUBLISH: publish_view,
    Action.UNPUBLISH: unpublish_view,
    Action.ASSIGN_REVIEWER: assign_reviewer_view,
    Action.MARK_NOT_MEDICAL: mark_not_medical_view,
}


def post_or_back(view: Callable[..., HttpResponse], back: str) -> Callable:
    """`view` for a POST. A GET goes to the admin page named `back` (of the same
    article), saying nothing was done: after a sign-in, the login page sends a
    person who clicked a button while signed out to the action's address."""

    @wraps(view)
    def post_only(request: HttpRequest, object_id: int, *args, **kwargs):
        if request.method == "POST":
            return view(request, object_id, *args, **kwargs)
        if request.method not in ("GET", "HEAD"):
            return HttpResponseNotAllowed(["POST"])
        messages.warning(
            request,
            "Nothing was done (you may have been signed out meanwhile): use the "
            "button again.",
        )
        return HttpResponseRedirect(reverse(f"admin:{back}", args=[object_id]))

    return post_only


def url_name(action: str) -> str:
    return f"articles_article_workflow_{action}"


def urls(model_admin) -> list[URLPattern]:
    """The URL patterns of these views, wrapped by the admin site's login check."""
    wrap = model_admin.admin_site.admin_view
    return [
        path(
            f"<int:object_id>/workflow/{action.replace('_', '-')}/",
            wrap(post_or_back(view, "articles_article_change")),
            name=url_name(action),
        )
        for action, view in VIEWS.items()
    ]


# The panel ------------------------------------------------------------------------


@dataclass
class ApprovalState:
    """The medical approval as the panel says it: approved, stale or none."""

    kind: str  # approved, stale, none, not_medical
    text: str


@dataclass
class Panel:
    revision: ArticleRevision
    actions: list[str]
    urls: dict[str, str]
    medical: bool
    approval: ApprovalState
    checks: list[content_checks.Check]
    approval_blocker: str
    can_override: bool
    can_schedule: bool
    takes_correction: bool
    reviewers: list
    assigned_reviewer: str
    idle_reason: str
    # The reviewer's request, while the article waits for the changes.
    changes_requested: Transition | None
    # When the version readers see went live (not the first publish time).
    live_since: datetime | None

    @property
    def failing(self) -> list[content_checks.Check]:
        return [check for check in self.checks if not check.passed]


def latest_revision(article: Article) -> ArticleRevision:
    """The latest revision, or an unsaved one made from the row for an article
    that has none yet: showing the page must not write."""
    if article.latest_revision_id:
        return article.latest_revision
    data = revisions.snapshot(article)
    return ArticleRevision(
        article=article, number=1, data=data, review_hash=revisions.review_hash(data)
    )


def approval_state(
    article: Article, revision: ArticleRevision, *, medical: bool
) -> ApprovalState:
    if not medical:
        return ApprovalState(
            "not_medical",
            "Not a medical article: an editor or a reviewer approves it, and no "
            "medical approval is needed to publish.",
        )
    current = workflow.current_approval(article, revision)
    if current is not None:
        return ApprovalState(
            "approved",
            f"Approved by {reviewed_by(current)} for revision "
            f"{current.revision.number} "
            f"({timezone.localtime(current.approved_at):%d %b %Y}).",
        )
    last = (
        MedicalApproval.objects.filter(article=article)
        .select_related("revision")
        .first()
    )
    if last is not None:
        return ApprovalState(
            "stale",
            f"Approval stale: it covers revision {last.revision.number}; what "
            "readers are shown (text, sources, labels, cover, SEO, topic...) "
            "changed since.",
        )
    return ApprovalState("none", "Not yet reviewed by a medical reviewer.")


def panel(article: Article, user) -> Panel:
    """What the workflow panel shows `user` about `article` now."""
    revision = latest_revision(article)
    medical = needs_medical_review(article, revision.data)
    approval_blocker, _ = workflow.publish_blockers(article, revision)
    actions = [a for a in permissions.allowed(user, article) if a in PANEL_ACTIONS]
    checks = content_checks.run(revision.data, medical=medical)
    return Panel(
        revision=revision,
        actions=sorted(actions, key=PANEL_ACTIONS.index),
        urls={
            action: reverse(f"admin:{url_name(action)}", args=[article.pk])
            for action in actions
        },
        medical=medical,
        approval=approval_state(article, revision, medical=medical),
        checks=checks,
        approval_blocker=approval_blocker,
        can_override=user.has_perm(permissions.OVERRIDE_PERMISSION),
        can_schedule=not article.is_live,
        takes_correction=permissions.readers_have_seen(article),
        reviewers=list(reviewer_choices()) if Action.ASSIGN_REVIEWER in actions else [],
        assigned_reviewer=person(article.assigned_reviewer)
        if article.assigned_reviewer_id
        else "",
        idle_reason="" if actions else idle_reason(article, user),
        changes_requested=Transition.objects.filter(
            article=article, to_stage=Stage.CHANGES_REQUESTED
        )
        .select_related("actor")
        .first()
        if article.stage == Stage.CHANGES_REQUESTED
        else None,
        live_since=selectors.live_since(article),
    )


def idle_reason(article: Article, user) -> str:
    """Why `user` has no button here: the refusal of the action their role is
    for (reviewing for reviewers, submitting for everyone else)."""
    action = Action.APPROVE if workflow.is_reviewer(user) else Action.SUBMIT
    return permissions.refusal(user, action, article)


@dataclass
class History:
    transitions: list[Transition]
    corrections: list[Correction]


def history(article: Article) -> History:
    """The article's workflow log, newest first, and its corrections."""
    return History(
        transitions=list(
            Transition.objects.filter(article=article).select_related(
                "actor", "revision"
            )
        ),
        corrections=list(
            Correction.objects.filter(article=article)
            .select_related("created_by", "revision")
            .order_by("-published_at", "-pk")
        ),
    )
