"""Browser fixtures: Debian's chromium driven by Playwright, the app served on a real port."""

from __future__ import annotations

import os
import shutil
import threading
from pathlib import Path

import pytest
from werkzeug.serving import make_server

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-quic",
        "--no-first-run", "--disable-component-update", "--disable-sync"]



def require_browser():
    """Called at the top of each browser test module: skip it, saying why, where no chromium is
    installed; under CI a missing browser is an error, never a silent skip."""
    if not shutil.which(CHROMIUM):
        if os.environ.get("CI"):
            raise RuntimeError(f"CI must run the browser tests: no chromium at {CHROMIUM} (.ci/run installs it)")
        pytest.skip(f"browser tests need chromium at {CHROMIUM} (apt-get install chromium; .ci/run installs it)",
                    allow_module_level=True)


@pytest.fixture
def server(app):
    """The app served on a real port, in a thread, for the browser."""
    http = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=http.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{http.server_port}"
    http.shutdown()


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        yield browser
        browser.close()


def shot(page, name: str) -> None:
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{name}.png"), full_page=True)




def log_in(browser, server: str, username: str, password: str, viewport: dict | None = None):
    """A new browser context logged in to the staff console: (context, page)."""
    context = browser.new_context(viewport=viewport or {"width": 1280, "height": 900})
    page = context.new_page()
    page.goto(f"{server}/staff/login")
    page.get_by_label("用户名").fill(username)
    page.get_by_label("密码").fill(password)
    page.get_by_role("button", name="登录").click()
    page.wait_for_url(f"{server}/staff/")
    return context, page
