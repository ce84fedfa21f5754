"""Revisions, their comparison and restoring, autosave and share previews: the
admin views ArticleAdmin.get_urls() mounts under each article.

Every change goes through articles/workflow.py, which checks the permission on
the server; these views only read the request and show the outcome.
"""

import difflib
import json
import re
from dataclasses import dataclass, field
from typing import Any

from django.contrib import messages
from django.core.exceptions import (
    PermissionDenied,
    RequestDataTooBig,
    ValidationError,
)
from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.http import (
    HttpRequest,
    HttpResponse,
    HttpResponseRedirect,
    JsonResponse,
)
from django.shortcuts import get_object_or_404
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils import timezone
from django.views.decorators.http import require_http_methods, require_POST

from articles import revisions, workflow
from articles.admin.workflow_views import post_or_back
from articles.models import (
    SOURCE_FIELDS,
    Article,
    ArticleRevision,
    Autosave,
    MedicalApproval,
    PreviewLink,
    source_dict,
)
from articles.workflow import Action, WorkflowError
from core.sanitize import sanitize_html

# How often the editing page sends what changed. Tests shorten it.
AUTOSAVE_SECONDS = 30
REVISIONS_PER_PAGE = 50
# Unchanged lines kept on each side of a change; longer runs are folded.
DIFF_CONTEXT = 2
# The session key holding a new share link until its page shows it, once.
NEW_PREVIEW_URL_KEY = "articles_new_preview_url"

# What an autosave keeps: the form's editable fields, as a revision names them
# (all a revision keeps but the cover image, an upload rather than typing).
AUTOSAVE_IDS = ("author_id", "topic_id")
AUTOSAVE_FLAGS = ("medical", "featured")
AUTOSAVE_TEXT = tuple(
    name
    for name in revisions.FIELDS
    if name not in {"cover_image", *AUTOSAVE_IDS, *AUTOSAVE_FLAGS}
)
TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
# Below this similarity a changed line is shown as replaced whole, not word by word.
REWRITTEN_RATIO = 0.4
# Word-by-word marking costs up to (tokens on the left) x (tokens on the right) for
# each changed line; past this much for one comparison (a few seconds at worst), the
# remaining changed lines are shown replaced whole, so a very long paragraph or a
# change to every paragraph of a huge article cannot hold the page for minutes.
WORD_DIFF_BUDGET = 10_000_000


def urls(model_admin) -> list[URLPattern]:
    """The URL patterns of these views, wrapped by the admin site's login check."""
    views = RevisionViews(model_admin)
    wrap = model_admin.admin_site.admin_view

    def post(view):
        return wrap(require_POST(view))

    def get_or_post(view):
        return wrap(require_http_methods(["GET", "POST"])(view))

    return [
        path(
            "<int:object_id>/revisions/",
            wrap(views.revision_list),
            name="articles_article_revisions",
        ),
        path(
            "<int:object_id>/revisions/compare/",
            wrap(views.compare),
            name="articles_article_compare",
        ),
        path(
            "<int:object_id>/revisions/<int:number>/restore/",
            wrap(post_or_back(views.restore, "articles_article_revisions")),
            name="articles_article_restore",
        ),
        path("autosave/", post(views.autosave), name="articles_article_autosave_new"),
        path(
            "<int:object_id>/autosave/",
            post(views.autosave),
            name="articles_article_autosave",
        ),
        path(
            "autosave/discard/",
            get_or_post(views.discard_autosave),
            name="articles_article_autosave_discard_new",
        ),
        path(
            "<int:object_id>/autosave/discard/",
            get_or_post(views.discard_autosave),
            name="articles_article_autosave_discard",
        ),
        path(
            "<int:object_id>/preview-links/",
            get_or_post(views.preview_links),
            name="articles_article_preview_links",
        ),
        path(
            "<int:object_id>/preview-links/<int:link_id>/revoke/",
            wrap(
                post_or_back(
                    views.revoke_preview_link, "articles_article_preview_links"
                )
            ),
            name="articles_article_revoke_preview_link",
        ),
    ]


# Comparing: a revisions.compare() result, ready for the side-by-side table -------


