#!/usr/bin/env bash
# Measures how long a new user waits: fresh clone -> `make run` -> first page served.
# Usage: bench/first_page.sh [PORT]   (run from a checkout; clones its HEAD to a temp dir)
set -euo pipefail
port="${1:-8765}"
src="$(cd "$(dirname "$0")/.." && pwd)"
work="$(mktemp -d)"
trap 'kill -- -$pid 2>/dev/null || true; rm -rf "$work"' EXIT

git clone --quiet "$src" "$work/skincare"
cd "$work/skincare"
start=$(date +%s.%N)
set -m
make run PORT="$port" >"$work/run.log" 2>&1 &
pid=$!
set +m
for _ in $(seq 1 600); do
  if curl -fs -o /dev/null "http://127.0.0.1:$port/"; then
    end=$(date +%s.%N)
    articles=$(curl -fs "http://127.0.0.1:$port/articles/" | grep -c 'class="card"' || true)
    printf 'first page after %.1f s; /articles/ lists %s articles\n' \
      "$(python3 -c "print($end - $start)")" "$articles"
    exit 0
  fi
  sleep 0.5
done
echo "no page after 300 s; log:" >&2
tail -20 "$work/run.log" >&2
exit 1
