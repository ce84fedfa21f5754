import pytest
from django.test import override_settings

pytest_plugins = ["tests.browser_fixtures"]


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


@pytest.fixture
def staff(db):
    from tests.factories import make_staff

    return make_staff()


@pytest.fixture
def staff_client(client, staff):
    client.force_login(staff)
    return client
