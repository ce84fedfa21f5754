from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.static import serve

from articles.images import ALLOWED_IMAGE_FORMATS, image_extension


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """Serve uploaded images. Only image types leave this view, never as a page.

    For larger sites put a web server or object store in front of MEDIA_ROOT with the
    same headers; this keeps the embedded default self-contained.
    """
    if image_extension(path) not in ALLOWED_IMAGE_FORMATS:
        raise Http404("Not an image")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Stored names are random and never reused, so a file never changes.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
