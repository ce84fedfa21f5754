"""The site in production posture: DEBUG off, collectstatic, WhiteNoise."""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]

PROBE = """
import json, re
from django.test import Client
client = Client()
home = client.get("/")
css_url = re.search(r'<link rel="stylesheet" href="([^"]+)"', home.text)[1]
css = client.get(css_url, headers={"accept-encoding": "gzip"})
missing = client.get("/no-such-page/")
cached = client.get("/")
policies = {
    name: [r.get("Permissions-Policy"), r.get("Cross-Origin-Resource-Policy")]
    for name, r in (("home", home), ("cached", cached), ("css", css), ("404", missing))
}
print(json.dumps({
    "policies": policies,
    "home": home.status_code,
    "css_url": css_url,
    "css": css.status_code,
    "css_encoding": css.get("Content-Encoding"),
    "css_cache": css.get("Cache-Control"),
    "missing": missing.status_code,
    "missing_designed": "We couldn't find that page" in missing.text,
    "csp": home.get("Content-Security-Policy"),
}))
"""


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("production")
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SECRET_KEY="production-posture-test-key",
        DJANGO_DEFAULT_FROM_EMAIL="Skincare <news@skincare.example.com>",
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        SQLITE_PATH=str(tmp / "db.sqlite3"),
    )

    def manage(*args: str) -> str:
        result = subprocess.run(
            [sys.executable, "manage.py", *args],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            timeout=180,
        )
        assert result.returncode == 0, result.stderr
        return result.stdout

    manage("migrate", "--no-input", "-v0")
    manage("collectstatic", "--no-input", "-v0")
    return json.loads(manage("shell", "--no-imports", "-c", PROBE).splitlines()[-1])


def test_pages_render_with_debug_off(production):
    assert production["home"] == 200
    assert "unsafe-inline" not in production["csp"]


def test_static_files_are_hashed_compressed_and_cached_forever(production):
    assert production["css_url"].startswith("/static/css/site.")
    assert production["css_url"] != "/static/css/site.css"
    assert production["css"] == 200
    assert production["css_encoding"] == "gzip"
    assert "immutable" in production["css_cache"]


def test_404_uses_the_site_design_in_production(production):
    assert production["missing"] == 404
    assert production["missing_designed"]


def test_every_response_turns_off_unused_features_and_keeps_resources_same_origin(
    production,
):
    """Pages, a page served again from the cache, static files and error pages."""
    for name, (permissions, resources) in production["policies"].items():
        assert "camera=()" in permissions, name
        assert "microphone=()" in permissions, name
        assert "geolocation=()" in permissions, name
        assert "publickey-credentials" not in permissions, name
        assert resources == "same-origin", name
