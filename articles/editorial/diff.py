"""Two revisions compared for the side-by-side table: a revisions.compare() result
with changed lines marked word by word and long unchanged runs folded."""

import difflib
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from articles.editorial import revisions

# Unchanged lines kept on each side of a change; longer runs are folded.
DIFF_CONTEXT = 2


TOKEN = re.compile(r"\s+|\w+|[^\w\s]")
# Below this similarity a changed line is shown as replaced whole, not word by word.
REWRITTEN_RATIO = 0.4
# Word-by-word marking costs up to (tokens on the left) x (tokens on the right) for
# each changed line; past this much for one comparison (a few seconds at worst), the
# remaining changed lines are shown replaced whole, so a very long paragraph or a
# change to every paragraph of a huge article cannot hold the page for minutes.
WORD_DIFF_BUDGET = 10_000_000


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


def word_opcodes(left: str, right: str) -> tuple[list[str], list[str], list] | None:
    """Both lines' tokens (words, spaces, signs) and the opcodes turning one into
    the other; None when the line is mostly rewritten (fewer words in common than
    REWRITTEN_RATIO), to be shown replaced whole."""
    a, b = TOKEN.findall(left), TOKEN.findall(right)
    words = difflib.SequenceMatcher(
        a=[t for t in a if not t.isspace()],
        b=[t for t in b if not t.isspace()],
        autojunk=False,
    )
    if words.ratio() < REWRITTEN_RATIO:
        return None
    return a, b, difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_opcodes()


def word_diff(
    left: str, right: str
) -> tuple[list[tuple[bool, str]], list[tuple[bool, str]]]:
    """The two sides of a changed line, the changed words marked. A line mostly
    rewritten is marked whole; spaces between two changes join them."""
    tokens = word_opcodes(left, right)
    if tokens is None:
        return [(True, left)], [(True, right)]
    a, b, opcodes = tokens
    old: list[tuple[bool, str]] = []
    new: list[tuple[bool, str]] = []
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


Row = tuple[str, str, str]  # (kind, left, right), as revisions.compare() gives


def folded(rows: list[Row]) -> Iterator[Row | int]:
    """The rows to show, long runs of unchanged rows folded around the changes:
    each row kept as it is, and in place of each run folded away its length."""
    changed = [i for i, (kind, _, _) in enumerate(rows) if kind != "equal"]
    skipped = 0
    for i, row in enumerate(rows):
        near = any(abs(i - c) <= DIFF_CONTEXT for c in changed)
        if row[0] == "equal" and changed and not near:
            skipped += 1
            continue
        if skipped:
            yield skipped
            skipped = 0
        yield row
    if skipped:
        yield skipped


class WordBudget:
    """What word-by-word marking may still cost in one comparison
    (WORD_DIFF_BUDGET): past it, changed lines are shown replaced whole."""

    def __init__(self) -> None:
        self.left = WORD_DIFF_BUDGET

    def allows(self, left: str, right: str) -> bool:
        cost = len(TOKEN.findall(left)) * len(TOKEN.findall(right))
        if cost > self.left:
            return False
        self.left -= cost
        return True


def diff_lines(rows: list[Row]) -> list[DiffLine]:
    """The rows of a FieldDiff, replaced lines marked word by word and long runs
    of unchanged lines folded around the changes."""
    lines: list[DiffLine] = []
    budget = WordBudget()
    for row in folded(rows):
        if isinstance(row, int):
            lines.append(DiffLine(kind="skip", skipped=row))
            continue
        kind, left, right = row
        if kind == "replace":
            if budget.allows(left, right):
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
    return lines


def comparison(old: dict[str, Any], new: dict[str, Any]) -> list[FieldComparison]:
    return [
        FieldComparison(label=d.label, changed=d.changed, lines=diff_lines(d.rows))
        for d in revisions.compare(old, new)
    ]
