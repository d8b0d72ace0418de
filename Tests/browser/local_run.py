#!/usr/bin/python3
"""The local stack as a newcomer runs it: `deploy/local/run` with two relays (on 8080 and 8090),
every `/metrics` scraped, and one co-browse session pushed through it in headless Chromium —
the customer on one relay, the agent on the other — then Ctrl-C stops everything.

Run by deploy/local/test after the other stages (it reuses their debug build); on its own:
    /usr/bin/python3 Tests/browser/local_run.py
"""

import json
import os
import re
import signal
import subprocess
import sys
import time
import urllib.parse

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import browsers  # noqa: E402
from browsers import wait_for  # noqa: E402
from stack import http_get  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SERVICES = {"session-registry": 8081, "dom-relay": 8080, "dom-relay-2": 8090, "masking-filter": 8082, "interaction-watch": 8083}
BROKER_METRICS = "http://127.0.0.1:15693/metrics"
# What each service's /metrics must show once a session went through (families, not values).
EXPECTED = {
    "session-registry": ["cobrowse_sessions_live", "amqp_connected"],
    "dom-relay": ["cobrowse_relay_sockets", "cobrowse_relay_frames_total", "amqp_connected"],
    "dom-relay-2": ["cobrowse_relay_sockets", "cobrowse_live_path_seconds_bucket", "amqp_connected"],
    "masking-filter": ["cobrowse_filter_frames_total", "cobrowse_filter_masked_elements_total", "amqp_connected"],
    "interaction-watch": ["cobrowse_watch_sessions", "amqp_connected"],
}


def metric(text, name, labels=""):
    """The value of one sample (`name{labels} value`), or None."""
    found = re.search(rf"^{re.escape(name)}{re.escape(labels)} ([0-9.e+-]+)$", text, re.MULTILINE)
    return float(found.group(1)) if found else None


def scrape(port):
    status, body = http_get(f"http://127.0.0.1:{port}/metrics")
    assert status == 200, f"/metrics on :{port} answered {status}"
    return body


def start_stack(log_path):
    env = dict(os.environ, RELAY_INSTANCES="2", BUILD_CONFIGURATION="debug", LOG_LEVEL="info")
    log = open(log_path, "wb")
    run = subprocess.Popen([os.path.join(ROOT, "deploy/local/run")], cwd=ROOT, env=env,
                           stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, start_new_session=True)

    def ready():
        assert run.poll() is None, f"deploy/local/run exited with {run.returncode}; see {log_path}"
        return all(http_get(f"http://127.0.0.1:{port}/ready", timeout=2)[0] == 200 for port in SERVICES.values())

    wait_for("every service of deploy/local/run answers /ready", ready, within=240, interval=1)
    return run


def push_one_session():
    """A customer on relay 8080 shares the demo shop; an agent on relay 8090 sees it."""
    customer, agent = browsers.Browser("customer"), browsers.Browser("agent")
    try:
        customer.get("http://127.0.0.1:8080/demo/?still")
        customer.js("document.getElementById('start-cobrowse').click()")
        session = wait_for("the customer's bar shows a session", lambda: customer.js("return window.CoBrowse && CoBrowse.sessionId"))
        # An agent of its own: the local run keeps its registry between runs, and an earlier run
        # stopped mid-session may have left its agent leading a live session (agent-busy).
        status, body = http_get(f"http://127.0.0.1:8090/dev/agent-token?agent=local-run-{os.getpid()}-{int(time.time())}")
        assert status == 200, f"/dev/agent-token answered {status}"
        fragment = urllib.parse.urlencode({"token": json.loads(body)["token"], "session": session})
        agent.get(f"http://127.0.0.1:8090/agent/#{fragment}")
        wait_for("the agent console is live", lambda: agent.js("return document.body.dataset.state"), check=lambda s: s == "live")
        heading = customer.js("return document.querySelector('h1').textContent.trim()")
        wait_for("the agent sees the customer's page", lambda: agent.js(
            "const view = document.querySelector('iframe'); "
            "return view && view.contentDocument && view.contentDocument.body ? view.contentDocument.body.innerText : ''"),
            check=lambda text: heading in text)
        tour_demo_pages(customer, agent)
        return session
    finally:
        customer.quit()
        agent.quit()


