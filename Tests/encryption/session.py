"""One co-browse session on `deploy/local/run` (two relays, the test's debug build), recorded
from the loopback: tshark captures while a customer on relay :8080 puts a unique marker in the
demo shop's page and an agent on relay :8090 watches it arrive; then the capture and the stack stop.

With TLS=1 the browsers trust the run's throwaway certificate by its key (Chromium's
--ignore-certificate-errors-spki-list), and this process by the run's CA (.run/tls/ca.pem)."""

import base64
import hashlib
import json
import os
import secrets
import signal
import ssl
import subprocess
import time
import urllib.error
import urllib.parse
import urllib.request

from selenium import webdriver
from selenium.common.exceptions import JavascriptException, WebDriverException
from selenium.webdriver.chrome.service import Service as DriverService

from capture import Capture, read_flows

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
RUN_DIR = os.path.join(ROOT, ".run")
TLS_DIR = os.path.join(RUN_DIR, "tls")
SERVICE_PORTS = {"session-registry": 8081, "dom-relay": 8080, "dom-relay-2": 8090, "masking-filter": 8082, "interaction-watch": 8083}
# Every port deploy/local/run (one broker, RELAY_INSTANCES=2) listens on: the services, the broker's
# AMQP(S), management and Prometheus listeners, its Erlang distribution, rabbitmqctl's range and epmd.
SUITE_PORTS = set(SERVICE_PORTS.values()) | {5673, 15673, 15693, 25679, 4370} | set(range(25680, 25690))
# The broker users of the services (deploy/rabbitmq/definitions.json); locally each password is the name.
BROKER_PASSWORDS = ["cobrowse-registry", "cobrowse-relay", "cobrowse-filter", "cobrowse-watch"]


def wait_until(what, probe, within=120.0, interval=0.5):
    """Polls `probe()` until it returns something true and returns it; fails naming `what`
    (a script error in the page counts as not yet)."""
    deadline = time.monotonic() + within
    while True:
        try:
            value = probe()
        except JavascriptException:
            value = None
        if value:
            return value
        if time.monotonic() >= deadline:
            raise AssertionError(f"{what} (waited {within:.0f} s)")
        time.sleep(interval)


class LocalRun:
    """`deploy/local/run` with TLS=0 or 1, in a process group of its own, its output in `log_path`."""

    def __init__(self, tls, log_path):
        self.tls = tls
        self.scheme = "https" if tls else "http"
        self.log_path = log_path
        self.context = None
        environment = dict(os.environ, TLS=str(int(tls)), RELAY_INSTANCES="2", BUILD_CONFIGURATION="debug", LOG_LEVEL="info")
        with open(log_path, "wb") as log:
            self.process = subprocess.Popen([os.path.join(ROOT, "deploy/local/run")], cwd=ROOT, env=environment, stdout=log,
                                            stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def get(self, port, path, timeout=5.0):
        """(status, body) of a GET on a service (status None while nothing answers)."""
        if self.tls and self.context is None:
            if not os.path.exists(os.path.join(TLS_DIR, "ca.pem")):
                return None, ""
            self.context = ssl.create_default_context(cafile=os.path.join(TLS_DIR, "ca.pem"))
        try:
            with urllib.request.urlopen(f"{self.scheme}://127.0.0.1:{port}{path}", timeout=timeout, context=self.context) as response:
                return response.status, response.read().decode("utf-8", "replace")
        except urllib.error.HTTPError as error:
            return error.code, ""
        except (urllib.error.URLError, OSError):
            return None, ""

    def wait_ready(self):
        def ready():
            assert self.process.poll() is None, f"deploy/local/run exited with {self.process.returncode}; see {self.log_path}"
            return all(self.get(port, "/ready", timeout=2)[0] == 200 for port in SERVICE_PORTS.values())
        wait_until("every service of deploy/local/run answers /ready", ready, within=240, interval=1)

    def stop(self):
        """Ctrl-C, as a person would, and waits until the script (services, broker) has exited."""
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGINT)
            try:
                self.process.wait(timeout=120)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
                raise AssertionError(f"deploy/local/run did not stop within 120 s of Ctrl-C; see {self.log_path}")


def certificate_key_pin(path):
    """base64 of the SHA-256 of a certificate's SubjectPublicKeyInfo (what Chromium pins)."""
    key = subprocess.run(["openssl", "x509", "-in", path, "-noout", "-pubkey"], capture_output=True, check=True).stdout
    der = subprocess.run(["openssl", "pkey", "-pubin", "-outform", "der"], input=key, capture_output=True, check=True).stdout
    return base64.b64encode(hashlib.sha256(der).digest()).decode()


