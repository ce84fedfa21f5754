# Two commands for a new user: `make run` and `make test`. See README.md and docs/development.md.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000
# Development values for `make run` only; production reads the real environment.
DEV_ENV := DJANGO_DEBUG=1
# Links in emails point at the running site.
RUN_ENV = $(DEV_ENV) SITE_URL=http://$(HOST):$(PORT)
# Tests run in production posture (DEBUG off) with a throwaway key and a sender on a
# real domain (production posture refuses news@localhost; no mail leaves the tests).
TEST_FROM := news@example.com
TEST_ENV := DJANGO_SECRET_KEY=test-only-secret-key DJANGO_ALLOW_ASYNC_UNSAFE=true \
  DJANGO_DEFAULT_FROM_EMAIL=$(TEST_FROM)

.PHONY: run serve install migrate content demo test lint format check-deploy clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "Python 3.11 or newer is needed (found: $$($(PYTHON) --version))."; exit 1; }
	@$(PYTHON) -m venv $(VENV) || \
	  { echo "Could not create a virtualenv. On Debian/Ubuntu: sudo apt-get install python3-venv"; exit 1; }

$(VENV)/.installed: requirements.txt | $(BIN)/python
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -r requirements.txt
	@touch $@

install: $(VENV)/.installed

migrate: install
	$(DEV_ENV) $(BIN)/python manage.py migrate --no-input

content: migrate
	$(DEV_ENV) $(BIN)/python manage.py load_launch_content
	$(DEV_ENV) $(BIN)/python manage.py prepare_articles
	$(DEV_ENV) $(BIN)/python manage.py schedule_review_reminders
	$(DEV_ENV) $(BIN)/python manage.py forget_old_searches
	$(DEV_ENV) $(BIN)/python manage.py check_sources
	$(DEV_ENV) $(BIN)/python manage.py apply_retention

# One account per role with a printed one-time password, to try the admin out
# (development only; run it again for new passwords). Then `make run`.
demo: content
	$(DEV_ENV) $(BIN)/python manage.py demo_staff

# The site and one background worker (emails, newsletter sends); Ctrl-C stops both.
run: content
	@echo "Skincare is starting on http://$(HOST):$(PORT)/  (admin: http://$(HOST):$(PORT)/admin/)"
	@echo "Emails are written to sent-emails/ (set EMAIL_HOST to send them over SMTP)."
	@$(RUN_ENV) $(BIN)/python manage.py db_worker & worker=$$!; \
	trap 'kill $$worker 2>/dev/null' EXIT INT TERM; \
	$(RUN_ENV) $(BIN)/python manage.py runserver $(HOST):$(PORT)

PAGE_QUALITY := tests/page_quality
$(PAGE_QUALITY)/node_modules/.installed: $(PAGE_QUALITY)/package-lock.json
	@if command -v npm >/dev/null 2>&1; then \
	  (cd $(PAGE_QUALITY) && npm ci --no-audit --no-fund --loglevel=error) && touch $@; \
	else echo "npm is not installed: accessibility and HTML validity checks will be skipped. Install it with: sudo apt-get install nodejs npm"; fi

test: install $(PAGE_QUALITY)/node_modules/.installed
	@command -v chromium >/dev/null 2>&1 || test -x /usr/bin/chromium || \
	  echo "Chromium is not installed: browser tests will be skipped. Install it with: sudo apt-get install chromium"
	@command -v java >/dev/null 2>&1 || \
	  echo "Java is not installed: the HTML validity test will be skipped. Install it with: sudo apt-get install default-jre-headless"
	@command -v spamassassin >/dev/null 2>&1 || \
	  echo "SpamAssassin is not installed: the spam score tests will be skipped. Install it with: sudo apt-get install spamassassin"
	$(TEST_ENV) $(BIN)/python -m pytest $(PYTEST_ARGS)

lint: install
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

# Shows what `manage.py check --deploy` says with production values.
check-deploy: install
	DJANGO_SECRET_KEY=$$($(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(50))') \
	DJANGO_ALLOWED_HOSTS=example.com DJANGO_HTTPS=1 DJANGO_DEFAULT_FROM_EMAIL=$(TEST_FROM) \
	$(BIN)/python manage.py check --deploy --fail-level WARNING

clean:
	rm -rf $(VENV) staticfiles test-artifacts sent-emails $(PAGE_QUALITY)/node_modules .pytest_cache .ruff_cache
