"""Storing an image uploaded from the editor."""

import io
from pathlib import PurePosixPath

from django.conf import settings
from django.contrib.auth.models import AbstractBaseUser
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.core.files.uploadedfile import UploadedFile
from django.utils import timezone
from PIL import Image

from core.editor.signals import image_stored
from core.images import check_image, random_image_name, reencode
from core.media import media_url


def store_editor_image(*, upload: UploadedFile, user: AbstractBaseUser) -> str:
    """Check and store an image uploaded from the editor; return its media URL.

    Raises ValidationError, storing nothing, when the upload is not an acceptable
    image. Files go to a per-user folder (CKEDITOR_RESTRICT_BY_USER) under a random
    name, re-encoded by Pillow, with a small thumbnail for the editor's browser.
    The URL is the site's own (core/media.py), the one article bodies keep.
    """
    checked = check_image(upload)
    name = random_image_name(PurePosixPath(upload.name).stem + "." + checked.extension)
    folder = f"{settings.CKEDITOR_UPLOAD_PATH.rstrip('/')}/{user.pk}"
    encoded = reencode(upload, checked.format)
    path = default_storage.save(
        f"{folder}/{timezone.now():%Y/%m/%d}/{name}", ContentFile(encoded)
    )
    # From the bytes in hand: with object storage, reading back is a download.
    with Image.open(io.BytesIO(encoded)) as image:
        image.thumbnail((150, 150))
        if checked.format == "JPEG" and image.mode not in {"RGB", "L"}:
            image = image.convert("RGB")
        thumb = io.BytesIO()
        image.save(thumb, format=checked.format)
    stem = PurePosixPath(path)
    default_storage.save(
        str(stem.with_name(f"{stem.stem}_thumb{stem.suffix}")),
        ContentFile(thumb.getvalue()),
    )
    image_stored.send(sender=store_editor_image, name=path)
    return media_url(path)
