"""A referrer's host as a category (search engine, social network, this site, other
site); the host itself is used for this and dropped."""

from articles.models import ReadershipSource

# Registrable names, matched against the host and each of its parent domains:
# "www.google.co.uk" matches "google.co.uk"; the country domains are listed because
# "google" alone would also match someone's "google.example.com".
SEARCH_ENGINES = frozenset(
    {
        "google.com",
        "google.co.uk",
        "google.ca",
        "google.com.au",
        "google.de",
        "google.fr",
        "google.es",
        "google.it",
        "google.nl",
        "google.ie",
        "google.co.in",
        "google.co.nz",
        "bing.com",
        "duckduckgo.com",
        "search.yahoo.com",
        "yahoo.com",
        "ecosia.org",
        "search.brave.com",
        "yandex.ru",
        "yandex.com",
        "baidu.com",
        "qwant.com",
        "startpage.com",
        "kagi.com",
        "naver.com",
        "seznam.cz",
        "perplexity.ai",
        "chatgpt.com",
    }
)
SOCIAL_NETWORKS = frozenset(
    {
        "facebook.com",
        "fb.com",
        "messenger.com",
        "instagram.com",
        "t.co",
        "twitter.com",
        "x.com",
        "linkedin.com",
        "lnkd.in",
        "reddit.com",
        "pinterest.com",
        "tiktok.com",
        "youtube.com",
        "threads.net",
        "bsky.app",
        "mastodon.social",
        "news.ycombinator.com",
        "whatsapp.com",
        "telegram.org",
        "t.me",
        "quora.com",
        "tumblr.com",
        "snapchat.com",
    }
)
MAX_HOST_LENGTH = 253


def _names(host: str) -> list[str]:
    """The host and each domain it is under: a.b.c -> a.b.c, b.c, c."""
    parts = host.split(".")
    return [".".join(parts[index:]) for index in range(len(parts))]


def category(*, referrer_host: str, own_host: str, newsletter: bool) -> str:
    """The ReadershipSource of one page view. A view the newsletter's click link
    marked counts as the newsletter whatever the referrer (webmail sends one);
    no referrer is direct (typed, bookmarked, an app, or a referrer policy that
    sends none)."""
    if newsletter:
        return ReadershipSource.NEWSLETTER
    host = referrer_host.strip().lower().rstrip(".")
    if not host:
        return ReadershipSource.DIRECT
    names = _names(host)
    if host == own_host.lower() or own_host.lower() in names:
        return ReadershipSource.INTERNAL
    if SEARCH_ENGINES.intersection(names):
        return ReadershipSource.SEARCH
    if SOCIAL_NETWORKS.intersection(names):
        return ReadershipSource.SOCIAL
    return ReadershipSource.OTHER_SITE
