"""What counts as an acceptable uploaded image, checked before anything is stored.

An upload must pass all of: an allowed extension, a size limit, a pixel budget
(decompression bombs), a full decode by Pillow, and a decoded format that matches
the extension (so a GIF/HTML polyglot named .html or .gif.html is refused).
"""

import io
import math
import secrets
import warnings
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files import File
from django.utils.text import slugify
from PIL import Image, ImageOps

# Extension -> the Pillow format the file must decode as.
ALLOWED_IMAGE_FORMATS = {
    "jpg": "JPEG",
    "jpeg": "JPEG",
    "png": "PNG",
    "gif": "GIF",
    "webp": "WEBP",
}
ALLOWED_EXTENSIONS_TEXT = "JPEG, PNG, GIF or WebP"
# Formats only ever written by us (responsive renditions), never uploaded.
GENERATED_FORMATS = {"avif": "AVIF"}


@dataclass(frozen=True)
class CheckedImage:
    format: str
    width: int
    height: int

    @property
    def extension(self) -> str:
        return {"JPEG": "jpg", "PNG": "png", "GIF": "gif", "WEBP": "webp"}[self.format]


def image_extension(name: str) -> str:
    return PurePosixPath(name or "").suffix.lower().lstrip(".")


def check_image(upload: File) -> CheckedImage:
    """Return what the upload is, or raise ValidationError saying why it is refused."""
    extension = image_extension(upload.name)
    expected_format = ALLOWED_IMAGE_FORMATS.get(extension)
    if expected_format is None:
        raise ValidationError(
            "Only images can be uploaded: %(allowed)s files. '%(name)s' is not one.",
            code="invalid_extension",
            params={"allowed": ALLOWED_EXTENSIONS_TEXT, "name": upload.name},
        )
    if upload.size is not None and upload.size > settings.MAX_IMAGE_UPLOAD_BYTES:
        raise ValidationError(
            "This image is %(size).1f MB; the limit is %(limit)d MB.",
            code="too_large",
            params={
                # Rounded up: rounded down, 10.4 MB would read "10 MB; the limit is
                # 10 MB" and the refusal would make no sense to the editor.
                "size": math.ceil(upload.size * 10 / (1024 * 1024)) / 10,
                "limit": settings.MAX_IMAGE_UPLOAD_BYTES // (1024 * 1024),
            },
        )
    unreadable = ValidationError(
        "This file is not a readable %(format)s image.",
        code="invalid_image",
        params={"format": expected_format},
    )
    upload.seek(0)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(upload) as image:
                width, height = image.size
                detected_format = image.format
                if width * height > settings.MAX_IMAGE_PIXELS:
                    raise ValidationError(
                        "This image is %(width)d x %(height)d pixels; the limit is "
                        "%(limit)d megapixels.",
                        code="too_many_pixels",
                        params={
                            "width": width,
                            "height": height,
                            "limit": settings.MAX_IMAGE_PIXELS // 1_000_000,
                        },
                    )
                # verify() checks structure; load() decodes every pixel, which
                # catches truncated data that verify() lets through.
                image.verify()
            upload.seek(0)
            with Image.open(upload) as image:
                image.load()
    except ValidationError:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        raise ValidationError(
            "This image decodes to too many pixels to be safe.", code="too_many_pixels"
        ) from exc
    except Exception as exc:  # Pillow raises many types for corrupt input.
        raise unreadable from exc
    finally:
        upload.seek(0)
    if detected_format != expected_format:
        raise ValidationError(
            "This file is named .%(extension)s but contains %(detected)s data.",
            code="format_mismatch",
            params={"extension": extension, "detected": detected_format or "unknown"},
        )
    return CheckedImage(format=detected_format, width=width, height=height)


def validate_image_file(value: File) -> None:
    """Model-field validator for image uploads (cover images)."""
    # A file already in storage was checked when it was uploaded.
    if getattr(value, "_committed", False):
        return
    check_image(value)


def random_image_name(original_name: str) -> str:
    """A name nobody can guess or collide with, keeping a readable slug."""
    stem = slugify(PurePosixPath(original_name).stem)[:40] or "image"
    extension = image_extension(original_name)
    return f"{stem}-{secrets.token_hex(6)}.{extension}"


def reencode(upload: File, image_format: str) -> bytes:
    """Decode and encode again: drops metadata and anything appended to the file."""
    upload.seek(0)
    # Pillow copies a GIF or JPEG comment into the new file unless given one, and a
    # comment can carry a script (image/HTML polyglots): give it an empty one.
    with Image.open(upload) as image:
        output = io.BytesIO()
        if image_format == "GIF" and getattr(image, "is_animated", False):
            image.save(output, format="GIF", save_all=True, optimize=True, comment=b"")
        else:
            oriented = ImageOps.exif_transpose(image)
            if image_format == "JPEG" and oriented.mode not in {"RGB", "L"}:
                oriented = oriented.convert("RGB")
            options = {"JPEG": {"quality": 85, "optimize": True, "progressive": True}}
            extra = options.get(image_format, {})
            oriented.save(output, format=image_format, comment=b"", **extra)
    return output.getvalue()
