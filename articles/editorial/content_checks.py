"""Checks an article must pass before it is published. Each failing check blocks
publishing unless an editor overrides it with a written reason (workflow.publish).
"""

import re
from dataclasses import dataclass
from html.parser import HTMLParser
from typing import Any

from articles.publishing.body import plain_text
from articles.publishing.citations import CITATION, RANGE_DASH

SUMMARY_MAX = 300
SUMMARY_MIN = 50
SEO_TITLE_MAX = 70
SEO_DESCRIPTION_MAX = 160
# Link text that says nothing out of context (WCAG 2.4.4).
VAGUE_LINK_TEXT = frozenset(
    {"click here", "here", "click", "this", "link", "read more", "more", "this link"}
)


@dataclass(frozen=True)
class Check:
    code: str
    label: str
    passed: bool
    reason: str


class _BodyScanner(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.images_without_alt = 0
        self.headings: list[int] = []
        self.links: list[str] = []
        self._link_text: list[str] | None = None

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and not (dict(attrs).get("alt") or "").strip():
            self.images_without_alt += 1
        if re.fullmatch(r"h[1-6]", tag):
            self.headings.append(int(tag[1]))
        if tag == "a":
            self._link_text = []
        if tag == "img" and self._link_text is not None:
            # An image with alt text names the link it sits in.
            self._link_text.append(dict(attrs).get("alt") or "")

    def handle_endtag(self, tag: str) -> None:
        if tag == "a" and self._link_text is not None:
            self.links.append(" ".join("".join(self._link_text).split()))
            self._link_text = None

    def handle_data(self, data: str) -> None:
        if self._link_text is not None:
            self._link_text.append(data)


def cited_numbers(html: str) -> set[int]:
    """Every source number the body cites: [1], [2, 3], [4-6]."""
    numbers: set[int] = set()
    for match in CITATION.finditer(plain_text(html)):
        for part in re.split(r"\s*,\s*", match.group(1)):
            ends = [int(n) for n in RANGE_DASH.split(part)[::2]]
            numbers.update(range(ends[0], ends[-1] + 1) if len(ends) == 2 else ends)
    return numbers


def run(data: dict[str, Any], *, medical: bool) -> list[Check]:
    """Every check, passed or not, for an article as a revision snapshot has it."""
    body = data.get("body") or ""
    sources = data.get("sources") or []
    scanner = _BodyScanner()
    scanner.feed(body)
    scanner.close()
    checks = []

    def add(code: str, label: str, problem: str) -> None:
        checks.append(Check(code, label, not problem, problem))

    missing = scanner.images_without_alt
    add(
        "image_alt",
        "Every image in the body has alt text",
        f"{missing} image(s) have no alt text: describe each for readers who cannot "
        "see it."
        if missing
        else "",
    )
    problem = ""
    previous = 1
    for level in scanner.headings:
        if level == 1:
            problem = (
                "The body has a Heading 1; the title is the page's only one. "
                "Use Heading 2 for sections."
            )
            break
        if level > previous + 1:
            problem = (
                f"A Heading {level} follows a Heading {previous}: a level is "
                "skipped. Use the next level down."
            )
            break
        previous = level
    add("headings", "Headings go in order", problem)
    empty = sum(1 for text in scanner.links if not text)
    vague = [text for text in scanner.links if text.lower() in VAGUE_LINK_TEXT]
    problem = ""
    if empty:
        problem = f"{empty} link(s) have no text. "
    if vague:
        problem += (
            f"Link text such as \u201c{vague[0]}\u201d says nothing out of context: "
            "name where the link goes."
        )
    add("links", "Links say where they go", problem.strip())
    add(
        "sources",
        "A medical article lists at least one source",
        "A medical article needs at least one source."
        if medical and not sources
        else "",
    )
    unknown = sorted(n for n in cited_numbers(body) if not 1 <= n <= len(sources))
    add(
        "citations",
        "Every citation points to a source",
        f"Citation(s) {', '.join(f'[{n}]' for n in unknown)} point to no source "
        f"(the article lists {len(sources)})."
        if unknown
        else "",
    )
    summary = " ".join((data.get("summary") or "").split())
    problem = ""
    if len(summary) < SUMMARY_MIN:
        problem = (
            f"The summary has {len(summary)} characters; write at least {SUMMARY_MIN}."
        )
    elif len(summary) > SUMMARY_MAX:
        problem = f"The summary has {len(summary)} characters; at most {SUMMARY_MAX}."
    add("summary", f"Summary of {SUMMARY_MIN}-{SUMMARY_MAX} characters", problem)
    description = data.get("seo_description") or ""
    seo_title = data.get("seo_title") or ""
    problem = ""
    if len(description) > SEO_DESCRIPTION_MAX:
        problem = (
            f"The SEO description has {len(description)} characters; at most "
            f"{SEO_DESCRIPTION_MAX}."
        )
    if len(seo_title) > SEO_TITLE_MAX:
        problem += (
            f" The SEO title has {len(seo_title)} characters; at most {SEO_TITLE_MAX}."
        )
    add("seo", "SEO title and description within their limits", problem.strip())
    return checks


def failing(data: dict[str, Any], *, medical: bool) -> list[Check]:
    return [check for check in run(data, medical=medical) if not check.passed]
