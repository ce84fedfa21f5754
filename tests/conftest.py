import time

import django_otp
import pytest
from django.http import HttpRequest
from django.test import Client, override_settings
from django_otp.plugins.otp_totp.models import TOTPDevice

from articles.readership import counting
from articles.search import insight
from staff import two_factor

pytest_plugins = ["tests.browser_fixtures"]


def give_second_factor(client: Client, user) -> TOTPDevice:
    """Mark the client's session verified, just now, with a confirmed authenticator
    app of the user's (made if needed), as entering its code would
    (staff/two_factor.py)."""
    device = two_factor.confirmed_device(user) or TOTPDevice.objects.create(
        user=user, name="Test phone", confirmed=True
    )
    request = HttpRequest()
    request.session = client.session
    request.user = user
    django_otp.login(request, device)
    request.session[two_factor.VERIFIED_AT_KEY] = time.time()
    request.session.save()
    return device


class VerifiedClient(Client):
    """force_login signs staff in the whole way, with the second factor given
    too, so admin tests reach the admin."""

    def force_login(self, user, backend=None):
        super().force_login(user, backend)
        # A fresh copy: asking about permissions caches them on the object, and
        # the test may change the user's groups afterwards.
        if two_factor.applies_to(type(user).objects.get(pk=user.pk)):
            give_second_factor(self, user)


@pytest.fixture(scope="session", autouse=True)
def plain_static_storage():
    """Serve static files from the finders: tests don't need collectstatic."""
    storages = {
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    }
    with override_settings(STORAGES=storages):
        yield


@pytest.fixture(autouse=True)
def media_root(settings, tmp_path):
    """Each test writes uploads to its own folder, never to the project's media/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture(autouse=True)
def clear_cache():
    """Rate limits and cached pages live in caches: each test starts with none.
    (Cached pages are keyed by the page version, which a rolled-back test resets.)"""
    from django.core.cache import caches

    for alias in ("default", "pages"):
        caches[alias].clear()
    yield
    for alias in ("default", "pages"):
        caches[alias].clear()


@pytest.fixture(autouse=True)
def immediate_tasks(settings):
    """Tasks run at once, in the test, when enqueued (after the commit they wait for:
    use django_capture_on_commit_callbacks(execute=True)). Tests of the worker
    itself switch back to the database backend."""
    settings.TASKS = {
        "default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}
    }


@pytest.fixture(autouse=True)
def searches_counted_at_once(settings):
    """Each search is written as it is counted (articles/search/insight.py holds
    them in the process otherwise), so no test's searches reach another's."""
    settings.SEARCH_INSIGHT_FLUSH_SECONDS = 0
    insight.discard_buffer()


@pytest.fixture(autouse=True)
def views_counted_at_once(settings):
    """Each readership view is written as it is counted (articles/readership/
    counting.py holds them in the process otherwise), so no test's views reach
    another's."""
    settings.READERSHIP_FLUSH_SECONDS = 0
    counting.discard_buffer()


@pytest.fixture
def database_tasks(settings):
    """Tasks are stored in the database, as in production, for a worker to run."""
    settings.TASKS = {"default": {"BACKEND": "django_tasks_db.DatabaseBackend"}}


@pytest.fixture
def client():
    """Django's test client, signing staff in with their second factor given
    (VerifiedClient). Tests of the second factor itself use unverified_client."""
    return VerifiedClient()


@pytest.fixture
def unverified_client():
    """A test client whose force_login gives the password only, as a browser has
    before the code is entered."""
    return Client()


@pytest.fixture
def staff(db):
    from tests.factories import make_staff

    return make_staff()


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
