"""What a medical reviewer reads before approving a change: the latest revision
against the one they last approved (the last revision a medical approval covers),
or, with no approval yet, against the version readers see. The body's text is
marked word by word inline; every other field that changed is listed old -> new
(the cover image only as "changed").

Everything here is plain text taken from the article: the template escapes it,
and marks the changed words with <del> and <ins> itself."""

from dataclasses import dataclass, field
from typing import Any

from articles.editorial import revisions
from articles.editorial.diff import (
    DiffLine,
    Row,
    WordBudget,
    diff_lines,
    folded,
    word_opcodes,
)
from articles.models import Article, ArticleRevision

# Shown as "changed": a stored file name says nothing a reviewer can check.
OPAQUE_FIELDS = {"cover_image"}


class Base:
    """Which revision the latest one is compared with."""

    APPROVED = "approved"  # the last revision a medical approval covers
    LIVE = "live"  # no approval yet: the version readers see
    NONE = "none"  # neither: everything is new


@dataclass
class InlineLine:
    """One paragraph of the body: `parts` as (op, text), op equal, del or ins;
    `skipped` counts the unchanged paragraphs a folded line stands for."""

    kind: str  # equal, replace, insert, delete or skip
    parts: list[tuple[str, str]] = field(default_factory=list)
    skipped: int = 0


@dataclass
class FieldChange:
    """A changed field outside the body, its changed lines old -> new."""

    label: str
    lines: list[DiffLine]
    opaque: bool


@dataclass
class ReviewChanges:
    base: ArticleRevision | None
    base_kind: str
    new: ArticleRevision
    body: list[InlineLine]
    body_changed: bool
    fields: list[FieldChange]
    unchanged: list[str]
    # The body's markup changed but not its words (bold, a heading level...):
    # still a change the approval covers, said as such.
    body_formatting_changed: bool = False

    @property
    def changed(self) -> bool:
        return self.body_changed or self.body_formatting_changed or bool(self.fields)

    @property
    def changed_labels(self) -> list[str]:
        body = (
            ["Body text"]
            if self.body_changed
            else ["Body text (formatting only)"]
            if self.body_formatting_changed
            else []
        )
        return body + [f.label for f in self.fields]


def inline_words(left: str, right: str) -> list[tuple[str, str]]:
    """One paragraph's old and new text merged: the removed words as del, the
    added ones as ins. A paragraph mostly rewritten is removed and added whole."""
    tokens = word_opcodes(left, right)
    if tokens is None:
        return [("del", left), ("ins", right)]
    a, b, opcodes = tokens
    parts: list[tuple[str, str]] = []

    def add(op: str, tokens: list[str]) -> None:
        if not tokens:
            return
        text = "".join(tokens)
        if parts and parts[-1][0] == op:
            parts[-1] = (op, parts[-1][1] + text)
        else:
            parts.append((op, text))

    for tag, i1, i2, j1, j2 in opcodes:
        if tag == "equal":
            add("equal", a[i1:i2])
        else:
            add("del", a[i1:i2])
            add("ins", b[j1:j2])
    return parts


def inline_lines(rows: list[Row]) -> list[InlineLine]:
    """The body's paragraphs (a FieldDiff's rows) merged inline, long runs of
    unchanged paragraphs folded around the changes."""
    lines: list[InlineLine] = []
    # The same bound as the side-by-side table: past it, whole paragraphs.
    budget = WordBudget()
    for row in folded(rows):
        if isinstance(row, int):
            lines.append(InlineLine(kind="skip", skipped=row))
            continue
        kind, left, right = row
        if kind == "equal":
            parts = [("equal", left)]
        elif kind == "insert":
            parts = [("ins", right)]
        elif kind == "delete":
            parts = [("del", left)]
        elif budget.allows(left, right):
            parts = inline_words(left, right)
        else:
            parts = [("del", left), ("ins", right)]
        lines.append(InlineLine(kind=kind, parts=parts))
    return lines


def words_only(rows: list[tuple[str, str, str]]) -> list[tuple[str, str, str]]:
    """The body's rows with spacing made even: the text of inline markup (a
    word made bold) comes with spaces around it, which are no change of words."""
    even = []
    for kind, left, right in rows:
        left, right = " ".join(left.split()), " ".join(right.split())
        even.append(
            ("equal" if kind == "replace" and left == right else kind, left, right)
        )
    return even


def review_base(article: Article) -> tuple[ArticleRevision | None, str]:
    """The revision the last medical approval covers; else the live one."""
    approval = article.approvals.select_related("revision__created_by").first()
    if approval is not None:
        return approval.revision, Base.APPROVED
    if article.live_revision_id is not None:
        return article.live_revision, Base.LIVE
    return None, Base.NONE


def compare_for_review(
    *, base: ArticleRevision | None, base_kind: str, new: ArticleRevision
) -> ReviewChanges:
    old_data: dict[str, Any] = base.data if base is not None else {}
    body: list[InlineLine] = []
    body_changed = False
    formatting = False
    fields: list[FieldChange] = []
    unchanged: list[str] = []
    for (name, _), diff in zip(
        revisions.DIFF_FIELDS, revisions.compare(old_data, new.data), strict=True
    ):
        if name == "body":
            rows = words_only(diff.rows)
            body_changed = any(kind != "equal" for kind, _, _ in rows)
            body = inline_lines(rows)
            formatting = not body_changed and (old_data.get("body") or "") != (
                new.data.get("body") or ""
            )
            if not body_changed:
                unchanged.append(
                    f"{diff.label} (its words)" if formatting else diff.label
                )
        elif diff.changed:
            fields.append(
                FieldChange(
                    label=diff.label,
                    lines=[
                        line
                        for line in diff_lines(diff.rows)
                        if line.kind not in ("equal", "skip")
                    ],
                    opaque=name in OPAQUE_FIELDS,
                )
            )
        else:
            unchanged.append(diff.label)
    return ReviewChanges(
        base=base,
        base_kind=base_kind,
        new=new,
        body=body,
        body_changed=body_changed,
        fields=fields,
        unchanged=unchanged,
        body_formatting_changed=formatting,
    )


def changes_for_review(article: Article, latest: ArticleRevision) -> ReviewChanges:
    """The latest revision against the last approved (or live) one."""
    base, kind = review_base(article)
    return compare_for_review(base=base, base_kind=kind, new=latest)
