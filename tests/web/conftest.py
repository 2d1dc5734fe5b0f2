"""The browser tests' world: Debian's Chromium driven by Playwright (never a browser
Playwright downloads), a real service on a socket, and an in-process stand-in for the
Dagster daemon that ingests whatever lands, as `dataflux up` would."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import dagster as dg
import pytest

from dataflux_pipeline.accounts.users import add_user
from dataflux_pipeline.catalog import Catalog
from dataflux_pipeline.settings import Settings
from tests.eval.harness import serve

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "correct horse battery staple"
XSS_NAME = "<img src=x onerror=alert(1)>.jpg"


@pytest.fixture(scope="session")
def browser():
    """Chromium, or a skip that says why; under CI a missing browser is a failure."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
    if sync_playwright is None or not CHROMIUM.exists():
        why = (
            "the browser tests need Debian's chromium (apt-get install -y chromium) and playwright"
        )
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    with sync_playwright() as p:
        chromium = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        yield chromium
        chromium.close()


class Daemon(threading.Thread):
    """Runs the sensors and each new partition again and again, like the daemon."""

    def __init__(self, settings: Settings, instance: dg.DagsterInstance) -> None:
        super().__init__(daemon=True)
        self.settings, self.instance = settings, instance
        self.stop = threading.Event()
        self.failed: list[str] = []

    def run(self) -> None:
        from dataflux_pipeline.cli.ingest import ingest

        while not self.stop.is_set():
            report = ingest(self.settings, self.instance, wait_s=0)
            self.failed += report.failed_runs
            self.stop.wait(0.5)


@dataclass
class Site:
    url: str
    settings: Settings
    daemon: Daemon
    errors: list[str] = field(default_factory=list)

    def page(self, browser, width: int = 1400, user: str | None = None):
        """A new page at this width (signed in as `user` through the sign-in form), whose
        script errors and dialogs are collected in `errors`."""
        context = browser.new_context(viewport={"width": width, "height": 900})
        page = context.new_page()
        page.set_default_timeout(20_000)
        page.on("pageerror", lambda exc: self.errors.append(f"page error: {exc}"))
        page.on("dialog", lambda d: (self.errors.append(f"dialog: {d.message}"), d.dismiss()))
        page.on(
            "console",
            lambda m: (
                m.type == "error"
                and "Failed to load resource" not in m.text
                and self.errors.append(f"console: {m.text}")
            ),
        )
        if user is not None:
            page.goto(f"{self.url}/signin")
            page.fill("#username", user)
            page.fill("#password", PASSWORD)
            page.click("form.signin button[type=submit]")
            page.wait_for_selector(f"#session >> text={user}")
        return page


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Iterator[Site]:
    """A catalog with an editor (ana), two viewers (bo, cy) and an admin, a landing folder
    holding a file whose name is markup and an MKV, the service, and the daemon stand-in."""
    root = tmp_path_factory.mktemp("web")
    settings = Settings(home=root / "data", settle_seconds=0.0, index_refresh_s=0.2)
    db = Catalog.open(settings.database).db
    add_user(db, "ana", "editor", PASSWORD)
    add_user(db, "bo", "viewer", PASSWORD)
    add_user(db, "cy", "viewer", PASSWORD)
    add_user(db, "root", "admin", PASSWORD)
    settings.landing.mkdir(parents=True)
    from dataflux_pipeline.cli.samples import write_image

    write_image(settings.landing / XSS_NAME, (200, 40, 40), seed=3)
    from tests.analyzers.test_playback import write

    write(settings.landing / "ferry.mkv", "libx264", "mp3", "matroska")  # needs a proxy
    (root / "dagster").mkdir()
    with dg.instance_for_test(temp_dir=str(root / "dagster")) as instance, serve(settings) as url:
        daemon = Daemon(settings, instance)
        daemon.start()
        try:
            yield Site(url, settings, daemon)
        finally:
            daemon.stop.set()
            daemon.join(timeout=120)


def no_horizontal_scroll(page) -> bool:
    return page.evaluate(
        "document.scrollingElement.scrollWidth <= document.scrollingElement.clientWidth"
    )


def screenshot(page, name: str, tmp_path: Path) -> Path:
    """A small PNG (a 64-colour palette) of the viewport, into DATAFLUX_SCREENSHOTS
    (e.g. docs/screenshots) when set, else the test's temp folder."""
    from PIL import Image

    folder = Path(os.environ.get("DATAFLUX_SCREENSHOTS") or tmp_path)
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / f"{name}.png"
    page.screenshot(path=str(target))
    with Image.open(target) as img:
        small = img.convert("RGB").quantize(colors=64, method=Image.Quantize.MEDIANCUT)
    small.save(target, optimize=True)
    return target