@dataclass
class DiffLine:
    """One row of the table: `left` and `right` as (changed, text) segments;
    `skipped` counts the unchanged lines a folded row stands for."""

    kind: str  # equal, replace, insert, delete or skip
    left: list[tuple[bool, str]] = field(default_factory=list)
    right: list[tuple[bool, str]] = field(default_factory=list)
    skipped: int = 0


@dataclass
class FieldComparison:
    label: str
    changed: bool
    lines: list[DiffLine]


def word_diff(
    left: str, right: str
) -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
    """The two sides of a changed line, the changed words marked. A line mostly
    rewritten is marked whole; spaces between two changes join them."""
    a, b = TOKEN.findall(left), TOKEN.findall(right)
    words = difflib.SequenceMatcher(
        a=[t for t in a if not t.isspace()],
        b=[t for t in b if not t.isspace()],
        autojunk=False,
    )
    if words.ratio() < REWRITTEN_RATIO:
        return [(True, left)], [(True, right)]
    old: list[tuple[bool, str]] = []
    new: list[tuple[bool, str]] = []
    opcodes = difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()
    for n, (tag, i1, i2, j1, j2) in enumerate(opcodes):
        between = 0 < n < len(opcodes) - 1 and "".join(a[i1:i2]).isspace()
        changed = tag != "equal" or between
        for side, tokens in ((old, a[i1:i2]), (new, b[j1:j2])):
            if not tokens:
                continue
            text = "".join(tokens)
            if side and side[-1][0] == changed:
                side[-1] = (changed, side[-1][1] + text)
            else:
                side.append((changed, text))
    return old, new


def diff_lines(rows: list[tuple[str, str, str]]) -> list[DiffLine]:
    """The rows of a FieldDiff, replaced lines marked word by word and long runs
    of unchanged lines folded around the changes."""
    changed = [i for i, (kind, _, _) in enumerate(rows) if kind != "equal"]
    lines: list[DiffLine] = []
    skipped = 0
    budget = WORD_DIFF_BUDGET
    for i, (kind, left, right) in enumerate(rows):
        near = any(abs(i - c) <= DIFF_CONTEXT for c in changed)
        if kind == "equal" and changed and not near:
            skipped += 1
            continue
        if skipped:
            lines.append(DiffLine(kind="skip", skipped=skipped))
            skipped = 0
        if kind == "replace":
            cost = len(TOKEN.findall(left)) * len(TOKEN.findall(right))
            if cost <= budget:
                budget -= cost
                old, new = word_diff(left, right)
            else:
                old, new = [(True, left)], [(True, right)]
            lines.append(DiffLine(kind=kind, left=old, right=new))
        else:
            lines.append(
                DiffLine(
                    kind=kind,
                    left=[(kind == "delete", left)] if left else [],
                    right=[(kind == "insert", right)] if right else [],
                )
            )
    if skipped:
        lines.append(DiffLine(kind="skip", skipped=skipped))
    return lines


def comparison(old: dict[str, Any], new: dict[str, Any]) -> list[FieldComparison]:
    return [
        FieldComparison(label=d.label, changed=d.changed, lines=diff_lines(d.rows))
        for d in revisions.compare(old, new)
    ]


# Autosave: what the editing page sends, and what it is offered back ---------------


def autosave_data(payload: Any) -> dict[str, Any]:
    """The editable fields of an autosave request, checked and typed; ValueError
    says what is wrong. Unknown keys are left out; the body is sanitised like
    every stored piece of staff HTML."""
    if not isinstance(payload, dict):
        raise ValueError("Send the draft copy as a JSON object of field values.")
    data: dict[str, Any] = {}
    for name in AUTOSAVE_TEXT:
        if name in payload:
            if not isinstance(payload[name], str):
                raise ValueError(f"The field {name} must be text.")
            if not storable(payload[name]):
                raise ValueError(
                    f"The field {name} holds a character that cannot be saved."
                )
            data[name] = payload[name]
    for name in AUTOSAVE_IDS:
        if name in payload:
            value = payload[name]
            if value is not None and (type(value) is not int or value < 1):
                raise ValueError(f"The field {name} must be an id or null.")
            data[name] = value
    for name in AUTOSAVE_FLAGS:
        if name in payload:
            if not isinstance(payload[name], bool):
                raise ValueError(f"The field {name} must be true or false.")
            data[name] = payload[name]
    if "sources" in payload:
        data["sources"] = autosave_sources(payload["sources"])
    if "body" in data:
        data["body"] = sanitize_html(html=data["body"])
    return data


