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
logo = client.get("/static/img/logo.png")
policies = {
    name: [r.get("Permissions-Policy"), r.get("Cross-Origin-Resource-Policy")]
    for name, r in (("home", home), ("cached", cached), ("css", css), ("404", missing))
}
print(json.dumps({
    "policies": policies,
    "plain_logo": logo.status_code,
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


def production_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("DJANGO_")}
    env.pop("DATABASE_URL", None)
    env.update(
        DJANGO_SECRET_KEY="production-posture-test-key",
        DJANGO_DEFAULT_FROM_EMAIL="Skincare <news@skincare.example.com>",
        DJANGO_ALLOWED_HOSTS="testserver",
        DJANGO_STATIC_ROOT=str(tmp / "static"),
        SQLITE_PATH=str(tmp / "db.sqlite3"),
    )
    return env


def manage(env: dict[str, str], *args: str) -> str:
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


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    env = production_env(tmp_path_factory.mktemp("production"))
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "collectstatic", "--no-input", "-v0")
    return json.loads(
        manage(env, "shell", "--no-imports", "-c", PROBE).splitlines()[-1]
    )


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


def test_launch_content_loads_and_is_prepared_before_collectstatic(tmp_path):
    """Pages name their share image and logo at plain static addresses, which need
    no manifest: a fresh deploy may load content first (bench/lighthouse.sh does)."""
    env = production_env(tmp_path)
    manage(env, "migrate", "--no-input", "-v0")
    manage(env, "load_launch_content")
    out = manage(env, "prepare_articles", "--dry-run")
    assert out.startswith("Would prepare 0 of ")


def test_the_plain_static_addresses_pages_name_are_served(production):
    assert production["plain_logo"] == 200
