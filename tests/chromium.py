"""A headless Chromium for tests, driven through chromedriver's W3C WebDriver API.

The WebDriver protocol is JSON over HTTP, so the standard library is enough:
no Selenium, nothing to pin. Used by ``tests/test_browser.py``.

Debian: ``apt-get install chromium chromium-driver`` (``make browser``
does it when run as root). ``CHROMIUM`` and ``CHROMEDRIVER`` override where the
browser and the driver are looked for.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request

BROWSERS = ("chromium", "chromium-browser", "google-chrome", "chrome")
DRIVERS = ("chromedriver",)


def find_executables() -> tuple[str | None, str | None]:
    """Return the paths of Chromium and chromedriver (``None`` where missing)."""

    def first(variable: str, names: tuple[str, ...]) -> str | None:
        if os.environ.get(variable):
            return shutil.which(os.environ[variable])  # None unless it is an executable
        return next(filter(None, map(shutil.which, names)), None)

    return first("CHROMIUM", BROWSERS), first("CHROMEDRIVER", DRIVERS)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class WebDriverError(RuntimeError):
    """chromedriver answered a command with an error.

    ``error`` is the W3C error code (``"timeout"``, ``"javascript error"``, ...), or ``None``.
    """

    def __init__(self, message: str, error: str | None = None) -> None:
        super().__init__(message)
        self.error = error


class PageLoadError(WebDriverError):
    """A page did not finish loading within the time allowed."""


# The property that marks a document as stale before ``Chromium.get`` navigates away from it:
# a document without it is one that the navigation created.
STALE = "__chromiumStaleDocument"

# Marks the document now shown as stale.
MARK_STALE = "document[arguments[0]] = true;"

# Where the navigation stands. A fresh, complete document that redirects with
# <meta http-equiv="refresh" content="0; url=..."> (the book's index.html) is marked stale in
# the same script, so the refresh cannot happen between looking and marking.
LOOK = r"""
const [stale, follow] = arguments;
const seen = {fresh: !document[stale], state: document.readyState, url: location.href,
              redirects: false};
