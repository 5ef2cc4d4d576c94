"""Fixtures for browser tests: one real lab server per module and Debian's chromium.

Playwright's own browser downloads are never used (`PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1`,
no `playwright install`): the system chromium is launched by path.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.browser.lab_server import LabServer, check_extension_built, start_lab

CHROMIUM = os.environ.get("AIIKERNEL_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]

os.environ.setdefault("PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD", "1")


@pytest.fixture(scope="module")
def lab_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LabServer]:
    """A running `jupyter lab` with this checkout's extension, kernelspec and server extension."""
    problem = check_extension_built()
    if problem:
        pytest.fail(problem)
    server = start_lab(tmp_path_factory.mktemp("lab"))
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def chromium() -> Iterator[object]:
    """A headless system chromium driven by Playwright (sync API)."""
    sync_api = pytest.importorskip("playwright.sync_api")
    if not (Path(CHROMIUM).is_file() or shutil.which(CHROMIUM)):
        pytest.skip(f"{CHROMIUM} not found; install it with `apt-get install -y chromium`")
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(
            executable_path=CHROMIUM, args=CHROMIUM_ARGS, headless=True
        )
        try:
            yield browser
        finally:
            browser.close()


@pytest.fixture
def lab_page(chromium, lab_server: LabServer) -> Iterator[object]:
    """A fresh browser page; page errors are collected on ``page.errors`` for assertions."""
    context = chromium.new_context(viewport={"width": 1400, "height": 900})
    page = context.new_page()
    page.errors = []  # type: ignore[attr-defined]
    page.on("pageerror", lambda exc: page.errors.append(str(exc)))  # type: ignore[attr-defined]
    try:
        yield page
    finally:
        context.close()
