"""The pages' shell in a real browser: open mode shows no sign-in, the keyboard reaches
everything with a visible focus, the theme switches, and the API docs render offline
(every request to another host is refused)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def open_url(tmp_path_factory) -> Iterator[str]:
    with serve(Settings(home=tmp_path_factory.mktemp("open") / "data")) as url:
        yield url


def page_for(browser, url: str, errors: list[str], width: int = 1400):
    context = browser.new_context(viewport={"width": width, "height": 800})
    page = context.new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.on("console", lambda m: m.type == "error" and errors.append(m.text))
    outside: list[str] = []

    def route(r):
        if r.request.url.startswith(url):
            return r.continue_()
        outside.append(r.request.url)
        return r.abort()

    page.route("**/*", route)
    page.outside = outside
    return page


def test_open_mode_has_no_sign_in_and_the_keyboard_reaches_search(browser, open_url) -> None:
    errors: list[str] = []
    page = page_for(browser, open_url, errors)
    page.goto(open_url + "/")
    page.wait_for_selector("#nav a >> text=Upload")
    assert page.locator("text=Sign in").count() == 0 and page.locator("text=Sign out").count() == 0
    page.wait_for_selector("input[name=q]:focus")  # the box has the focus on arrival
    page.evaluate("document.activeElement.blur()")
    page.keyboard.press("/")  # and "/" brings it back
    assert page.evaluate("document.activeElement.name") == "q"
    page.keyboard.type("lighthouse")
    page.keyboard.press("Enter")
    page.wait_for_selector("#empty >> text=nothing in your catalog")
    page.keyboard.press("Tab")
    focused = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert focused != "none"
    before = page.evaluate("getComputedStyle(document.body).backgroundColor")
    page.click("#theme")
    assert page.evaluate("getComputedStyle(document.body).backgroundColor") != before
    assert page.evaluate("document.documentElement.dataset.theme") in ("dark", "light")
    assert not errors and not page.outside, (errors, page.outside)


def test_api_docs_work_offline(browser, open_url) -> None:
    errors: list[str] = []
    page = page_for(browser, open_url, errors)
    page.goto(open_url + "/docs")
    page.wait_for_selector(".swagger-ui .opblock", timeout=30_000)
    page.goto(open_url + "/redoc")
    page.wait_for_selector("text=DataFlux search", timeout=30_000)
    assert not page.outside, page.outside
    # ReDoc's own "powered by" logo points at its CDN; the policy keeps the page offline
    blocked = [e for e in errors if "Content Security Policy" in e and "cdn.redoc.ly" not in e]
    assert not blocked, errors