const refresh = document.querySelector('meta[http-equiv="refresh" i]');
if (seen.fresh && seen.state === "complete" && follow && refresh
    && /url\s*=/i.test(refresh.content || "")) {
  document[stale] = true;
  seen.redirects = true;
}
return seen;
"""


class Chromium:
    """One headless Chromium session; use as a context manager.

    Parameters
    ----------
    browser, driver : str
        Paths of the Chromium binary and of the matching chromedriver.
    timeout : float, default 30
        Seconds a page load or a script may take.
    """

    def __init__(self, browser: str, driver: str, timeout: float = 30.0) -> None:
        self.timeout = timeout
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = subprocess.Popen(
            [driver, f"--port={self.port}"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        self.session = None
        try:
            self._wait_until_ready(timeout)
            args = [
                "--headless=new",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--window-size=1280,1024",
            ]
            if hasattr(os, "geteuid") and os.geteuid() == 0:
                args.append(
                    "--no-sandbox"
                )  # Chromium refuses to sandbox itself as root (containers, CI)
            capabilities = {
                "browserName": "chrome",
                "pageLoadStrategy": "normal",
                "timeouts": {"pageLoad": int(timeout * 1000), "script": int(timeout * 1000)},
                "goog:chromeOptions": {"binary": browser, "args": args},
            }
            answer = self._command(
                "POST", "/session", {"capabilities": {"alwaysMatch": capabilities}}
            )
            self.session = answer["sessionId"]
        except BaseException:
            self.process.kill()
            raise

    def _wait_until_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise WebDriverError(
                    f"chromedriver exited with code {self.process.returncode} on start"
                )
            try:
                if (self._command("GET", "/status") or {}).get("ready"):
                    return
            except (urllib.error.URLError, ConnectionError):
                pass
            time.sleep(0.1)
        raise WebDriverError(f"chromedriver did not start within {timeout:.0f} s")

    def _command(self, method: str, path: str, payload: dict | None = None) -> object:
        data = None if payload is None else json.dumps(payload).encode()
        request = urllib.request.Request(
            self.url + path, data=data, method=method, headers={"Content-Type": "application/json"}
        )
        try:
            with urllib.request.urlopen(request, timeout=120) as response:
                body = json.loads(response.read() or b"{}")
        except urllib.error.HTTPError as exc:
            value = json.loads(exc.read() or b"{}").get("value", {})
            raise WebDriverError(
                f"{method} {path}: {value.get('error')}: {value.get('message')}",
                value.get("error"),
            ) from exc
        return body.get("value")

    def get(self, url: str, *, redirects: int = 5) -> str:
        """Open ``url``, wait until its page has completely loaded, and return its address.

        chromedriver's navigate command can return before the new page has even started to
        load (seen under CPU load): what the browser shows then is the previous page. So the
        document shown now is marked first, and ``get`` returns only once a document without
        the mark reports ``readyState`` "complete". A page that redirects with
        ``<meta http-equiv="refresh">`` (the book's ``index.html``) is followed, at most
        ``redirects`` times, and the address returned is the page it leads to.

        Raises `PageLoadError` when no such page is there within ``timeout`` seconds. A
        ``url`` that differs from the page shown only by its ``#fragment`` makes no new
        document, so it never counts as loaded: open such a page once.
        """
        deadline = time.monotonic() + self.timeout
        self._until(deadline, url, lambda: self.execute(MARK_STALE, STALE))
        try:
            self._navigate(url)
        except WebDriverError as exc:
            if exc.error == "timeout":
                raise self._load_error(url, f"chromedriver: {exc}") from exc
            raise
        while True:
            seen = self._until(deadline, url, lambda: self.execute(LOOK, STALE, redirects > 0))
            if seen["redirects"]:
                redirects -= 1
            elif seen["fresh"] and seen["state"] == "complete":
                return seen["url"]
            if time.monotonic() > deadline:
                shown = "the previous page" if not seen["fresh"] else "a page"
                raise self._load_error(
                    url, f"{shown} is still shown: {seen['url']}, readyState {seen['state']!r}"
                )
            time.sleep(0.05)

    def _navigate(self, url: str) -> None:
        """The WebDriver navigate command (``get`` does not trust it to wait)."""
        self._command("POST", f"/session/{self.session}/url", {"url": url})

    def _until(self, deadline: float, url: str, command):
        """Run ``command()`` until it succeeds: a page between two documents can refuse a
        script for a moment ("document unloaded", "no such execution context")."""
        while True:
            try:
                return command()
            except WebDriverError as exc:
                if exc.error == "timeout":  # chromedriver gave up waiting for the page
                    raise self._load_error(url, f"chromedriver: {exc}") from exc
                if time.monotonic() > deadline:
                    raise self._load_error(url, f"the browser answered: {exc}") from exc
            time.sleep(0.05)

    def _load_error(self, url: str, detail: str) -> PageLoadError:
        return PageLoadError(f"{url} did not finish loading within {self.timeout:g} s; {detail}")

    def set_timeout(self, seconds: float) -> None:
        """Allow a page load (``get``) or a script ``seconds`` seconds from now on."""
        ms = int(seconds * 1000)
        self._command("POST", f"/session/{self.session}/timeouts", {"pageLoad": ms, "script": ms})
        self.timeout = seconds

    def execute(self, script: str, *args: object) -> object:
        """Run synchronous JavaScript and return what it returns."""
        return self._command(
            "POST", f"/session/{self.session}/execute/sync", {"script": script, "args": list(args)}
        )

    def run_async(self, script: str, *args: object) -> object:
        """Run asynchronous JavaScript; it returns by calling
        ``arguments[arguments.length - 1]``."""
        return self._command(
            "POST", f"/session/{self.session}/execute/async", {"script": script, "args": list(args)}
        )

    def close(self) -> None:
        """End the session and stop chromedriver."""
        try:
            if self.session:
                self._command("DELETE", f"/session/{self.session}")
        except (WebDriverError, urllib.error.URLError, ConnectionError):
            pass
        finally:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()

    def __enter__(self) -> Chromium:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