def storable(text: str) -> bool:
    """Text a database keeps as it is: PostgreSQL refuses a NUL character and a
    lone surrogate (JSON can carry both as escapes)."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return "\x00" not in text


def autosave_sources(sources: Any) -> list[dict[str, Any]]:
    if not isinstance(sources, list) or not all(isinstance(s, dict) for s in sources):
        raise ValueError("The sources must be a list of objects.")
    checked = []
    for source in sources:
        year = source.get("year")
        if year in ("", None):
            year = None
        elif isinstance(year, str) and year.strip().isdigit():
            year = int(year)
        elif type(year) is not int:
            raise ValueError("A source's year must be a number.")
        texts = {k: source.get(k) or "" for k in SOURCE_FIELDS if k != "year"}
        if not all(isinstance(v, str) for v in texts.values()):
            raise ValueError("A source's fields must be text.")
        if not all(storable(v) for v in texts.values()):
            raise ValueError("A source holds a character that cannot be saved.")
        checked.append(source_dict({**texts, "year": year}))
    return checked


def offered_autosave(*, article: Article | None, user) -> Autosave | None:
    """The autosave to offer back: pending, and not just the latest revision
    again (a save that raced with the last autosave)."""
    saved = workflow.pending_autosave(article=article, user=user)
    latest = article.latest_revision if article is not None else None
    if (
        saved is not None
        and latest is not None
        and all(latest.data.get(k) == v for k, v in saved.data.items())
    ):
        return None
    return saved


def autosave_context(request: HttpRequest, article: Article | None) -> dict[str, Any]:
    """What includes/autosave.html shows on the change or add page (`article` is
    None on the add page): whether autosave runs, its URLs, the autosave to offer
    back, and links to the revisions and share previews."""
    if article is not None and article.pk is None:
        article = None
    can_edit = not workflow.refusal(request.user, Action.EDIT, article)
    if article is None:
        context = {
            "url": reverse("admin:articles_article_autosave_new"),
            "discard_url": reverse("admin:articles_article_autosave_discard_new"),
        }
    else:
        context = {
            "url": reverse("admin:articles_article_autosave", args=[article.pk]),
            "discard_url": reverse(
                "admin:articles_article_autosave_discard", args=[article.pk]
            ),
            "revisions_url": reverse(
                "admin:articles_article_revisions", args=[article.pk]
            ),
            "compare_url": reverse("admin:articles_article_compare", args=[article.pk]),
            "preview_links_url": reverse(
                "admin:articles_article_preview_links", args=[article.pk]
            ),
            "has_unpublished_changes": article.has_unpublished_changes,
        }
    return {
        **context,
        "enabled": can_edit,
        "interval_ms": AUTOSAVE_SECONDS * 1000,
        "offer": offered_autosave(article=article, user=request.user)
        if can_edit
        else None,
    }


# The views ----------------------------------------------------------------------


def json_error(message: str, status: int) -> JsonResponse:
    return JsonResponse({"error": message}, status=status)


class RevisionViews:
    """The views, bound to the ArticleAdmin that mounts them (its permissions and
    admin site)."""

    def __init__(self, model_admin):
        self.model_admin = model_admin

    def _article(self, request: HttpRequest, object_id: int) -> Article:
        """The article, if the user may at least view it."""
        article = get_object_or_404(
            Article.objects.select_related(
                "topic", "author", "latest_revision", "live_revision"
            ),
            pk=object_id,
        )
        if not self.model_admin.has_view_or_change_permission(request, article):
            raise PermissionDenied
        return article

    def _context(self, request: HttpRequest, article: Article, title: str) -> dict:
        return {
            **self.model_admin.admin_site.each_context(request),
            "opts": Article._meta,
            "article": article,
            "title": title,
            "change_url": reverse("admin:articles_article_change", args=[article.pk]),
            "revisions_url": reverse(
                "admin:articles_article_revisions", args=[article.pk]
            ),
            "restore_refusal": workflow.refusal(request.user, Action.EDIT, article),
        }

    def revision_list(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = self._article(request, object_id)
        approvals = MedicalApproval.objects.select_related("reviewer")
        queryset = article.revisions.select_related("created_by").prefetch_related(
            Prefetch("approvals", queryset=approvals)
        )
        page = Paginator(queryset, REVISIONS_PER_PAGE).get_page(request.GET.get("page"))
        context = self._context(request, article, f"Revisions of “{article.title}”")
        context |= {
            "page": page,
            "revisions": page.object_list,
            "compare_url": reverse("admin:articles_article_compare", args=[article.pk]),
            "default_new": next(iter(page.object_list), None),
            "default_old": next(
                (r for r in page.object_list if r.pk != article.latest_revision_id),
                None,
            ),
        }
        return TemplateResponse(
            request, "admin/articles/article/revision_list.html", context
        )

    def compare(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = self._article(request, object_id)
        numbers = list(article.revisions.values_list("number", flat=True))
        if not numbers:
            messages.info(
                request, "This article has no revisions yet to compare: save it first."
            )
            return HttpResponseRedirect(
                reverse("admin:articles_article_change", args=[article.pk])
            )
        new_number = _number(request.GET.get("new"), default=max(numbers))
        live = article.live_revision
        default_old = (
            live.number
            if live is not None and live.number != new_number
            else max([n for n in numbers if n < new_number], default=new_number)
        )
        old_number = _number(request.GET.get("old"), default=default_old)
        if old_number > new_number:
            old_number, new_number = new_number, old_number
        # Checked against the numbers there are before any query: a number too
        # big for the database's integers fails the query on SQLite.
        if old_number not in numbers or new_number not in numbers:
            messages.error(request, "There is no such revision of this article.")
            return HttpResponseRedirect(
                reverse("admin:articles_article_revisions", args=[article.pk])
            )
        found = {
            r.number: r
            for r in article.revisions.select_related("created_by").filter(
                number__in=[old_number, new_number]
            )
        }
        old, new = found[old_number], found[new_number]
        fields = comparison(old.data, new.data)
        context = self._context(
            request,
            article,
            f"Revision {old.number} and revision {new.number} of “{article.title}”",
        )
        context |= {
            "old": old,
            "new": new,
            "fields": fields,
            "changed_labels": [f.label for f in fields if f.changed],
            "unchanged_labels": [f.label for f in fields if not f.changed],
            "numbers": sorted(numbers, reverse=True),
        }
        return TemplateResponse(
            request, "admin/articles/article/revision_compare.html", context
        )

    @staticmethod
    def _restored_message(
        article: Article, revision: ArticleRevision, new: ArticleRevision
    ) -> str:
        if article.status == Article.Status.PUBLISHED:
            return (
                f"Revision {revision.number} restored as a new draft, revision "
                f"{new.number}. Readers still see the published version until this "
                "draft is published."
            )
        return (
            f"Revision {revision.number} restored as a new draft, revision "
            f"{new.number}."
        )

    def restore(self, request: HttpRequest, object_id: int, number: int):
        article = self._article(request, object_id)
        revision = get_object_or_404(article.revisions, number=number)
        latest_before = article.latest_revision_id
        try:
            new = workflow.restore_revision(
                article=article, revision=revision, user=request.user
            )
        except WorkflowError as error:
            messages.error(request, str(error))
            return HttpResponseRedirect(
                reverse("admin:articles_article_revisions", args=[article.pk])
            )
        except ValidationError as error:
            messages.error(
                request,
                f"Revision {revision.number} cannot be restored as it is: "
                + " ".join(error.messages),
            )
            return HttpResponseRedirect(
                reverse("admin:articles_article_revisions", args=[article.pk])
            )
        if new.pk == latest_before:
            messages.info(
                request,
                f"Revision {revision.number} is the same as the latest revision: "
                "nothing to restore.",
            )
        else:
            messages.success(request, self._restored_message(article, revision, new))
        return HttpResponseRedirect(
            reverse("admin:articles_article_change", args=[article.pk])
        )

    def autosave(self, request: HttpRequest, object_id: int | None = None):
        article = self._article(request, object_id) if object_id else None
        reason = workflow.refusal(request.user, Action.EDIT, article)
        if reason:
            return json_error(reason, 403)
        try:
            payload = json.loads(request.body)
        except RequestDataTooBig:
            return json_error(
                "The draft copy is too big to keep; save the article instead.", 413
            )
        except (ValueError, UnicodeDecodeError, RecursionError):
            # RecursionError: arrays or objects nested thousands deep.
            return json_error("The draft copy was not valid JSON.", 400)
        try:
            data = autosave_data(payload)
        except ValueError as error:
            return json_error(str(error), 400)
        try:
            saved = workflow.autosave(article=article, user=request.user, data=data)
        except WorkflowError as error:
            return json_error(str(error), 403)
        moment = timezone.localtime(saved.saved_at)
        return JsonResponse(
            {
                "saved_at": moment.isoformat(),
                "message": f"Saved a draft copy at {moment:%H:%M}.",
            }
        )

    def discard_autosave(self, request: HttpRequest, object_id: int | None = None):
        """GET asks to confirm; POST discards (the change page's script posts
        and asks for JSON)."""
        article = self._article(request, object_id) if object_id else None
        back = (
            reverse("admin:articles_article_change", args=[article.pk])
            if article is not None
            else reverse("admin:articles_article_add")
        )
        if request.method == "POST":
            workflow.discard_autosave(article=article, user=request.user)
            message = "Your unsaved changes were discarded."
            if request.accepts("application/json") and not request.accepts("text/html"):
                return JsonResponse({"message": message})
            messages.info(request, message)
            return HttpResponseRedirect(back)
        context = {
            **self.model_admin.admin_site.each_context(request),
            "opts": Article._meta,
            "article": article,
            "title": "Discard your unsaved changes?",
            "offer": workflow.pending_autosave(article=article, user=request.user),
            "back_url": back,
            "change_url": back,
        }
        return TemplateResponse(
            request, "admin/articles/article/autosave_discard.html", context
        )

    def preview_links(self, request: HttpRequest, object_id: int) -> HttpResponse:
        article = self._article(request, object_id)
        links_url = reverse("admin:articles_article_preview_links", args=[article.pk])
        if request.method == "POST":
            try:
                days = int(request.POST.get("days", ""))
            except ValueError:
                messages.error(request, "Enter how many days the link lasts, 1 to 30.")
                return HttpResponseRedirect(links_url)
            try:
                link, token = workflow.create_preview_link(
                    article=article, user=request.user, days=days
                )
            except WorkflowError as error:
                messages.error(request, str(error))
                return HttpResponseRedirect(links_url)
            request.session[NEW_PREVIEW_URL_KEY] = request.build_absolute_uri(
                reverse("articles:share_preview", args=[token])
            )
            messages.success(
                request,
                f"Preview link made for revision {link.revision.number}; it works "
                f"until {timezone.localtime(link.expires_at):%d %b %Y, %H:%M}.",
            )
            return HttpResponseRedirect(links_url)
        links = list(
            PreviewLink.objects.filter(revision__article=article).select_related(
                "revision__article", "created_by"
            )
        )
        # One user object per maker: its permissions are read once, not per link.
        makers = {request.user.pk: request.user}
        for link in links:
            if link.created_by is not None:
                link.created_by = makers.setdefault(link.created_by_id, link.created_by)
            link.works = workflow.preview_link_works(link)
        context = self._context(
            request, article, f"Share previews of “{article.title}”"
        )
        context |= {
            "links": links,
            "new_url": request.session.pop(NEW_PREVIEW_URL_KEY, None),
            "share_refusal": workflow.refusal(
                request.user, Action.SHARE_PREVIEW, article
            ),
            "days_default": workflow.PREVIEW_DAYS_DEFAULT,
            "days_max": workflow.PREVIEW_DAYS_MAX,
            "now": timezone.now(),
        }
        return TemplateResponse(
            request, "admin/articles/article/preview_links.html", context
        )

    def revoke_preview_link(
        self, request: HttpRequest, object_id: int, link_id: int
    ) -> HttpResponse:
        article = self._article(request, object_id)
        link = get_object_or_404(
            PreviewLink.objects.select_related("revision__article"),
            pk=link_id,
            revision__article=article,
        )
        try:
            workflow.revoke_preview_link(link=link, user=request.user)
        except WorkflowError as error:
            messages.error(request, str(error))
        else:
            messages.success(
                request, "The preview link was revoked: it no longer works."
            )
        return HttpResponseRedirect(
            reverse("admin:articles_article_preview_links", args=[article.pk])
        )


def _number(value: str | None, *, default: int) -> int:
    try:
        return int(value) if value else default
    except ValueError:
        return default
