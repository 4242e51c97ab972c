"""A small headless-Chromium driver on the standard library alone, for the report's browser tests
and benchmarks/bench_report.py.

It speaks the Chrome DevTools Protocol over `--remote-debugging-pipe`: the browser reads commands
on its fd 3 and writes replies and events on its fd 4, each message JSON ended by a NUL byte. No
websocket library, no TCP port, no Playwright. POSIX only (the pipe transport).

    with Browser() as browser:                    # ChromiumNotFound when there is none
        page = browser.open(path)                 # a file, 1400×900
        page.wait_for("window.__ready === true")
        page.eval("document.title"); page.click("g.node"); page.screenshot()
        assert page.errors == [] and page.requests == [page.url]
"""
from __future__ import annotations

import base64
import contextlib
import json
import os
import select
import shutil
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class ChromiumNotFound(RuntimeError):
    pass


class CDPError(RuntimeError):
    pass


def find_chromium() -> str | None:
    """$CHROMIUM if set, else the first of NAMES on PATH."""
    for name in ((os.environ["CHROMIUM"],) if os.environ.get("CHROMIUM") else NAMES):
        path = shutil.which(name)
        if path:
            return path
    return None


class Browser:
    def __init__(self, executable: str | None = None) -> None:
        found = executable or find_chromium()
        if found is None:
            raise ChromiumNotFound("no chromium on PATH (apt-get install chromium)")
        self.executable = found
        self.events: list[dict[str, Any]] = []
        self._buffer = b""
        self._next_id = 0

    def __enter__(self) -> Browser:
        self._profile = tempfile.TemporaryDirectory(prefix="cnncalc-chromium-")
        commands_read, commands_write = os.pipe()
        events_read, events_write = os.pipe()

        def child_fds() -> None:  # between fork and exec: the pipes become fds 3 and 4
            read, write = os.dup(commands_read), os.dup(events_write)  # copies first: they may sit on 3 or 4
            os.dup2(read, 3)
            os.dup2(write, 4)

        self.process = subprocess.Popen(
            [self.executable, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
             "--no-first-run", "--no-default-browser-check", "--disable-extensions",
             "--disable-background-networking", "--disable-component-update", "--hide-scrollbars",
             "--remote-debugging-pipe", f"--user-data-dir={self._profile.name}", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=child_fds, pass_fds=(3, 4))
        os.close(commands_read)
        os.close(events_write)
        self._write = os.fdopen(commands_write, "wb", buffering=0)
        self._read = events_read
        return self

    def __exit__(self, *exc: object) -> None:
        with contextlib.suppress(CDPError, TimeoutError, OSError):
            self.call("Browser.close", timeout=5)
        try:
            self.process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        with contextlib.suppress(OSError):
            self._write.close()
        os.close(self._read)
        self._profile.cleanup()

    def _message(self, deadline: float) -> dict[str, Any]:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no message from chromium")
            ready, _, _ = select.select([self._read], [], [], left)
            if ready:
                chunk = os.read(self._read, 1 << 20)
                if not chunk:
                    raise CDPError("chromium closed the pipe")
                self._buffer += chunk
        raw, self._buffer = self._buffer.split(b"\0", 1)
        message: dict[str, Any] = json.loads(raw)
        return message

    def call(self, method: str, params: dict[str, Any] | None = None, session: str | None = None,
             timeout: float = 30.0) -> dict[str, Any]:
        """Send one command and wait for its reply, keeping the events that come meanwhile."""
        self._next_id += 1
        message: dict[str, Any] = {"id": self._next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        self._write.write(json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            reply = self._message(deadline)
            if reply.get("id") == self._next_id:
                if "error" in reply:
                    raise CDPError(f"{method}: {reply['error']}")
                result: dict[str, Any] = reply.get("result", {})
                return result
            self.events.append(reply)

    def pump(self, seconds: float) -> None:
        """Collect the events that arrive within `seconds`."""
        deadline = time.monotonic() + seconds
        try:
            while True:
                self.events.append(self._message(deadline))
        except TimeoutError:
            pass

    def open(self, path: Path, width: int = 1400, height: int = 900) -> Page:
        """A new tab showing the file at `path`."""
        target = self.call("Target.createTarget", {"url": "about:blank"})["targetId"]
        session = self.call("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Page", "Log", "Network"):
            self.call(f"{domain}.enable", session=session)
        self.call("Emulation.setDeviceMetricsOverride",
                  {"width": width, "height": height, "deviceScaleFactor": 1, "mobile": False}, session=session)
        page = Page(self, session, path.resolve().as_uri())
        self.call("Page.navigate", {"url": page.url}, session=session)
        return page


class Page:
    def __init__(self, browser: Browser, session: str, url: str) -> None:
        self.browser, self.session, self.url = browser, session, url

    def _events(self) -> list[dict[str, Any]]:
        return [e for e in self.browser.events if e.get("sessionId") == self.session]

    @property
    def errors(self) -> list[str]:
        """console.error and console.assert calls, uncaught exceptions, the browser's error log
        (a load the Content-Security-Policy blocked is one)."""
        self.browser.pump(0.05)
        found = []
        for event in self._events():
            method, params = event.get("method"), event.get("params", {})
            if method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                found.append("console: " + " ".join(str(a.get("value", a.get("description", "")))
                                                    for a in params.get("args", [])))
            elif method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                found.append("exception: " + str(details.get("exception", {}).get("description", details.get("text"))))
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                found.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
        return found

    @property
    def requests(self) -> list[str]:
        """Every URL the page asked for (the page itself first)."""
        self.browser.pump(0.0)
        return [e["params"]["request"]["url"] for e in self._events() if e.get("method") == "Network.requestWillBeSent"]

    def eval(self, expression: str, timeout: float = 30.0) -> Any:
        result = self.browser.call("Runtime.evaluate", {"expression": expression, "returnByValue": True,
                                                         "awaitPromise": True}, session=self.session, timeout=timeout)
        if "exceptionDetails" in result:
            raise CDPError(f"{expression!r} failed: {result['exceptionDetails']}")
        return result["result"].get("value")

    def wait_for(self, expression: str, timeout: float = 20.0) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:  # a page busy laying itself out answers late: the evaluation may take what time is left
                if self.eval(f"!!({expression})", timeout=max(deadline - time.monotonic(), 1.0)):
                    return
            except CDPError:
                pass  # the page is still loading
            time.sleep(0.02)
        raise TimeoutError(f"waited {timeout} s for {expression!r}; errors: {self.errors}")

    def click(self, selector: str) -> None:
        """A real mouse click (press and release) at the centre of the first match."""
        centre = self.eval(
            f"(() => {{ const e = document.querySelector({json.dumps(selector)}); if (!e) return null;"
            " e.scrollIntoView({block: 'center', inline: 'center'});"
            " const r = e.getBoundingClientRect(); return [r.x + r.width / 2, r.y + r.height / 2]; })()")
        if centre is None:
            raise CDPError(f"nothing matches {selector!r}")
        for kind in ("mousePressed", "mouseReleased"):
            self.browser.call("Input.dispatchMouseEvent", {"type": kind, "x": centre[0], "y": centre[1],
                                                           "button": "left", "clickCount": 1}, session=self.session)

    def screenshot(self) -> bytes:
        """The viewport as PNG bytes."""
        data = self.browser.call("Page.captureScreenshot", {"format": "png"}, session=self.session)["data"]
        return base64.b64decode(data)


def png_pixels(data: bytes) -> tuple[int, int, set[bytes]]:
    """Width, height and the distinct pixels of an 8-bit RGB or RGBA PNG (what Chromium writes),
    decoded with zlib alone: enough to tell a drawn page from a blank one."""
    import struct
    import zlib

    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not a PNG")
    position, chunks, header = 8, [], b""
    while position < len(data):
        length, kind = struct.unpack(">I4s", data[position:position + 8])
        body = data[position + 8:position + 8 + length]
        if kind == b"IHDR":
            header = body
        elif kind == b"IDAT":
            chunks.append(body)
        position += 12 + length
    width, height, depth, colour = struct.unpack(">IIBB", header[:10])
    if depth != 8 or colour not in (2, 6):
        raise ValueError(f"unsupported PNG: depth {depth}, colour type {colour}")
    size = 3 if colour == 2 else 4
    raw = zlib.decompress(b"".join(chunks))
    stride = width * size
    previous = bytearray(stride)
    pixels: set[bytes] = set()
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for x in range(stride):
            left = line[x - size] if x >= size else 0
            up, corner = previous[x], previous[x - size] if x >= size else 0
            if kind == 1:
                line[x] = (line[x] + left) & 255
            elif kind == 2:
                line[x] = (line[x] + up) & 255
            elif kind == 3:
                line[x] = (line[x] + (left + up) // 2) & 255
            elif kind == 4:
                estimate = left + up - corner
                near = min((abs(estimate - left), 0, left), (abs(estimate - up), 1, up), (abs(estimate - corner), 2, corner))
                line[x] = (line[x] + near[2]) & 255
        pixels.update(bytes(line[x:x + 3]) for x in range(0, stride, size * 7))  # every 7th pixel is enough
        previous = line
    return width, height, pixels
