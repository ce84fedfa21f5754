"""The launch articles: the product owner's text, divided as shared/seed/README.md says.

seed.txt is kept exactly as received. Only what the source lacks is written here:
titles where an article has no heading, slugs, summaries, and the two lists that
were lost from the source, filled only with points the same text states elsewhere.

The topic is medical and the articles are labelled "Limited" evidence: they cite
no studies, and no medical reviewer has approved them, which their pages say.
"""

from dataclasses import dataclass, field
from pathlib import Path

from django.utils.html import escape

from articles.models import Evidence

SEED_PATH = Path(__file__).with_name("seed.txt")

TOPIC = {
    "name": "Keratosis pilaris",
    "slug": "keratosis-pilaris",
    "description": (
        "Keratosis pilaris is a common skin condition characterized by small, rough "
        "bumps. What causes it, and how microneedling may help."
    ),
    "medical": True,
}
AUTHOR = {
    "name": "Skincare Editorial Team",
    "slug": "editorial-team",
    "kind": "organization",
    "credentials": "",
    "bio": (
        "The Skincare editorial team writes and edits our articles. Talk to a "
        "dermatologist before starting any treatment."
    ),
}


@dataclass(frozen=True)
class LaunchArticle:
    slug: str
    summary: str
    # The line in seed.txt where the article starts. When the article's first line
    # is its own heading, that line is the title; otherwise `title` is given.
    first_line: str
    headings: tuple[str, ...]
    title: str = ""
    featured: bool = False
    evidence: str = Evidence.LIMITED
    # Lists lost from the source: inserted after the line they belong to.
    lists: dict[str, tuple[str, ...]] = field(default_factory=dict)


ARTICLES = (
    LaunchArticle(
        slug="microneedling-for-keratosis-pilaris",
        title="Microneedling for Keratosis Pilaris: An Overview",
        first_line="Microneedling, also known as collagen induction therapy, has "
        "gained popularity",
        headings=(),
        summary="What microneedling is, how it may help the small, rough bumps of "
        "keratosis pilaris, and why to talk to a dermatologist first.",
        featured=True,
    ),
    LaunchArticle(
        slug="microneedling-benefits-keratosis-pilaris",
        first_line="Understanding Microneedling and Its Benefits for Keratosis Pilaris",
        headings=(
            "How Microneedling Works",
            "Benefits for Keratosis Pilaris",
            "What to Expect During a Microneedling Session",
            "Is Microneedling Right for You?",
            "Conclusion",
        ),
        summary="How microneedling works, what it may offer people with keratosis "
        "pilaris, and what to expect during a session.",
        featured=True,
        lists={
            "For individuals suffering from keratosis pilaris, microneedling offers "
            "several benefits:": (
                "Production of collagen and elastin, which help maintain the skin's "
                "structure and elasticity.",
                "Breaking down the keratin plugs that block hair follicles.",
                "Better absorption of topical treatments, such as moisturizers and "
                "exfoliants.",
                "Smoother skin texture and a reduction in the characteristic bumps.",
                "Reduced inflammation.",
            )
        },
    ),
    LaunchArticle(
        slug="understanding-keratosis-pilaris",
        first_line="Understanding Keratosis Pilaris",
        headings=(
            "The Role of Microneedling in Treating Keratosis Pilaris",
            "How Microneedling Works for Keratosis Pilaris",
            "Potential Benefits of Microneedling for Keratosis Pilaris",
            "Considerations and Precautions",
        ),
        summary='What causes keratosis pilaris, often called "chicken skin", and how '
        "microneedling can help break down keratin plugs and improve skin texture.",
        lists={
            "Potential Benefits of Microneedling for Keratosis Pilaris": (
                "Breaking down keratin plugs, reducing the appearance of bumps.",
                "Smoother, more even skin texture over time.",
                "Better absorption of topical treatments, such as moisturizers and "
                "exfoliants.",
                "Production of collagen and elastin, which are essential for healthy "
                "skin.",
                "Reduced inflammation.",
            )
        },
    ),
    LaunchArticle(
        slug="understanding-microneedling-keratosis-pilaris",
        first_line="Understanding Microneedling for Keratosis Pilaris",
        headings=(
            "Mechanism of Microneedling",
            "Efficacy in Treating Keratosis Pilaris",
            "Procedure and Recovery",
            "Considerations and Precautions",
            "Conclusion",
        ),
        summary="The mechanism, efficacy, procedure and recovery of microneedling for "
        "keratosis pilaris, and the precautions to discuss with a professional.",
    ),
)


@dataclass(frozen=True)
class ParsedArticle:
    spec: LaunchArticle
    title: str
    # Every line of the source that belongs to the body, in order, as written.
    source_lines: tuple[str, ...]
    body_html: str


def read_seed() -> list[str]:
    return [line for line in SEED_PATH.read_text("utf-8").splitlines() if line.strip()]


def call_to_action() -> str:
    """The seed's closing line, the newsletter call to action."""
    return read_seed()[-1]


def _start_index(lines: list[str], spec: LaunchArticle) -> int:
    matches = [i for i, line in enumerate(lines) if line.startswith(spec.first_line)]
    if len(matches) != 1:
        raise ValueError(f"seed.txt: expected one line starting {spec.first_line!r}")
    return matches[0]


def parse_seed() -> list[ParsedArticle]:
    lines = read_seed()
    starts = [_start_index(lines, spec) for spec in ARTICLES]
    ends = [*starts[1:], len(lines) - 1]  # the last line is the call to action
    parsed = []
    for spec, start, end in zip(ARTICLES, starts, ends, strict=True):
        chunk = lines[start:end]
        title = spec.title or chunk[0]
        body_lines = chunk if spec.title else chunk[1:]
        missing = set(spec.headings) - set(body_lines)
        if missing:
            raise ValueError(f"seed.txt: headings not found: {sorted(missing)}")
        html = []
        for line in body_lines:
            tag = "h2" if line in spec.headings else "p"
            html.append(f"<{tag}>{escape(line)}</{tag}>")
            if line in spec.lists:
                items = "".join(f"<li>{escape(item)}</li>" for item in spec.lists[line])
                html.append(f"<ul>{items}</ul>")
        parsed.append(
            ParsedArticle(
                spec=spec,
                title=title,
                source_lines=tuple(body_lines),
                body_html="\n".join(html),
            )
        )
    return parsed
