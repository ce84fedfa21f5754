from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.views.static import serve

from core.images import ALLOWED_IMAGE_FORMATS, GENERATED_FORMATS, image_extension

SERVED_EXTENSIONS = {*ALLOWED_IMAGE_FORMATS, *GENERATED_FORMATS}
# Python's mimetypes does not know every image type on every system (webp).
CONTENT_TYPES = {"webp": "image/webp", "avif": "image/avif"}


def serve_media(request: HttpRequest, path: str) -> HttpResponse:
    """Serve uploaded images. Only image types leave this view, never as a page.

    For larger sites put a web server or object store in front of MEDIA_ROOT with the
    same headers; this keeps the embedded default self-contained.
    """
    extension = image_extension(path)
    if extension not in SERVED_EXTENSIONS:
        raise Http404("Not an image")
    response = serve(request, path, document_root=settings.MEDIA_ROOT)
    if extension in CONTENT_TYPES:
        response["Content-Type"] = CONTENT_TYPES[extension]
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    # Stored names are random and never reused, so a file never changes.
    response["Cache-Control"] = "public, max-age=31536000, immutable"
    return response
