"""``crewtui web`` driven from a script: the server as a child process, its page in headless
Chromium, and the text of the page's terminal.

Shared by tests/test_web.py and the README's picture of the browser
(``python -m crewtui.ui.screenshots --browser``). It needs Debian's ``chromium`` and
``chromium-driver``, and selenium (the test extra only): selenium is imported when a browser
is opened, so importing this module needs neither.
"""

from __future__ import annotations

import contextlib
import shutil
import signal
import subprocess
import sys
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from selenium.webdriver import Chrome

CHROMIUM = shutil.which("chromium")
CHROMEDRIVER = shutil.which("chromedriver")
PAGE_TIMEOUT = 60.0  # seconds for the page to show something: a session starts an app

# Keeps each xterm.js terminal the page makes (textual.js assigns ``this.terminal``), so its
# screen can be read from its buffer: the WebGL renderer draws no text into the DOM.
KEEP_TERMINALS = """
Object.defineProperty(Object.prototype, 'terminal', {
  configurable: true,
  set(value) {
    Object.defineProperty(this, 'terminal', {value, writable: true, configurable: true});
    window.crewtuiTerminals = (window.crewtuiTerminals || []).concat([value]);
  },
});
"""
READ_SCREEN = """
const terminal = (window.crewtuiTerminals || [])[0];
if (!terminal) return '';
const lines = [];
for (let y = 0; y < terminal.rows; y++) {
  const line = terminal.buffer.active.getLine(y);
  lines.push(line ? line.translateToString(true) : '');
}
return lines.join('\\n');
"""
# Two animation frames: what the buffer holds has been painted when the second one comes.
PAINTED = """
const done = arguments[arguments.length - 1];
requestAnimationFrame(() => requestAnimationFrame(() => done(true)));
"""


class PageNotShown(AssertionError):
    """The page never showed the words awaited; the message holds what it shows."""


@dataclass
class WebProcess:
    url: str  # the page's address, with its token: never print or save it
    process: subprocess.Popen[str]


def browser_missing() -> str | None:
    """Why a headless browser cannot be opened here, in one sentence; None when it can."""
    try:
        import selenium  # noqa: F401
    except ImportError:
        return "needs selenium (pip install 'crewtui[test]')"
    if CHROMIUM is None or CHROMEDRIVER is None:
        return (
            "needs Debian's chromium and chromium-driver (apt-get install chromium chromium-driver)"
        )
    return None


@contextlib.contextmanager
def serve_web(options: Sequence[str], env: dict[str, str]) -> Iterator[WebProcess]:
    """``crewtui web OPTIONS`` until it prints its address; stopped with SIGTERM at the end
    if still running (the caller reads ``process.returncode`` after)."""
    process = subprocess.Popen(
        [sys.executable, "-m", "crewtui", "web", *options],
        stdout=subprocess.PIPE,
        text=True,
        env=env,
    )
    assert process.stdout is not None
    try:
        line = process.stdout.readline()  # printed once it listens
        if not line.startswith("crewtui web: open http://"):
            raise RuntimeError(f"crewtui web did not start: {line!r}")
        yield WebProcess(line.split()[3], process)
    finally:
        if process.poll() is None:
            process.send_signal(signal.SIGTERM)
        process.wait(timeout=30)
        process.stdout.close()


@contextlib.contextmanager
def headless_chromium(width: int, height: int) -> Iterator[Chrome]:
    """Headless Chromium showing pages of ``width`` x ``height`` pixels, keeping the
    terminals of the pages it opens (see :func:`read_screen`)."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    if CHROMIUM is not None:
        options.binary_location = CHROMIUM
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage"):
        options.add_argument(argument)
    options.add_argument(f"--window-size={width},{height}")
    driver = webdriver.Chrome(options=options, service=Service(CHROMEDRIVER))
    try:
        driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": KEEP_TERMINALS})
        # The page itself that size (the window's size includes its frame).
        page = {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}
        driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", page)
        yield driver
    finally:
        driver.quit()


def read_screen(driver: Chrome) -> str:
    """The text of the page's terminal, one line per row ('' before it exists)."""
    text: str = driver.execute_script(READ_SCREEN)
    return text


def wait_for_screen(driver: Chrome, *words: str, timeout: float = PAGE_TIMEOUT) -> None:
    """Until the page's terminal shows every one of ``words``, painted; else
    :class:`PageNotShown` with what it shows."""
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.support.ui import WebDriverWait

    def shows(_: object) -> bool:
        shown = read_screen(driver)
        return all(word in shown for word in words)

    try:
        WebDriverWait(driver, timeout).until(shows)
    except TimeoutException:
        raise PageNotShown(
            f"the page never showed {words}; it shows:\n{read_screen(driver)}"
        ) from None
    driver.execute_async_script(PAINTED)
