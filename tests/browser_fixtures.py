"""Browser fixtures: one Chromium (driven by Playwright) per test session.

Browser tests use Debian's Chromium, never a Playwright download. Without it they
are skipped on a developer's machine and fail in CI (where CI is set), so a CI image
that lost its browser cannot pass by silently skipping them.
"""

import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect

from staff import two_factor

# Playwright's sync API runs an event loop in the test's thread, and Django refuses
# ORM calls from a thread with a running loop unless told this is safe. It is here:
# the loop only drives the browser, and the test code itself is synchronous.
os.environ.setdefault("DJANGO_ALLOW_ASYNC_UNSAFE", "true")

CHROMIUM_DEFAULT_PATH = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
INSTALL_HINT = (
    "Chromium is not installed: browser tests skipped. "
    "Install it with: sudo apt-get install chromium"
)
CI_MISSING = (
    "Chromium is not installed, and browser tests must run in CI. "
    "Install it with: sudo apt-get install chromium"
)
# Generous for a loaded CI machine, bounded so a hung page fails within a minute.
TIMEOUT_MS = 15_000
DESKTOP = {"width": 1280, "height": 900}
PHONE = {"width": 390, "height": 844}

ARTIFACTS_DIR = Path(__file__).resolve().parent.parent / "test-artifacts"


def chromium_path() -> str | None:
    if os.access(CHROMIUM_DEFAULT_PATH, os.X_OK):
        return CHROMIUM_DEFAULT_PATH
    return shutil.which("chromium")


def pytest_terminal_summary(terminalreporter, exitstatus, config) -> None:
    ran_browser_tests = any(
        report.keywords.get("browser")
        for reports in terminalreporter.stats.values()
        for report in reports
        if hasattr(report, "keywords")
    )
    if ran_browser_tests and chromium_path() is None:
        terminalreporter.write_sep("-", "browser tests")
        if os.environ.get("CI"):
            terminalreporter.write_line(CI_MISSING, red=True)
        else:
            terminalreporter.write_line(INSTALL_HINT, yellow=True)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    # Lets the page fixture see whether the test failed, to keep a screenshot.
    report = yield
    if report.when == "call":
        item.browser_test_failed = report.failed
    return report


def current_code(device: TOTPDevice) -> str:
    """The code the device's authenticator app shows now."""
    code = totp(device.bin_key, step=device.step, t0=device.t0, digits=device.digits)
    return f"{code:0{device.digits}d}"


def log_in(page, live_server, user) -> None:
    """Sign in to the admin as a person does: the password form, then, for staff
    (with the second factor on), the code from their authenticator app (a
    confirmed device is made for them if they have none)."""
    needs_code = two_factor.is_required(user)
    device = needs_code and (
        two_factor.confirmed_device(user)
        or TOTPDevice.objects.create(user=user, name="Test phone", confirmed=True)
    )
    page.goto(f"{live_server.url}/admin/login/")
    page.get_by_label("Username").fill(user.username)
    page.get_by_label("Password").fill(user.raw_password)
    page.get_by_role("button", name="Log in").click()
    if needs_code:
        page.get_by_label("6-digit code").fill(current_code(device))
        page.get_by_role("button", name="Verify").click()
    expect(page.locator("#user-tools")).to_contain_text(f"Welcome, {user.username}")


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    """test-artifacts/ at the repository root (gitignored): screenshots."""
    ARTIFACTS_DIR.mkdir(exist_ok=True)
    return ARTIFACTS_DIR


@pytest.fixture(scope="session")
def browser() -> Iterator:
    executable = chromium_path()
    if executable is None:
        if os.environ.get("CI"):
            pytest.fail(CI_MISSING, pytrace=False)
        pytest.skip(INSTALL_HINT)
    from playwright.sync_api import expect, sync_playwright

    expect.set_options(timeout=TIMEOUT_MS)
    playwright = sync_playwright().start()
    try:
        browser = playwright.chromium.launch(
            executable_path=executable, headless=True, args=CHROMIUM_ARGS
        )
        try:
            yield browser
        finally:
            browser.close()
    finally:
        playwright.stop()


@pytest.fixture
def new_context(browser):
    """Factory for extra browser contexts (separate cookies), closed after the test."""
    contexts = []

    def make(**options):
        options.setdefault("viewport", DESKTOP)
        context = browser.new_context(**options)
        context.set_default_timeout(TIMEOUT_MS)
        context.set_default_navigation_timeout(TIMEOUT_MS)
        contexts.append(context)
        return context

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(request, new_context, artifacts_dir):
    """A page in a fresh context: no cookies or storage shared between tests."""
    name = request.node.name.replace("/", "_").replace("[", "-").rstrip("]")
    failure_shot = artifacts_dir / f"failed-{name}.png"
    failure_shot.unlink(missing_ok=True)
    page = new_context().new_page()
    yield page
    if getattr(request.node, "browser_test_failed", False):
        from playwright.sync_api import Error

        with contextlib.suppress(Error):
            page.screenshot(path=failure_shot, full_page=True)
