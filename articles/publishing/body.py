"""The article body as served: the stored, sanitised HTML with what reading needs
added at display time (each step takes and returns HTML)."""

import html as html_lib
import re
from dataclasses import dataclass, field
from functools import lru_cache

from django.utils.safestring import SafeString, mark_safe
from django.utils.text import slugify

from articles.models import ImageRendition
from articles.publishing import citations
from articles.publishing.renditions import add_pictures

# The sanitiser (core/sanitize.py) leaves h2/h3 without attributes; a heading
# that already has attributes (content stored before the sanitiser) is left alone.
HEADING = re.compile(r"<(h[23])>(.*?)</\1\s*>", re.IGNORECASE | re.DOTALL)
TAG = re.compile(r"<[^>]*>")
# Ids the article page itself uses: a heading never takes them.
RESERVED_IDS = frozenset(
    {"main", "sources", "related", "on-this-page", "corrections-and-updates"}
)
# Nor those of the citation links and the sources they point to (cite-2, source-2).
RESERVED_PATTERN = re.compile(r"(?:cite|source)-\d+(?:-\d+)*")


@dataclass
class Heading:
    level: int
    id: str
    text: str
    children: list["Heading"] = field(default_factory=list)


def plain_text(html: str) -> str:
    """The text of an HTML fragment: tags dropped, entities decoded."""
    return html_lib.unescape(TAG.sub(" ", html or ""))


@lru_cache(maxsize=64)
def _with_heading_ids(
    html: str, reserved: frozenset[str] = frozenset()
) -> tuple[str, tuple[Heading, ...]]:
    """The body with an id on each h2/h3, and the headings in order.

    Ids are the slugified heading text, made unique with -2, -3...: the same body
    always gets the same ids, so links to a section keep working. `reserved`: ids
    the page around the body uses too.
    """
    taken = set(RESERVED_IDS | reserved)
    headings: list[Heading] = []

    def add_id(match: re.Match) -> str:
        tag, inner = match.group(1).lower(), match.group(2)
        text = " ".join(plain_text(inner).split())
        base = slugify(text)[:60].strip("-") or "section"
        if RESERVED_PATTERN.fullmatch(base):
            base = f"section-{base}"
        anchor, n = base, 2
        while anchor in taken:
            anchor, n = f"{base}-{n}", n + 1
        taken.add(anchor)
        headings.append(Heading(level=int(tag[1]), id=anchor, text=text))
        return f'<{tag} id="{anchor}">{inner}</{tag}>'

    return HEADING.sub(add_id, html or ""), tuple(headings)


@lru_cache(maxsize=64)
def _with_citations(
    html: str, source_count: int
) -> tuple[str, tuple[tuple[int, str], ...]]:
    """The body with its citations linked (articles/publishing/citations.py), and each
    cited source's first citation id. The number of sources is part of the key: a
    citation is linked only when its source exists."""
    linked, first = citations.link_citations(html, source_count)
    return linked, tuple(sorted(first.items()))


def render_body(
    html: str,
    *,
    source_count: int = 0,
    reserved: frozenset[str] = frozenset(),
    renditions: dict[str, list[ImageRendition]] | None = None,
) -> SafeString:
    """The body as served: pictures, heading ids, then citations linked to the
    `source_count` numbered sources shown under it. `renditions`: those of the
    body's images when the caller looked them up (renditions.add_pictures)."""
    # Safe: the stored body is sanitised with nh3 on every save
    # (core/sanitize.py), and each step here only adds our own markup (ids
    # made by slugify: letters, digits, hyphens and underscores only; citation
    # links made of the digits matched).
    # Pictures first: it recognises the body the page prefetched renditions for.
    html = add_pictures(html, renditions)
    html = _with_heading_ids(html, reserved)[0]
    return mark_safe(_with_citations(html, source_count)[0])


def first_citations(html: str, source_count: int) -> dict[int, str]:
    """{source number: id of its first citation in render_body's output}, for the
    sources' "Back to text" links. Sources never cited are absent."""
    return dict(_with_citations(_with_heading_ids(html)[0], source_count)[1])


def body_outline(html: str, *, reserved: frozenset[str] = frozenset()) -> list[Heading]:
    """The body's h2 sections, each with its h3 subsections, for a table of
    contents. An h3 before the first h2 stands on its own. Ids match render_body."""
    outline: list[Heading] = []
    for heading in _with_heading_ids(html, reserved)[1]:
        item = Heading(level=heading.level, id=heading.id, text=heading.text)
        if heading.level == 3 and outline and outline[-1].level == 2:
            outline[-1].children.append(item)
        else:
            outline.append(item)
    return outline


def heading_count(html: str) -> int:
    return len(_with_heading_ids(html)[1])
