"""The reader's address behind the front proxy (deploy/nginx/skincare.conf).

The site counts by REMOTE_ADDR alone (the sign-up limit, the sign-in limits).
Behind nginx on the same or another machine, gunicorn's REMOTE_ADDR is nginx's
address for everyone, so every reader would share one budget. nginx sends the
address it was connected from as X-Real-IP, overwriting any the client sent;
this middleware takes it, but only from a connection that comes from one of the
front proxies (DJANGO_FRONT_PROXY_ADDRESSES): from anywhere else the header is
ignored, so nobody can pose as another address by sending it.
"""

import contextlib
import ipaddress
from collections.abc import Callable

from django.conf import settings
from django.http import HttpRequest, HttpResponseBase

HEADER = "HTTP_X_REAL_IP"


class FrontProxyClientAddressMiddleware:
    def __init__(self, get_response: Callable):
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        meta = request.META
        if HEADER in meta and meta.get("REMOTE_ADDR") in settings.FRONT_PROXY_ADDRESSES:
            # Not an address: the proxy's own stays.
            with contextlib.suppress(ValueError):
                meta["REMOTE_ADDR"] = str(ipaddress.ip_address(meta[HEADER].strip()))
        return self.get_response(request)
