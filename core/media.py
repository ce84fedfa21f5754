"""Uploaded media: its addresses, and the /media/ view.

Every read and write goes through Django's storage API (default_storage), so the
files can live on local disk (the embedded default) or in object storage
(MEDIA_STORAGE=s3, core/s3.py). A stored file has two addresses:

- media_url(name): the site's own, MEDIA_URL + name. Article bodies keep this one
  (core/sanitize.py), so moving media to a bucket or a CDN never rewrites stored
  HTML, and links in emails already sent keep working.
- stored_url(name): where browsers fetch it. The same as media_url on local disk;
  the bucket's or CDN's address with object storage. Pages use this one.
"""

from urllib.parse import unquote, urlsplit

from django.conf import settings
from django.core.exceptions import SuspiciousFileOperation
from django.core.files.storage import default_storage
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseNotModified,
    HttpResponseRedirect,
)
from django.utils.encoding import filepath_to_uri
from django.utils.http import http_date
from django.views.static import was_modified_since

from core.held_uploads import HELD_FOLDER
from core.images import ALLOWED_IMAGE_FORMATS, GENERATED_FORMATS, image_extension

SERVED_EXTENSIONS = {*ALLOWED_IMAGE_FORMATS, *GENERATED_FORMATS}
# Python's mimetypes does not know every image type on every system (webp).
CONTENT_TYPES = {"webp": "image/webp", "avif": "image/avif"}
# Stored names are random and never reused, so a file never changes.
IMMUTABLE = "public, max-age=31536000, immutable"
# Any name does: only the address the storage gives it is looked at.
_PROBE = "probe.png"


def media_url(name: str) -> str:
    """The site's own address of a stored file (what article bodies keep)."""
    return settings.MEDIA_URL + filepath_to_uri(name)


def stored_url(name: str) -> str:
    """Where browsers fetch a stored file: this site, a bucket or a CDN."""
    return default_storage.url(name)


def served_elsewhere() -> bool:
    """Whether browsers fetch media from object storage or a CDN, not this site."""
    return stored_url(_PROBE) != media_url(_PROBE)


def media_origin() -> str | None:
    """The origin media is fetched from when it is not this site (object storage,
    a CDN), for the Content Security Policy; None on local disk."""
    parts = urlsplit(stored_url(_PROBE))
    if not parts.netloc:
        return None
    return f"{parts.scheme}://{parts.netloc}" if parts.scheme else parts.netloc


def _storage_path(url: str) -> str | None:
    """The quoted name in one of the storage's own absolute addresses, or None."""
    base = stored_url(_PROBE)
    if not base.endswith("/" + _PROBE):
        return None  # Signed or otherwise per-file addresses: never recognised.
    prefix = urlsplit(base[: -len(_PROBE)])
    parts = urlsplit(url)
    if (
        not prefix.netloc
        or parts.scheme.lower() != prefix.scheme.lower()
        or parts.netloc.lower() != prefix.netloc.lower()
        or not parts.path.startswith(prefix.path)
    ):
        return None
    return parts.path[len(prefix.path) :]


def _is_safe_name(name: str) -> bool:
    # Browsers also read %2e as a dot: "/media/%2e%2e/admin/" leaves /media/.
    return bool(name) and ".." not in name and "\\" not in name and name[0] != "/"


def media_name(url: str) -> str | None:
    """The storage name of one of our files from its address, or None.

    Takes the site's own address (/media/...) and the storage's (a bucket's or
    CDN's, as the editor's file browser gives it); anything else is not ours.
    """
    if "\\" in url:  # Browsers read it as "/" in the path.
        return None
    parts = urlsplit(url)
    if not parts.scheme and not parts.netloc:
        if not parts.path.startswith(settings.MEDIA_URL):
            return None
        quoted = parts.path[len(settings.MEDIA_URL) :]
    else:
        quoted = _storage_path(url)
        if quoted is None:
            return None
    name = unquote(quoted)
    return name if _is_safe_name(name) else None


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """Serve uploaded images. Only image types leave this view, never as a page.

    On local disk the file is streamed from storage. With object storage the files
    are the bucket's (or CDN's) to serve: this address, which article bodies and
    emails use, redirects there.
    """
    if image_extension(path) not in SERVED_EXTENSIONS or not _is_safe_name(path):
        raise Http404("Not an image")
    if path.startswith(f"{HELD_FOLDER}/"):
        # Held for one user's form (core/held_uploads.py), shown to them only.
        raise Http404("Not an image")
    if served_elsewhere():
        response = HttpResponseRedirect(stored_url(path))
        # A day, not for ever: the bucket's or CDN's address may change one day.
        response["Cache-Control"] = "public, max-age=86400"
        return response
    try:
        modified = default_storage.get_modified_time(path).timestamp()
        if not was_modified_since(request.META.get("HTTP_IF_MODIFIED_SINCE"), modified):
            return HttpResponseNotModified()
        response = FileResponse(default_storage.open(path))
    except (OSError, SuspiciousFileOperation) as exc:
        raise Http404("No such image") from exc
    extension = image_extension(path)
    if extension in CONTENT_TYPES:
        response["Content-Type"] = CONTENT_TYPES[extension]
    response["Last-Modified"] = http_date(modified)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = IMMUTABLE
    return response
