"""Where article covers and author photos are stored (random names, see core.images)."""

from django.utils import timezone

from core.images import random_image_name


def upload_to_cover(instance: object, filename: str) -> str:
    return f"covers/{timezone.now():%Y/%m}/{random_image_name(filename)}"


def upload_to_author(instance: object, filename: str) -> str:
    return f"authors/{random_image_name(filename)}"
