"""Headless Chromium through Selenium, with the WebSocket frames each browser saw.

Every browser logs DevTools network events (`goog:loggingPrefs` performance), so the frames its
pages sent and received over WebSockets, and which of its WebSockets are still open, can be
checked afterwards. Reading Chrome's log drains it, so `Browser` keeps everything it has read.
"""

import json
import os
import time

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService

CHROMEDRIVER = "/usr/bin/chromedriver"
WAIT = 20.0


class WaitTimeout(AssertionError):
    pass


def wait_for(what, probe, check=bool, within=WAIT, interval=0.1):
    """Polls `probe()` until `check(value)` holds and returns that value. After `within` seconds
    fails with `what` and the last value seen (or the last script error)."""
    deadline = time.monotonic() + within
    last = "(never probed)"
    while True:
        try:
            value = probe()
            if check(value):
                return value
            last = value
        except JavascriptException as error:
            last = f"(script error: {error.msg})"
        if time.monotonic() >= deadline:
            shown = last if not isinstance(last, str) or len(last) < 1500 else last[:1500] + "…"
            raise WaitTimeout(f"{what} (waited {within:.0f} s); last seen: {shown!r}")
        time.sleep(interval)


class Frame:
    """One WebSocket frame seen by a browser."""

    def __init__(self, direction, url, payload, opcode):
        self.direction = direction  # "sent" or "received"
        self.url = url
        self.payload = payload
        self.opcode = opcode

    def json(self):
        try:
            return json.loads(self.payload)
        except ValueError:
            return None


class Browser:
    """One Chromium with its own profile; `role` names it in messages and screenshots;
    `languages` ("ja,en"), the languages its user prefers (navigator.languages, Accept-Language;
    default: Chromium's, en-US); `phone` (width, height): a phone's screen in CSS pixels (mobile
    emulation: a touch screen, 3 device pixels per CSS pixel, `<meta name=viewport>` honoured,
    pinch zoom), instead of a 1280x900 desktop window."""

    def __init__(self, role, languages=None, phone=None):
        self.role = role
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900") + tuple(os.environ.get("COBROWSE_TEST_CHROME_ARGS", "").split()):
            options.add_argument(argument)
        if languages:
            # Headless Chromium takes navigator.languages from this preference (--lang alone changes nothing there).
            options.add_argument(f"--lang={languages.split(',')[0]}")
            options.add_experimental_option("prefs", {"intl.accept_languages": languages})
        if phone:
            width, height = phone
            options.add_experimental_option("mobileEmulation", {
                "deviceMetrics": {"width": width, "height": height, "pixelRatio": 3.0, "touch": True, "mobile": True}})
        if os.path.exists("/usr/bin/chromium"):
            options.binary_location = "/usr/bin/chromium"
        options.set_capability("goog:loggingPrefs", {"performance": "ALL", "browser": "ALL"})
        self.driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
        self._sockets = {}  # requestId -> url
        self._closed_sockets = set()  # requestIds
        self._frames = []
        self._console = []
        # After quit() the driver's calls fail with connection errors, not WebDriver errors:
        # a quit browser answers from what it gathered before.
        self.quit_done = False

    # ---- logs -------------------------------------------------------------------------

    def _drain(self):
        if self.quit_done:
            return
        try:
            entries = self.driver.get_log("performance")
        except WebDriverException:
            return
        for entry in entries:
            try:
                message = json.loads(entry["message"])["message"]
            except (KeyError, ValueError):
                continue
            method = message.get("method", "")
            params = message.get("params", {})
            if method == "Network.webSocketCreated":
                self._sockets[params.get("requestId")] = params.get("url", "")
            elif method == "Network.webSocketClosed":
                self._closed_sockets.add(params.get("requestId"))
            elif method in ("Network.webSocketFrameReceived", "Network.webSocketFrameSent"):
                response = params.get("response", {})
                self._frames.append(Frame("received" if method.endswith("Received") else "sent",
                                          self._sockets.get(params.get("requestId"), ""),
                                          response.get("payloadData", ""), response.get("opcode")))

    def frames(self, direction=None):
        """Every WebSocket frame this browser sent or received so far (text payloads)."""
        self._drain()
        return [frame for frame in self._frames if direction is None or frame.direction == direction]

    def open_sockets(self, path=""):
        """The URLs of this browser's WebSockets (those whose URL has `path`) not closed yet. A
        page that went away (navigation, closed tab) closed its sockets."""
        self._drain()
        return [url for request, url in self._sockets.items() if path in url and request not in self._closed_sockets]

    def event_listeners(self, expression):
        """The event listeners on the object `expression` names in the page (`window`,
        `document`), as DevTools sees them: {"type" or "type (capture)": count}."""
        driver = self.driver
        found = driver.execute_cdp_cmd("Runtime.evaluate", {"expression": expression, "objectGroup": "listeners"})
        try:
            listeners = driver.execute_cdp_cmd("DOMDebugger.getEventListeners",
                                               {"objectId": found["result"]["objectId"]})["listeners"]
        finally:
            driver.execute_cdp_cmd("Runtime.releaseObjectGroup", {"objectGroup": "listeners"})
        counts = {}
        for listener in listeners:
            key = listener["type"] + (" (capture)" if listener.get("useCapture") else "")
            counts[key] = counts.get(key, 0) + 1
        return counts

    def console(self):
        """The browser console's messages so far."""
        if self.quit_done:
            return [f"{entry.get('level')}: {entry.get('message')}" for entry in self._console]
        try:
            self._console.extend(self.driver.get_log("browser"))
        except WebDriverException:
            pass
        return [f"{entry.get('level')}: {entry.get('message')}" for entry in self._console]

    # ---- pages ------------------------------------------------------------------------

    def get(self, url):
        self.driver.get(url)

    def js(self, script, *args):
        return self.driver.execute_script(script, *args)

    def screenshot(self, path):
        if self.quit_done:
            return None
        try:
            self.driver.save_screenshot(path)
            return path
        except WebDriverException:
            return None

    def quit(self):
        if self.quit_done:
            return
        # What the logs hold is kept for a failure report.
        self._drain()
        self.console()
        self.quit_done = True
        try:
            self.driver.quit()
        except Exception:
            pass
