"""What makes reading trustworthy: reading time, sources' links, related articles."""

import math
import re
from urllib.parse import quote, urlsplit

from django.db.models import Case, F, IntegerField, Q, Value, When

from articles.models import Article, ArticleQuerySet
from articles.publishing.body import plain_text

WORDS_PER_MINUTE = 200
RELATED_COUNT = 3
# Enough words to find related articles, few enough to keep the query small.
MAX_TERMS = 12
WORD = re.compile(r"\w+")
STOPWORDS = frozenset({
    "about", "above", "after", "again", "against", "also", "among", "because",
    "been", "before", "being", "below", "between", "both", "could", "does", "doing",
    "during", "each", "from", "further", "have", "having", "here", "into", "itself",
    "just", "more", "most", "much", "only", "other", "over", "same", "should",
    "some", "such", "than", "that", "their", "them", "then", "there", "these",
    "they", "this", "those", "through", "under", "until", "very", "what", "when",
    "where", "which", "while", "with", "without", "would", "your", "yours", "skin",
    "care",
})  # fmt: skip


def reading_minutes(html: str) -> int:
    """Minutes to read the body at about 200 words a minute, at least 1."""
    words = len(plain_text(html).split())
    return max(1, math.floor(words / WORDS_PER_MINUTE + 0.5))


def significant_words(text: str) -> list[str]:
    """Distinct words of 4+ letters that are not filler, in order of appearance."""
    words: list[str] = []
    for word in WORD.findall(text.lower()):
        significant = len(word) >= 4 and not word.isdigit() and word not in STOPWORDS
        if significant and word not in words:
            words.append(word)
    return words


def related_terms(title: str, summary: str) -> list[str]:
    """The words an article's related articles share with it."""
    return significant_words(f"{title} {summary}")[:MAX_TERMS]


def related_articles(
    article: Article,
    *,
    count: int = RELATED_COUNT,
    among: ArticleQuerySet | None = None,
) -> list[Article]:
    """Articles to read next, in one query: the same topic first (newest first),
    then those sharing the most significant words in title and summary. `among`:
    the articles to choose from, the live ones unless given."""
    terms = related_terms(article.title, article.summary)
    shared = sum(
        (
            Case(
                When(Q(title__icontains=t) | Q(summary__icontains=t), then=Value(1)),
                default=Value(0),
                output_field=IntegerField(),
            )
            for t in terms
        ),
        Value(0, output_field=IntegerField()),
    )
    same_topic = Case(
        When(topic_id=article.topic_id, then=Value(1)),
        default=Value(0),
        output_field=IntegerField(),
    )
    candidates = (
        (Article.objects.published() if among is None else among)
        .for_listing()
        .exclude(pk=article.pk)
        .annotate(same_topic=same_topic, shared=shared)
        .filter(Q(same_topic=1) | Q(shared__gt=0))
        .annotate(
            term_rank=Case(
                When(same_topic=1, then=Value(0)),
                default=F("shared"),
                output_field=IntegerField(),
            )
        )
        .order_by("-same_topic", "-term_rank", "-published_at", "-pk")
    )
    return list(candidates[:count])


def web_url(url: str) -> str:
    """The URL when it is an http(s) address, else empty (never a script link)."""
    return url if urlsplit(url or "").scheme in {"http", "https"} else ""


def doi_url(doi: str) -> str:
    """https://doi.org/<doi>, also from a DOI given as a link or 'doi:...'."""
    doi = (doi or "").strip()
    doi = re.sub(r"^(https?://(dx\.)?doi\.org/|doi:\s*)", "", doi, flags=re.I)
    return f"https://doi.org/{quote(doi, safe='/:;()._-')}" if doi else ""


def pubmed_url(pmid: str) -> str:
    pmid = (pmid or "").strip()
    return f"https://pubmed.ncbi.nlm.nih.gov/{pmid}/" if pmid.isdigit() else ""
