"""The endpoint static/js/readership.js posts one beacon to per page view.

A beacon is a tiny JSON object: {"article": <id>, "referrer_host": "<host or
empty>", "newsletter": <bool>}. It carries no cookie (the script sends none and
this view sets none) and nothing from it but the article and the category is
kept. It needs no CSRF token, since there is nothing to forge on anyone's
behalf, but it must come from one of our own pages: a POST from another site
(Origin, Sec-Fetch-Site) is refused, so no other page can make its visitors'
browsers inflate the counts.

Answers: 204 counted or ignored (a robot, an article that is not live), 429 over
the flood limit, 403 from another origin, 400/413/415 for a malformed beacon.
Every answer is 204-sized and never cached.
"""

import json
from urllib.parse import urlsplit

from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

from articles.readership import bots, counting, referrers

MAX_BODY_BYTES = 512
OWN_FETCH_SITE = "same-origin"


def _answer(status: int) -> HttpResponse:
    response = HttpResponse(status=status)
    response["Cache-Control"] = "no-store"
    return response


def is_same_origin(request: HttpRequest) -> bool:
    """Origin (every browser sends it on a POST from a script) must be this
    site's, and Sec-Fetch-Site, when sent, must say so too."""
    origin = request.headers.get("Origin", "").strip().lower()
    own = f"{request.scheme}://{request.get_host()}".lower()
    trusted = {o.lower() for o in settings.CSRF_TRUSTED_ORIGINS}
    if origin != own and origin not in trusted:
        return False
    fetch_site = request.headers.get("Sec-Fetch-Site")
    return fetch_site is None or fetch_site.strip().lower() == OWN_FETCH_SITE


def _read(request: HttpRequest) -> dict | None:
    try:
        data = json.loads(request.body)
    except (ValueError, UnicodeDecodeError):
        return None
    if not isinstance(data, dict):
        return None
    article, host = data.get("article"), data.get("referrer_host", "")
    # type() rather than isinstance(): True is an int.
    if type(article) is not int or article <= 0 or not isinstance(host, str):
        return None
    if len(host) > referrers.MAX_HOST_LENGTH:
        return None
    return {
        "article": article,
        "referrer_host": host,
        "newsletter": data.get("newsletter") is True,
    }


@csrf_exempt
@require_POST
def beacon_view(request: HttpRequest) -> HttpResponse:
    if not is_same_origin(request):
        return _answer(403)
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = MAX_BODY_BYTES + 1
    if length > MAX_BODY_BYTES:
        return _answer(413)
    content_type = request.META.get("CONTENT_TYPE", "").split(";")[0].strip()
    if content_type != "application/json":
        return _answer(415)
    beacon = _read(request)
    if beacon is None:
        return _answer(400)
    if not settings.READERSHIP_COUNTING or bots.is_bot(
        request.headers.get("User-Agent", "")
    ):
        return _answer(204)
    if not counting.within_limits(article_id=beacon["article"]):
        return _answer(429)
    source = referrers.category(
        referrer_host=beacon["referrer_host"],
        own_host=urlsplit(f"//{request.get_host()}").hostname or "",
        newsletter=beacon["newsletter"],
    )
    counting.count_view(article_id=beacon["article"], source=source)
    return _answer(204)
