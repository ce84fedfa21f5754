"""What makes reading trustworthy: reading time, sources' links, related articles."""

import math
import re
from urllib.parse import quote, urlsplit

from django.db.models import Case, IntegerField, Q, Value, When

from articles.models import Article, ArticleQuerySet
from articles.publishing.body import plain_text

WORDS_PER_MINUTE = 200
RELATED_COUNT = 3
# Enough words to find related articles, few enough to keep the query small.
MAX_TERMS = 12
# The newest articles the shared-words ranking reads: a bounded walk of the
# publish-time index, so ranking costs the same at 20,000 articles as at 2,000.
RELATED_WINDOW = 2000
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
    """Articles to read next: the same topic first, newest first; then, to fill
    the list, those among the newest RELATED_WINDOW of other topics sharing the
    most significant words in title and summary. `among`: the articles to choose
    from, the live ones unless given. Two queries at most, each a bounded walk
    of an index (topic and publish time; publish time), whatever the archive's
    size: run when an article is prepared and by the daily refresh, never by a
    page (articles/publishing/prepared.py)."""
    pool = Article.objects.published() if among is None else among
    chosen = list(
        pool.for_listing()
        .filter(topic_id=article.topic_id)
        .exclude(pk=article.pk)
        .order_by("-published_at", "-pk")[:count]
    )
    terms = related_terms(article.title, article.summary)
    if len(chosen) >= count or not terms:
        return chosen
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
    newest = (
        pool.exclude(topic_id=article.topic_id)
        .exclude(pk=article.pk)
        .order_by("-published_at", "-pk")
        .values("pk")[:RELATED_WINDOW]
    )
    sharing = (
        pool.for_listing()
        .filter(pk__in=newest)
        .annotate(shared=shared)
        .filter(shared__gt=0)
        .order_by("-shared", "-published_at", "-pk")
    )
    return chosen + list(sharing[: count - len(chosen)])


def related_ids_for(
    articles: list[Article], *, count: int, among: ArticleQuerySet
) -> dict[int, list[int]]:
    """related_articles of many articles at once, as ids: one query per topic
    among them (its newest count + 1: each article's list is those but itself),
    and related_articles itself for those whose topic has too few."""
    newest = {
        topic_id: list(
            among.filter(topic_id=topic_id)
            .order_by("-published_at", "-pk")
            .values_list("pk", flat=True)[: count + 1]
        )
        for topic_id in {article.topic_id for article in articles}
    }
    found = {}
    for article in articles:
        ids = [pk for pk in newest[article.topic_id] if pk != article.pk][:count]
        if len(ids) < count:
            ids = [a.pk for a in related_articles(article, count=count, among=among)]
        found[article.pk] = ids
    return found


def latest_in_topic(article: Article) -> list[Article]:
    """The newest live articles of the article's topic: what a page without a
    stored related list shows, read through the topic and publish-time index."""
    return list(
        Article.objects.published()
        .for_listing()
        .filter(topic_id=article.topic_id)
        .exclude(pk=article.pk)
        .order_by("-published_at", "-pk")[:RELATED_COUNT]
    )


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
