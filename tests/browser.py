"""Headless Chromium for the portal's page tests: Debian's `chromium` package driven by
Playwright (Playwright's own browser download is not used). Without Chromium the tests that
need it are skipped, and say why.

Each page records what went wrong inside it (uncaught errors, console errors, refused
Content-Security-Policy loads) in `page.problems`, which a test asserts is empty.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator

import pytest
import pytest_asyncio

CHROMIUM = os.environ.get("CHROMIUM") or shutil.which("chromium") or "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",  # CI runs as root
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
PHONE = {"width": 390, "height": 844}
DESKTOP = {"width": 1280, "height": 900}


def why_no_browser() -> str | None:
    if not os.path.exists(CHROMIUM):
        return (
            "Chromium is not installed, so the portal's browser tests are skipped "
            "(apt-get install chromium; .ci/run installs it)"
        )
    try:
        import playwright.async_api  # noqa: F401
    except ImportError:
        return "Playwright for Python is not installed (pip install -e '.[dev]')"
    return None


@pytest_asyncio.fixture(scope="session")
async def browser() -> AsyncIterator[object]:
    reason = why_no_browser()
    if reason:
        pytest.skip(reason)
    from playwright.async_api import async_playwright

    async with async_playwright() as playwright:
        chromium = await playwright.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        yield chromium
        await chromium.close()


async def new_page(browser, viewport: dict | None = None):
    context = await browser.new_context(viewport=viewport or PHONE, locale="en-US")
    context.set_default_timeout(10_000)
    page = await context.new_page()
    page.problems = []
    page.on("pageerror", lambda error: page.problems.append(f"page error: {error}"))
    page.on("console", lambda message: _console(page, message))
    return page


def _console(page, message) -> None:
    # A GraphQL error answered with a 4xx status is logged by the browser as a failed load;
    # the page handles it. Anything else logged as an error is a problem.
    if message.type == "error" and "Failed to load resource" not in message.text:
        page.problems.append(f"console {message.type}: {message.text}")


@pytest_asyncio.fixture
async def page(browser) -> AsyncIterator[object]:
    page = await new_page(browser)
    yield page
    await page.context.close()
