"""Uploaded media in an S3-compatible bucket (MEDIA_STORAGE=s3, see settings).

Imported only when configured: django-storages brings in boto3.
"""

import re

from storages.backends.s3 import S3Storage

from core.images import image_extension
from core.media import CONTENT_TYPES, IMMUTABLE

# Names whose address is the storage's prefix plus the name as it is: no character
# that needs quoting, no "." or ".." segment, no empty one. Every name we make
# (random_image_name, renditions) is one.
_SEGMENT = r"[A-Za-z0-9_-][A-Za-z0-9._-]*"
PLAIN_NAME = re.compile(rf"(?:{_SEGMENT}/)*{_SEGMENT}")
_PROBE = "probe.png"


class MediaS3Storage(S3Storage):
    """django-storages' S3 storage, with each object's image type and caching set,
    and public (unsigned) addresses made without boto3 for every file on a page."""

    def get_object_parameters(self, name: str) -> dict:
        params = super().get_object_parameters(name)
        params.setdefault("CacheControl", IMMUTABLE)
        content_type = CONTENT_TYPES.get(image_extension(name))
        if content_type:
            params.setdefault("ContentType", content_type)
        return params

    def url(self, name, parameters=None, expire=None, http_method=None) -> str:
        # boto3 takes about 0.1 ms per address and a page of cards has hundreds
        # (every width and format of every image): an unsigned address is the
        # same prefix each time, so boto3 makes it once.
        if (
            self.querystring_auth
            or self.custom_domain
            or parameters
            or expire
            or http_method
            or not PLAIN_NAME.fullmatch(name or "")
        ):
            return super().url(name, parameters, expire, http_method)
        prefix = getattr(self, "_url_prefix", None)
        if prefix is None:
            probe = super().url(_PROBE)
            if not probe.endswith("/" + _PROBE):
                return super().url(name)
            prefix = self._url_prefix = probe[: -len(_PROBE)]
        return prefix + name
