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
    """chromedriver answered a command with an error."""


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
                f"{method} {path}: {value.get('error')}: {value.get('message')}"
            ) from exc
        return body.get("value")

    def get(self, url: str) -> None:
        """Open ``url`` and wait until it has loaded."""
        self._command("POST", f"/session/{self.session}/url", {"url": url})

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
