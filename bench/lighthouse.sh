#!/usr/bin/env bash
# Lighthouse (mobile settings) on a launch article, served in production posture:
# gunicorn, DEBUG off, WhiteNoise's compressed static files. Prints the four scores
# and the page weight without images. Usage: bench/lighthouse.sh [PORT]
set -euo pipefail
cd "$(dirname "$0")/.."
port="${1:-8766}"
work="$(mktemp -d)"
server=""
trap 'kill "$server" 2>/dev/null || true; rm -rf "$work"' EXIT

(cd tests/page_quality && npm ci --no-audit --no-fund --loglevel=error >/dev/null)
export DJANGO_SECRET_KEY=lighthouse-only-key DJANGO_ALLOWED_HOSTS=127.0.0.1 \
  DJANGO_DEFAULT_FROM_EMAIL=news@example.com \
  SQLITE_PATH="$work/db.sqlite3" DJANGO_STATIC_ROOT="$work/static" \
  DJANGO_MEDIA_ROOT="$work/media" SITE_URL="http://127.0.0.1:$port"
unset DATABASE_URL
.venv/bin/python manage.py migrate -v0
.venv/bin/python manage.py load_launch_content >/dev/null
.venv/bin/python manage.py collectstatic --no-input -v0
.venv/bin/gunicorn skincare.wsgi --bind "127.0.0.1:$port" --workers 2 --log-level warning &
server=$!
for _ in $(seq 1 50); do curl -fs -o /dev/null "http://127.0.0.1:$port/" && break; sleep 0.2; done

url="http://127.0.0.1:$port/articles/microneedling-benefits-keratosis-pilaris/"
CHROME_PATH=/usr/bin/chromium tests/page_quality/node_modules/.bin/lighthouse "$url" \
  --quiet --output=json --output-path="$work/report.json" \
  --chrome-flags="--headless=new --no-sandbox --disable-gpu --disable-background-networking --disable-component-update --disable-sync --no-first-run"
.venv/bin/python - "$work/report.json" <<'PY'
import json, sys
report = json.load(open(sys.argv[1]))
for key, category in report["categories"].items():
    print(f"{category['title']:<16} {round(category['score'] * 100)}")
items = report["audits"]["network-requests"]["details"]["items"]
no_images = sum(i.get("transferSize", 0) for i in items if i.get("resourceType") != "Image")
print(f"transferred without images: {no_images / 1024:.1f} KB in {len(items)} requests")
failed = [
    (a["id"], a["title"]) for a in report["audits"].values()
    if a.get("score") is not None and a["score"] < 1 and a.get("scoreDisplayMode") == "binary"
]
for audit_id, title in failed:
    print(f"  not passed: {audit_id}: {title}")
PY
