"""A real browser for the inspector's tests: Debian's headless Chromium driven through its
chromedriver by Selenium (no browser download: the binaries are the system's).

`./run test` installs the `chromium` and `chromium-driver` packages where apt is available;
elsewhere the browser tests skip, saying so. Screenshots go to build/test-output/inspector/
(or $REKOGNITION_TEST_OUTPUT/inspector/).
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# Flags that work in a container as root, with no GPU and no network beyond loopback (without
# the background-networking ones Chromium keeps trying to reach Google's hosts).
FLAGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--window-size=1500,1100",
)


def output_dir() -> Path:
    base = os.environ.get("REKOGNITION_TEST_OUTPUT") or REPO / "build" / "test-output"
    folder = Path(base) / "inspector"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def _binaries() -> tuple[str, str] | None:
    chromium = shutil.which("chromium") or shutil.which("chromium-browser")
    driver = shutil.which("chromedriver")
    return (chromium, driver) if chromium and driver else None


@contextmanager
def chromium() -> Iterator[Any]:
    """A Selenium WebDriver on headless Chromium; skips the test when there is none."""
    found = _binaries()
    if found is None:
        pytest.skip(
            "Chromium is absent: `apt-get install chromium chromium-driver` (./run test does "
            "it where apt is available)"
        )
    try:
        from selenium import webdriver
        from selenium.webdriver.chrome.service import Service
    except ImportError:
        pytest.skip("selenium is not installed (pip install -e '.[test]')")
    profile = tempfile.mkdtemp(prefix="rekognition-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = found[0]
    for flag in FLAGS:
        options.add_argument(flag)
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=found[1]))
    driver.set_page_load_timeout(60)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def wait_for(driver: Any, condition: Callable[[Any], Any], timeout: float = 20, what: str = ""):
    """The condition's first truthy value, polled; fails the test with `what` on timeout."""
    from selenium.common.exceptions import StaleElementReferenceException, TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    # The live list redraws the page while the condition reads it: an element found a moment
    # ago may be gone, which is "not yet", not a failure.
    wait = WebDriverWait(
        driver, timeout, poll_frequency=0.1, ignored_exceptions=(StaleElementReferenceException,)
    )
    try:
        return wait.until(condition)
    except TimeoutException:
        shot = output_dir() / "timeout.png"
        driver.save_screenshot(str(shot))
        pytest.fail(f"the page never showed {what or 'what the test waited for'} ({shot})")


def screenshot(driver: Any, name: str) -> Path:
    path = output_dir() / f"{name}.png"
    driver.save_screenshot(str(path))
    return path
