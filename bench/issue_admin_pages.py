"""Time the issue admin pages (list, a sent issue's page, its progress) on an
existing database, with the code of the checkout it runs from: median and max of
5 after a warm-up, and the queries of one request.

Usage, from the checkout, on a database loaded by bench/deliveries_ten_years.sql:
  DATABASE_URL=postgres://postgres@127.0.0.1:5432/<db> \
      .venv/bin/python bench/issue_admin_pages.py
"""

import os
import statistics
import sys
import time

sys.path.insert(0, os.getcwd())
sys.path.insert(0, os.path.join(os.getcwd(), "bench"))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "skincare.settings")
import django

django.setup()
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext, setup_test_environment  # noqa: E402

setup_test_environment()
from django.test import override_settings  # noqa: E402

override_settings(
    STORAGES={
        "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
        "staticfiles": {
            "BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"
        },
    },
    DEBUG=False,
).enable()
from common import report  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402

from newsletter.models import Issue  # noqa: E402
from tests.conftest import give_second_factor  # noqa: E402

User = get_user_model()
user = User.objects.filter(username="deliveries-bench").first()
if user is None:
    user = User.objects.create_superuser("deliveries-bench", "b@example.com", "x-" * 20)
client = Client()
client.force_login(user)
give_second_factor(client, user)
small = Issue.objects.order_by("pk").values_list("pk", flat=True)[250]
big = Issue.objects.order_by("-pk").values_list("pk", flat=True)[0]
pages = {
    "issue changelist": "/admin/newsletter/issue/",
    "issue changelist sorted by Sent": "/admin/newsletter/issue/?o=7",
    "sent issue page (20k deliveries)": f"/admin/newsletter/issue/{small}/change/",
    "sent issue page (850k deliveries)": f"/admin/newsletter/issue/{big}/change/",
    "progress.json (850k)": f"/admin/newsletter/issue/{big}/progress.json",
}
report(f"{'page':40} {'median ms':>10} {'max ms':>8} {'queries':>8}")
for name, url in pages.items():
    response = client.get(url)
    assert response.status_code == 200, (url, response.status_code)
    times = []
    for _ in range(5):
        with CaptureQueriesContext(connection) as queries:
            started = time.perf_counter()
            client.get(url)
            times.append((time.perf_counter() - started) * 1000)
    median = statistics.median(times)
    report(f"{name:40} {median:10.1f} {max(times):8.1f} {len(queries):8}")