# The demo pages that hold secrets (text starting ZZSECRET, and personal data no rule names):
# with the shipped deploy/masking/rules.json, none may reach the agent.
DEMO_SECRET_PAGES = ["masking.html", "statement.html", "private.html", "pii.html", "frames.html", "show-password.html"]
PERSONAL_DATA = ["4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "078-05-1120", "jane.doe@example.com", "+1 415 555 0100"]


def tour_demo_pages(customer, agent):
    """The customer visits every demo page with secrets while the agent watches; then every
    frame the agent's console received is searched for them."""
    for page in DEMO_SECRET_PAGES:
        customer.get(f"http://127.0.0.1:8080/demo/{page}")
        wait_for(f"the agent console follows the customer to {page}",
                 lambda: agent.js("const e = document.getElementById('customer-url'); return e ? e.textContent : ''"),
                 check=lambda url, page=page: (url or "").strip().endswith(f"/demo/{page}"), within=60)
        # The page's snapshot reached the agent (the view shows the page's <main>).
        wait_for(f"the agent's view shows {page}", lambda: agent.js(
            "const view = document.querySelector('iframe'); const doc = view && view.contentDocument; "
            "return !!(doc && doc.querySelector('main, body > *'))"), within=60)
    leaks = []
    for frame in agent.frames("received"):
        payload = frame.payload if isinstance(frame.payload, str) else str(frame.payload)
        found = [secret for secret in ["ZZSECRET", *PERSONAL_DATA] if secret in payload]
        if found:
            leaks.append((found, payload[:160]))
    assert not leaks, (f"with deploy/masking/rules.json the agent received demo secrets in {len(leaks)} frames, "
                       f"e.g. {leaks[:3]}")
    print(f"PASS the agent saw {len(DEMO_SECRET_PAGES)} demo pages with secrets and received none of them")


def main():
    log_dir = os.path.join(ROOT, ".run", "test-logs")
    os.makedirs(log_dir, exist_ok=True)
    log_path = os.path.join(log_dir, "local-run.log")
    started = time.monotonic()
    run = start_stack(log_path)
    try:
        for name, port in SERVICES.items():
            scrape(port)
        status, broker = http_get(BROKER_METRICS)
        assert status == 200 and "rabbitmq_" in broker, f"the broker's Prometheus endpoint answered {status}"
        print(f"PASS every service and the broker serve /metrics ({time.monotonic() - started:.1f} s)")

        session = push_one_session()
        print(f"PASS session {session}: customer on :8080, agent on :8090")

        after = {name: scrape(port) for name, port in SERVICES.items()}
        for name, families in EXPECTED.items():
            for family in families:
                assert re.search(rf"^{family}[{{ ]", after[name], re.MULTILINE), f"{name} /metrics has no {family}"
        delivered = metric(after["dom-relay-2"], "cobrowse_live_path_seconds_count")
        assert delivered and delivered > 0, "the agent's relay measured no live-path delivery"
        received = metric(after["dom-relay"], "cobrowse_relay_frames_total", '{direction="in",side="sharer"}')
        assert received and received > 0, "the customer's relay counted no frame from the sharer"
        print(f"PASS the metrics show the session ({int(delivered)} frames measured end to end)")
    finally:
        os.killpg(run.pid, signal.SIGINT)
        try:
            status = run.wait(timeout=60)
        except subprocess.TimeoutExpired:
            # What each process of the script was doing, for the failure report.
            tree = subprocess.run(["ps", "-o", "pid,ppid,stat,wchan:24,etime,args", "-g", str(run.pid)],
                                  capture_output=True, text=True).stdout
            os.killpg(run.pid, signal.SIGKILL)
            with open(log_path, errors="replace") as log:
                tail = "".join(log.readlines()[-15:])
            raise AssertionError(f"deploy/local/run did not stop within 60 s of Ctrl-C\n{tree}\nlast lines of {log_path}:\n{tail}")
    stopped = [name for name, port in SERVICES.items() if http_get(f"http://127.0.0.1:{port}/health", timeout=1)[0] is None]
    assert len(stopped) == len(SERVICES), f"still answering after Ctrl-C: {set(SERVICES) - set(stopped)}"
    print(f"PASS Ctrl-C stopped the stack (exit status {status}); {time.monotonic() - started:.1f} s in all")


if __name__ == "__main__":
    try:
        main()
    except (AssertionError, browsers.WaitTimeout) as failure:
        print(f"FAIL local run: {failure}")
        sys.exit(1)
