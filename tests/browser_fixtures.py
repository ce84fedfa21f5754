"""Browser fixtures (Playwright + Chromium); filled in by the browser tests."""
