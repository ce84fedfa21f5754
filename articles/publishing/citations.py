"""Inline citations: "[1]", "[1, 2]" and "[2-4]" in an article's text become links
to the numbered sources under it, and each cited source can link back to the text.

A display-time step over the sanitised body (articles/publishing/body.py). Only text is
touched, never a tag or an attribute, and never text inside a link (a link cannot
hold another), code or preformatted text (written to be read as it is). The numbers
read here are those content_checks.cited_numbers reads, so a body that passes the
"Every citation points to a source" check has every citation linked.
"""

import re

# A range's dash: a hyphen or an en dash, also as the entities HTML may spell it.
DASH = r"(?:[\u2013-]|&ndash;|&#8211;|&#x2013;)"
NUMBER = r"\d{1,3}"
CITATION = re.compile(rf"\[({NUMBER}(?:\s*(?:,|{DASH})\s*{NUMBER})*)\]", re.IGNORECASE)
COMMA = re.compile(r"(\s*,\s*)")
RANGE_DASH = re.compile(rf"(\s*{DASH}\s*)", re.IGNORECASE)
TAG = re.compile(r"(<[^>]*>)")
# Text inside these elements is left exactly as written.
SKIPPED = re.compile(r"<(/?)(a|code|pre)\b[^>]*?(/?)>", re.IGNORECASE)


def cite_id(number: int, occurrence: int) -> str:
    """The id of a citation link: cite-3 for the first citation of source 3, then
    cite-3-2, cite-3-3... so every link has its own and the first is predictable."""
    return f"cite-{number}" if occurrence == 1 else f"cite-{number}-{occurrence}"


def source_id(number: int) -> str:
    return f"source-{number}"


class _Linker:
    def __init__(self, source_count: int) -> None:
        self.source_count = source_count
        self.occurrences: dict[int, int] = {}
        # Source number -> id of the first link that cites it.
        self.first: dict[int, str] = {}

    def _link(self, text: str) -> tuple[str, str]:
        """A link for one number as written; its id."""
        number = int(text)
        self.occurrences[number] = self.occurrences.get(number, 0) + 1
        anchor = cite_id(number, self.occurrences[number])
        self.first.setdefault(number, anchor)
        return (
            f'<a href="#{source_id(number)}" id="{anchor}" class="cite" '
            f'aria-label="Source {number}">{text}</a>',
            anchor,
        )

    def _exists(self, number: int) -> bool:
        return 1 <= number <= self.source_count

    def _group(self, group: str) -> str:
        """One comma-separated part: a number, or a range such as 2-4."""
        pieces = RANGE_DASH.split(group)
        numbers = [int(text) for text in pieces[::2]]
        if len(numbers) == 2:
            start, end = numbers
            covered = [n for n in range(start, end + 1) if self._exists(n)]
            if not covered:
                return group
        else:
            covered = [n for n in numbers if self._exists(n)]
        out, anchors = [], []
        for index, piece in enumerate(pieces):
            if index % 2 == 0 and self._exists(int(piece)):
                link, anchor = self._link(piece)
                out.append(link)
                anchors.append(anchor)
            else:
                out.append(piece)
        if not anchors:
            return group
        # The sources inside a range, 3 in 2-4, have no link of their own: they
        # lead back to the range.
        for number in covered:
            self.first.setdefault(number, anchors[0])
        return "".join(out)

    def citation(self, match: re.Match) -> str:
        parts = COMMA.split(match.group(1))
        inner = "".join(
            part if index % 2 else self._group(part) for index, part in enumerate(parts)
        )
        if inner == match.group(1):
            return match.group(0)
        # One group, so a line never breaks inside the brackets.
        return f'<span class="citation">[{inner}]</span>'


def link_citations(html: str, source_count: int) -> tuple[str, dict[int, str]]:
    """The HTML with each citation of an existing source linked to it, and for
    each cited source the id of its first citation (for its "Back to text" link).
    Numbers without a source (0, or past the last) stay plain text."""
    if source_count < 1 or "[" not in html:
        return html, {}
    linker = _Linker(source_count)
    out, skipped = [], 0
    for token in TAG.split(html):
        if token.startswith("<"):
            tag = SKIPPED.fullmatch(token)
            if tag and not tag.group(3):
                skipped = max(0, skipped + (-1 if tag.group(1) else 1))
            out.append(token)
        elif skipped or "[" not in token:
            out.append(token)
        else:
            out.append(CITATION.sub(linker.citation, token))
    return "".join(out), linker.first
