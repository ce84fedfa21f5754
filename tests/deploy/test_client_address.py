"""Behind the front proxy the reader's address is theirs (core/client_address.py):
taken from X-Real-IP only on a connection from a front proxy."""

import pytest
from django.http import HttpResponse
from django.test import RequestFactory

from core.client_address import FrontProxyClientAddressMiddleware
from tests.deploy import nginx


def seen_address(remote: str, **headers: str) -> str:
    request = RequestFactory().get("/", REMOTE_ADDR=remote, **headers)
    seen = []

    def view(request):
        seen.append(request.META["REMOTE_ADDR"])
        return HttpResponse()

    FrontProxyClientAddressMiddleware(view)(request)
    return seen[0]


@pytest.fixture
def proxies(settings):
    settings.FRONT_PROXY_ADDRESSES = ["127.0.0.1", "10.0.0.5"]


def test_a_front_proxy_gives_the_readers_address(proxies):
    assert seen_address("127.0.0.1", HTTP_X_REAL_IP="203.0.113.9") == "203.0.113.9"
    assert seen_address("10.0.0.5", HTTP_X_REAL_IP=" 2001:db8::1 ") == "2001:db8::1"


def test_anyone_else_sending_the_header_keeps_their_own_address(proxies):
    assert seen_address("198.51.100.7", HTTP_X_REAL_IP="203.0.113.9") == (
        "198.51.100.7"
    )


def test_no_front_proxy_configured_ignores_the_header(settings):
    settings.FRONT_PROXY_ADDRESSES = []
    assert seen_address("127.0.0.1", HTTP_X_REAL_IP="203.0.113.9") == "127.0.0.1"


def test_a_header_that_is_no_address_is_ignored(proxies):
    assert seen_address("127.0.0.1", HTTP_X_REAL_IP="me, 1.2.3.4") == "127.0.0.1"


def test_the_configuration_overwrites_the_clients_x_real_ip():
    # A client's own X-Real-IP never reaches the site: nginx sets it.
    assert "proxy_set_header X-Real-IP $remote_addr;" in nginx.CONFIG.read_text()