class Chromium:
    """Headless Chromium through chromedriver, without DevTools logging (which would copy every
    WebSocket frame over the loopback). `ports` are its chromedriver and DevTools ports: test
    harness traffic, left out of the searches."""

    def __init__(self, tls):
        options = webdriver.ChromeOptions()
        for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
            options.add_argument(argument)
        if tls:
            # Trust exactly the run's server certificate (its key), nothing else.
            options.add_argument(f"--ignore-certificate-errors-spki-list={certificate_key_pin(os.path.join(TLS_DIR, 'server.pem'))}")
        if os.path.exists("/usr/bin/chromium"):
            options.binary_location = "/usr/bin/chromium"
        self.driver = webdriver.Chrome(service=DriverService("/usr/bin/chromedriver"), options=options)
        debugger = self.driver.capabilities.get("goog:chromeOptions", {}).get("debuggerAddress", "")
        self.ports = {self.driver.service.port} | ({int(debugger.rsplit(":", 1)[1])} if ":" in debugger else set())

    def js(self, script, *arguments):
        return self.driver.execute_script(script, *arguments)

    def quit(self):
        try:
            self.driver.quit()
        except WebDriverException:
            pass


class Recording:
    """What one recorded session produced: its secrets, the flows captured, and where things are."""

    def __init__(self, tls):
        self.tls = tls
        self.marker = f"ZZMARK{secrets.token_hex(12)}"
        self.agent = f"enc-agent-{secrets.token_hex(6)}"
        self.token = None
        self.session = None
        self.flows = []
        self.harness_ports = set()
        self.capture_summary = ""
        self.pcap = os.path.join(RUN_DIR, f"encryption-{'tls' if tls else 'plain'}.pcap")
        self.log = os.path.join(RUN_DIR, "test-logs", f"encryption-{'tls' if tls else 'plain'}-run.log")
        self.seconds = 0.0


def record_session(tls):
    """Runs the stack with TLS on or off under a loopback capture, streams a marker from a
    customer to an agent, stops the capture then the stack, and returns the Recording."""
    recording = Recording(tls)
    os.makedirs(os.path.dirname(recording.log), exist_ok=True)
    started = time.monotonic()
    capture = Capture(recording.pcap)
    run = None
    try:
        run = LocalRun(tls, recording.log)
        run.wait_ready()
        _share_marker(run, recording)
        # The marker crossed the loopback moments ago: the capture must hold it before it stops.
        capture.catch_up()
    finally:
        recording.capture_summary = capture.stop()
        if run is not None:
            run.stop()
    recording.flows = read_flows(recording.pcap)
    recording.seconds = time.monotonic() - started
    return recording


def _share_marker(run, recording):
    web = f"{run.scheme}://127.0.0.1"
    customer = agent = None
    try:
        customer, agent = Chromium(run.tls), Chromium(run.tls)
        recording.harness_ports = customer.ports | agent.ports
        customer.driver.get(f"{web}:8080/demo/?still")
        customer.js("document.getElementById('start-cobrowse').click()")
        recording.session = wait_until("the customer's bar shows a session",
                                       lambda: customer.js("return window.CoBrowse && CoBrowse.sessionId"), within=60)
        status, body = run.get(8090, f"/dev/agent-token?agent={recording.agent}")
        assert status == 200, f"/dev/agent-token answered {status}"
        recording.token = json.loads(body)["token"]
        agent.driver.get(f"{web}:8090/agent/#{urllib.parse.urlencode({'token': recording.token, 'session': recording.session})}")
        wait_until("the agent console is live", lambda: agent.js("return document.body.dataset.state === 'live'"), within=60)
        # The marker goes into the customer's page (the heading, which no masking rule hides) …
        customer.js("document.querySelector('h1').textContent = arguments[0]", recording.marker)
        # … and must reach the agent's view through relay :8080, the broker, the filter and relay :8090.
        wait_until("the agent's view shows the marker", lambda: agent.js(
            "const view = document.querySelector('iframe'); const doc = view && view.contentDocument; "
            "return !!(doc && doc.body && doc.body.innerText.includes(arguments[0]))", recording.marker), within=60)
    finally:
        for browser in (customer, agent):
            if browser is not None:
                browser.quit()
