"""A real Chromium for the browser tests (the system package, driven by Playwright).

CI must have it (``.ci/run`` installs the ``chromium`` package), so there a missing browser
fails the tests; elsewhere they are skipped.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

CANDIDATES = ("chromium", "chromium-browser", "google-chrome")


def chromium_path() -> str | None:
    """The browser executable: ``OPTALLOC_CHROMIUM`` or the first system Chromium on PATH."""
    named = os.environ.get("OPTALLOC_CHROMIUM")
    if named:
        return named
    return next((found for name in CANDIDATES if (found := shutil.which(name))), None)


def require_chromium() -> str:
    path = chromium_path()
    if path is None:
        if os.environ.get("CI"):
            pytest.fail("Chromium is missing in CI; .ci/run must install the chromium package")
        pytest.skip("Chromium not installed")
    return path


@contextmanager
def browser_page(**context: Any) -> Iterator[tuple[Any, list[str]]]:
    """A fresh page and the list its console errors, warnings and page errors are collected into."""
    from playwright.sync_api import sync_playwright

    executable = require_chromium()
    errors: list[str] = []
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=executable, args=["--no-sandbox"])
        try:
            page = browser.new_page(viewport={"width": 1200, "height": 900}, **context)
            # warnings too: Vega warns (and draws nothing) when a chart's field matches no data
            page.on(
                "console",
                lambda m: errors.append(f"console {m.type}: {m.text}") if m.type in ("error", "warning") else None,
            )
            page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
            yield page, errors
        finally:
            browser.close()
