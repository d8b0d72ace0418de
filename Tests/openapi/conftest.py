"""The services the OpenAPI tests talk to: the browser tests' stack (Tests/browser/stack.py: a
registry with an admin token, a masking filter, an interaction watch and two dev-mode relays on a
fresh virtual host of the test broker), plus the watch's webhook turned on and a production
relay (no dev mode, with an admin token), so both sides of the dev-only and admin paths answer.
"""

import json
import os
import sys
import urllib.error
import urllib.request

import pytest
import yaml

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
SPEC_PATH = os.path.join(ROOT, "docs", "openapi.yaml")
sys.path.append(os.path.join(ROOT, "Tests", "browser"))

import stack as browser_stack  # noqa: E402  (Tests/browser is put on the path just above)

WEBHOOK_SECRET = "openapi-tests-webhook-secret-of-32-bytes-or-more"
RELAY_ADMIN_TOKEN = "openapi-tests-relay-admin-token"
REGISTRY_ADMIN_TOKEN = browser_stack.REGISTRY_ADMIN_TOKEN
LOG_DIR = os.path.join(ROOT, ".run", "openapi-tests")


class Services:
    """The running stack, and what a client of each API needs: base URLs and tokens."""

    def __init__(self, stack, production_relay):
        self.stack = stack
        self.registry = stack.registry.base_url
        self.dev_relay = stack.relay_a.base_url
        self.production_relay = production_relay.base_url
        self.watch = stack.watch.base_url
        self.filter = stack.filter.base_url
        self.agent_token = self.dev_token("/dev/agent-token?agent=openapi-agent")

    def dev_token(self, path_and_query):
        """A token from the dev relay's dev endpoints."""
        status, body, _ = request("GET", self.dev_relay + path_and_query)
        assert status == 200, f"{path_and_query} answered {status}: {body!r}"
        return json.loads(body)["token"]

    def log_tails(self):
        """The end of each service's log (in .run/openapi-tests/), for a failure's message."""
        return self.stack.log_tails()


def request(method, url, body=None, headers=None, timeout=30.0):
    """(status, body bytes, headers) of one HTTP request; errors are answers too."""
    data = body if body is None or isinstance(body, bytes) else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None and "Content-Type" not in req.headers:
        req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=timeout) as response:
            return response.status, response.read(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read(), error.headers


@pytest.fixture(scope="session")
def spec():
    """docs/openapi.yaml, parsed."""
    with open(SPEC_PATH, encoding="utf-8") as handle:
        return yaml.safe_load(handle)


@pytest.fixture(scope="session")
def services():
    """The stack, started once for the whole run and stopped at its end whatever happened."""
    os.makedirs(LOG_DIR, exist_ok=True)
    stack = browser_stack.Stack(LOG_DIR)
    try:
        stack.start()
        stack.restart_watch(WEBHOOK_SECRET=WEBHOOK_SECRET)
        production = stack.start_relay("dom-relay-production", dev_mode=False, wait=True,
                                       env={"ADMIN_TOKEN": RELAY_ADMIN_TOKEN})
        yield Services(stack, production)
    finally:
        stack.stop()
