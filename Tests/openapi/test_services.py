"""docs/openapi.yaml against the running services (conftest.py's stack).

First real answers, made on purpose (a live session with a visit and a masking record, its ends,
voice codes, refusals, the dev-only paths on both kinds of relay), each checked against the spec;
then schemathesis generates requests for every operation of each service and checks that no
answer is a server error and every answer (status, content type, headers, body) is documented.
The schemathesis runs come last: they end the sessions the first tests use.
"""

import asyncio
import datetime
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import urllib.parse

import pytest
import requests
import schemathesis
import yaml

from conftest import HERE, LOG_DIR, RELAY_ADMIN_TOKEN, REGISTRY_ADMIN_TOKEN, SPEC_PATH, WEBHOOK_SECRET
from live_session import LiveSession
from webhook_signing import signed_headers

SCHEMATHESIS = os.path.join(os.path.dirname(sys.executable), "schemathesis")
HOOKS = os.path.join(HERE, "schemathesis_hooks.py")
CHECKS = "not_a_server_error,status_code_conformance,content_type_conformance,response_headers_conformance," \
         "response_schema_conformance"
# Bounded so the stage stays short in CI: examples per operation, a fixed seed (the same cases every
# run, so a failure repeats), and a deadline for a whole run.
MAX_EXAMPLES = 40
SEED = 16
RUN_DEADLINE = 600
WAIT = 60.0
ADMIN = {"Authorization": f"Bearer {REGISTRY_ADMIN_TOKEN}"}
RUN = time.strftime("%H%M%S")

schema = schemathesis.openapi.from_path(SPEC_PATH)


def conforms(response, path, method):
    """Fails unless the spec documents `response`'s status for the operation and its body matches."""
    operation = schema[path][method.upper()]
    documented = operation.definition.raw["responses"]
    assert str(response.status_code) in documented, \
        f"{method} {path} answered {response.status_code}, not documented: {response.text[:300]}"
    operation.validate_response(response)
    return response


def body(response):
    return response.json() if response.content else None


def wait_for(what, probe, within=WAIT):
    """Polls `probe` until it returns something truthy; fails naming `what` after `within` s."""
    deadline = time.monotonic() + within
    while True:
        value = probe()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what} within {within:.0f} s")
        time.sleep(0.2)


@pytest.fixture(scope="module")
def live(services):
    """Two live sessions on the dev relay: `led` (an agent with a display name joined, a snapshot
    masked) and `idle` (no agent); their sockets stay open for the module."""
    loop = asyncio.new_event_loop()
    interaction = f"openapi-{RUN}"
    led = LiveSession(services.dev_relay, interaction, "openapi-lead")
    idle = LiveSession(services.dev_relay, interaction + "-idle", "openapi-lead")

    async def open_both():
        token = services.dev_token("/dev/interaction-token?" + urllib.parse.urlencode({"interaction": led.interaction}))
        agent = services.dev_token("/dev/agent-token?" + urllib.parse.urlencode({"agent": led.agent, "name": "Ana"}))
        await led.open(token, agent)
        await idle.open(services.dev_token("/dev/interaction-token?" + urllib.parse.urlencode(
            {"interaction": idle.interaction})))

    loop.run_until_complete(open_both())
    try:
        yield {"led": led, "idle": idle}
    finally:
        loop.run_until_complete(led.close())
        loop.run_until_complete(idle.close())
        loop.close()


def test_a_live_session_as_the_registry_reports_it(services, live):
    led = live["led"]
    url = f"{services.registry}/api/sessions/{led.session_id}"

    def masked():
        response = requests.get(url, headers=ADMIN, timeout=30)
        return response if response.status_code == 200 and "masking" in response.json() else None

    response = conforms(wait_for("the filter's masking record in the registry", masked), "/api/sessions/{id}", "get")
    view = response.json()
    assert (view["state"], view["leadAgentID"], view["interactionID"]) == ("active", led.agent, led.interaction)
    assert [(v["agentID"], v.get("name"), v["role"], "leftAt" in v) for v in view["visits"]] == \
        [(led.agent, "Ana", "agent", False)]
    assert view["masking"]["maskedValues"] >= 1, view["masking"]
    # Sorted keys and millisecond UTC instants, as the spec's description says.
    assert list(view) == sorted(view)
    # (Foundation's encoder writes "/" as "\\/"; JSON readers take both.)
    assert response.text.replace("\\/", "/") == json.dumps(view, separators=(",", ":"), sort_keys=True,
                                                           ensure_ascii=False)

    listed = conforms(requests.get(f"{services.registry}/api/sessions", params={"interaction": led.interaction},
                                   headers=ADMIN, timeout=30), "/api/sessions", "get")
    assert [s["id"] for s in listed.json()["sessions"]] == [led.session_id]
    by_agent = conforms(requests.get(f"{services.registry}/api/sessions", params={"agent": led.agent},
                                     headers=ADMIN, timeout=30), "/api/sessions", "get")
    assert led.session_id in [s["id"] for s in by_agent.json()["sessions"]]
    now = datetime.datetime.now(datetime.timezone.utc)
    window = {"from": (now - datetime.timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z"),
              "to": (now + datetime.timedelta(hours=1)).isoformat(timespec="milliseconds").replace("+00:00", "Z")}
    in_window = conforms(requests.get(f"{services.registry}/api/sessions", params=window, headers=ADMIN, timeout=30),
                         "/api/sessions", "get")
    assert {led.session_id, live["idle"].session_id} <= {s["id"] for s in in_window.json()["sessions"]}
    counts = conforms(requests.get(f"{services.registry}/api/sessions/live", headers=ADMIN, timeout=30),
                      "/api/sessions/live", "get").json()
    assert counts["active"] >= 1 and counts["idle"] >= 1, counts


def test_the_supervisors_list_through_the_relay(services, live):
    """Runs before the sessions of `live` end (the next test ends them)."""
    led, idle = live["led"], live["idle"]
    supervisor = services.dev_token("/dev/agent-token?" + urllib.parse.urlencode(
        {"agent": "openapi-supervisor", "role": "supervisor", "name": "Sam"}))
    url = f"{services.dev_relay}/cobrowse/supervision"

    def reported():
        response = requests.get(url, headers={"Authorization": f"Bearer {supervisor}"}, timeout=30)
        rows = {row["sessionID"]: row for row in response.json().get("sessions", [])} if response.status_code == 200 else {}
        return response if rows.get(led.session_id, {}).get("healthStatus", "unknown") != "unknown" else None

    response = conforms(wait_for("the filter's health report on the led session", reported),
                        "/cobrowse/supervision", "get")
    assert response.headers["Cache-Control"] == "no-store"
    rows = {row["sessionID"]: row for row in response.json()["sessions"]}
    assert (rows[led.session_id]["leadAgentID"], rows[led.session_id]["leadAgentName"]) == (led.agent, "Ana")
    assert rows[idle.session_id]["state"] == "idle" and "leadAgentID" not in rows[idle.session_id]
    agent = conforms(requests.get(url, headers={"Authorization": f"Bearer {services.agent_token}"}, timeout=30),
                     "/cobrowse/supervision", "get")
    assert (agent.status_code, agent.json()["code"]) == (403, "not-allowed")
    unsigned = conforms(requests.get(url, timeout=30), "/cobrowse/supervision", "get")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "invalid-token")


def test_the_customers_beacon_end_and_the_administrators_end(services, live):
    led, idle = live["led"], live["idle"]
    beacon = json.dumps({"sessionId": led.session_id, "customerKey": led.customer_key})
    end = f"{services.dev_relay}/cobrowse/end"
    plain = {"Content-Type": "text/plain;charset=UTF-8"}
    conforms(requests.post(end, data=beacon, headers=plain, timeout=30), "/cobrowse/end", "post")
    again = conforms(requests.post(end, data=beacon, headers=plain, timeout=30), "/cobrowse/end", "post")
    assert (again.status_code, again.json()["code"]) == (409, "session-ended")
    view = conforms(requests.get(f"{services.registry}/api/sessions/{led.session_id}", headers=ADMIN, timeout=30),
                    "/api/sessions/{id}", "get").json()
    assert (view["state"], view["endReason"], view["endedBy"]) == ("ended", "customer-exited", "customer")
    assert all("leftAt" in visit for visit in view["visits"]), view["visits"]
    wrong_key = conforms(requests.post(end, data=json.dumps({"sessionId": idle.session_id, "customerKey": "nope"}),
                                       headers=plain, timeout=30), "/cobrowse/end", "post")
    assert (wrong_key.status_code, wrong_key.json()["code"]) == (404, "unknown-session")
    malformed = conforms(requests.post(end, data="{}", headers=plain, timeout=30), "/cobrowse/end", "post")
    assert malformed.status_code == 400

    admin_end = f"{services.registry}/api/sessions/{idle.session_id}/end"
    ended = conforms(requests.post(admin_end, headers=ADMIN, timeout=30), "/api/sessions/{id}/end", "post").json()
    assert (ended["state"], ended["endReason"], ended["endedBy"]) == ("ended", "administrator", "administrator")
    again = conforms(requests.post(admin_end, headers=ADMIN, timeout=30), "/api/sessions/{id}/end", "post")
    assert (again.status_code, again.json()["code"]) == (409, "session-ended")
    unknown = conforms(requests.post(f"{services.registry}/api/sessions/000000000/end", headers=ADMIN, timeout=30),
                       "/api/sessions/{id}/end", "post")
    assert unknown.status_code == 404


def test_voice_codes_through_the_relay_and_the_admin_api(services):
    call = f"openapi-call-{RUN}"
    voice = services.dev_token("/dev/interaction-token?" + urllib.parse.urlencode({"interaction": call, "channel": "voice"}))
    issued = conforms(requests.post(f"{services.dev_relay}/cobrowse/voice-codes", timeout=30,
                                    json={"agentToken": services.agent_token, "interactionToken": voice}),
                      "/cobrowse/voice-codes", "post")
    assert issued.status_code == 201 and issued.headers["Cache-Control"] == "no-store"
    code = issued.json()["code"]
    status = conforms(requests.get(f"{services.dev_relay}/cobrowse/voice-codes/{code}", timeout=30,
                                   headers={"Authorization": f"Bearer {services.agent_token}"}),
                      "/cobrowse/voice-codes/{code}", "get")
    assert status.json()["interactionID"] == call and "sessionID" not in status.json()
    unsigned = conforms(requests.get(f"{services.dev_relay}/cobrowse/voice-codes/{code}", timeout=30),
                        "/cobrowse/voice-codes/{code}", "get")
    assert (unsigned.status_code, unsigned.json()["code"]) == (401, "invalid-token")
    chat = services.dev_token("/dev/interaction-token?channel=chat")
    not_voice = conforms(requests.post(f"{services.dev_relay}/cobrowse/voice-codes", timeout=30,
                                       json={"agentToken": services.agent_token, "interactionToken": chat}),
                         "/cobrowse/voice-codes", "post")
    assert not_voice.json()["code"] == "not-voice"

    issued = conforms(requests.post(f"{services.registry}/api/voice-codes", headers=ADMIN, timeout=30,
                                    json={"interactionId": call + "-cc", "agentId": "openapi-cc-agent"}),
                      "/api/voice-codes", "post")
    assert issued.status_code == 201
    code = issued.json()["code"]
    status = conforms(requests.get(f"{services.registry}/api/voice-codes/{code}", params={"agent": "openapi-cc-agent"},
                                   headers=ADMIN, timeout=30), "/api/voice-codes/{code}", "get")
    assert status.json()["code"] == code
    other = conforms(requests.get(f"{services.registry}/api/voice-codes/{code}", params={"agent": "someone-else"},
                                  headers=ADMIN, timeout=30), "/api/voice-codes/{code}", "get")
    assert (other.status_code, other.json()["code"]) == (404, "code-unknown")


def test_admin_tokens_are_required(services):
    for path in ("/api/sessions/live", "/api/sessions/000000000"):
        for headers in ({}, {"Authorization": "Bearer wrong"}):
            refused = conforms(requests.get(services.registry + path, headers=headers, timeout=30),
                               "/api/sessions/live" if path.endswith("live") else "/api/sessions/{id}", "get")
            assert refused.status_code == 401, path
    relay = services.production_relay
    assert conforms(requests.get(f"{relay}/cobrowse/editor/rules", timeout=30), "/cobrowse/editor/rules", "get").status_code == 401
    in_force = conforms(requests.get(f"{relay}/cobrowse/editor/rules", timeout=30,
                                     headers={"Authorization": f"Bearer {RELAY_ADMIN_TOKEN}"}), "/cobrowse/editor/rules", "get")
    assert in_force.status_code == 200 and in_force.json()["writable"] is True
    # In dev mode without ADMIN_TOKEN the editor is open.
    assert requests.get(f"{services.dev_relay}/cobrowse/editor/rules", timeout=30).status_code == 200


def test_dev_only_paths_exist_only_in_dev_mode(services, spec):
    dev_paths = [path for path, item in spec["paths"].items() if item.get("get", {}).get("x-dev-only")]
    assert sorted(dev_paths) == ["/dev/agent-token", "/dev/interaction-token"]
    for path in dev_paths:
        url = path + "?agent=openapi-dev"
        gone = conforms(requests.get(services.production_relay + url, timeout=30), path, "get")
        assert gone.status_code == 404, path
        there = conforms(requests.get(services.dev_relay + url, timeout=30), path, "get")
        assert there.status_code == 200 and there.headers["Cache-Control"] == "no-store", path
    wrong = conforms(requests.get(services.dev_relay + "/dev/interaction-token?channel=fax", timeout=30),
                     "/dev/interaction-token", "get")
    assert wrong.status_code == 400 and "message" in wrong.json()["error"]


def test_the_webhook_takes_signed_events_only(services):
    url = f"{services.watch}/interaction-events"
    event = json.dumps({"version": 1, "type": "started", "interactionId": f"openapi-webhook-{RUN}", "channel": "voice",
                        "at": "2026-11-21T14:03:07.120Z"}).encode()
    signed = signed_headers(event, WEBHOOK_SECRET)
    accepted = conforms(requests.post(url, data=event, headers=dict(signed, **{"Content-Type": "application/json"}),
                                      timeout=30), "/interaction-events", "post")
    assert accepted.json() == {"result": "accepted", "routingKey": "interaction.voice.started"}
    forged = dict(signed, **{"X-Cobrowse-Signature": "sha256=" + "0" * 64})
    refused = conforms(requests.post(url, data=event, headers=forged, timeout=30), "/interaction-events", "post")
    assert refused.status_code == 401
    stale = signed_headers(event, WEBHOOK_SECRET, timestamp=int(time.time()) - 3600)
    assert conforms(requests.post(url, data=event, headers=stale, timeout=30), "/interaction-events", "post").status_code == 401
    garbage = b'{"version": 1}'
    bad = conforms(requests.post(url, data=garbage, headers=signed_headers(garbage, WEBHOOK_SECRET), timeout=30),
                   "/interaction-events", "post")
    assert bad.status_code == 400


def test_page_rules_and_console_embedders(services):
    rules = conforms(requests.get(f"{services.dev_relay}/cobrowse/rules", params={"url": "https://shop.example/account"},
                                  timeout=30), "/cobrowse/rules", "get")
    assert rules.headers["Cache-Control"] == "no-store"
    missing = conforms(requests.get(f"{services.dev_relay}/cobrowse/rules", timeout=30), "/cobrowse/rules", "get")
    assert missing.status_code == 400
    embedders = conforms(requests.get(f"{services.dev_relay}/agent/embedding.json", timeout=30),
                         "/agent/embedding.json", "get")
    assert embedders.json()["embedders"] == [services.stack.desktop.origin]


def test_every_documented_operation_is_routed(services, spec):
    """Each operation reaches a handler on its service: the router's own 404 has no body."""
    bases = {"registry": services.registry, "relay": services.dev_relay, "watch": services.watch,
             "filter": services.filter}
    for path, item in spec["paths"].items():
        for method in ("get", "post", "put"):
            if method not in item:
                continue
            tags = [tag for tag in item[method]["tags"] if tag in bases]
            concrete = path.replace("{id}", "000000000").replace("{code}", "000000")
            for tag in tags:
                response = requests.request(method.upper(), bases[tag] + concrete, data=b"{}", timeout=60,
                                            headers={"Authorization": f"Bearer {REGISTRY_ADMIN_TOKEN}"})
                assert not (response.status_code == 404 and not response.content), \
                    f"{method.upper()} {path} is not routed on {tag} ({bases[tag]})"
                conforms(response, path, method)


MALFORMED_REQUEST = b"GET /health HTTP/1.1\r\nHost: x\r\nX-Probe: a\x00b\r\n\r\n"  # a NUL byte in a header


def first_answer(base_url, raw, within=5.0):
    """The first bytes a service sends back for the raw request `raw` ("" if none within `within` s)."""
    host, port = urllib.parse.urlsplit(base_url).hostname, urllib.parse.urlsplit(base_url).port
    with socket.create_connection((host, port), timeout=within) as connection:
        connection.sendall(raw)
        try:
            return connection.recv(200).decode("latin-1")
        except socket.timeout:
            return ""


def test_a_malformed_request_is_answered_400_at_once(services):
    """What schemathesis probes first ("Supports NULL byte in headers"): the HTTP layer refuses it."""
    for base in (services.registry, services.watch, services.filter):
        assert first_answer(base, MALFORMED_REQUEST).startswith("HTTP/1.1 400"), base


def test_a_malformed_request_to_a_relay_is_answered_400_at_once(services):
    assert first_answer(services.dev_relay, MALFORMED_REQUEST).startswith("HTTP/1.1 400")


def schemathesis_run(base_url, tag, *options, spec_path=SPEC_PATH, known=None, timeout=RUN_DEADLINE):
    """Runs schemathesis on the operations tagged `tag` against `base_url`; (exit code, output)."""
    env = dict(os.environ, SCHEMATHESIS_HOOKS=HOOKS, PYTHONPATH=HERE, COBROWSE_WEBHOOK_SECRET=WEBHOOK_SECRET,
               COBROWSE_OPENAPI_KNOWN=json.dumps(known or {}))
    command = [SCHEMATHESIS, "run", spec_path, "--url", base_url, "--include-tag", tag, "--checks", CHECKS,
               "--phases", "examples,coverage,fuzzing", "--max-examples", str(MAX_EXAMPLES), "--seed", str(SEED),
               "--workers", "1", "--request-timeout", "30", "--suppress-health-check", "all",
               "--generation-database", "none", "--no-color", *options]
    result = subprocess.run(command, env=env, cwd=LOG_DIR, capture_output=True, text=True, timeout=timeout)
    return result.returncode, result.stdout + result.stderr


@pytest.fixture(scope="module")
def known(services, live):
    """The stack's real ids, for known_values.py (after the tests above used the sessions)."""
    led, idle = live["led"], live["idle"]
    return {"id": [led.session_id, idle.session_id], "interaction": [led.interaction, idle.interaction],
            "agent": [led.agent, "openapi-cc-agent"]}


def test_schemathesis_finds_a_wrong_schema(services):
    """The conformance checks can fail: a spec whose live counts are strings does not pass."""
    with open(SPEC_PATH, encoding="utf-8") as handle:
        wrong = yaml.safe_load(handle)
    wrong["components"]["schemas"]["LiveCounts"]["properties"]["idle"] = {"type": "string"}
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", dir=LOG_DIR, delete=False) as handle:
        yaml.safe_dump(wrong, handle)
    try:
        code, output = schemathesis_run(services.registry, "registry", "--include-operation-id", "liveCounts",
                                        "-H", f"Authorization: Bearer {REGISTRY_ADMIN_TOKEN}", spec_path=handle.name)
    finally:
        os.unlink(handle.name)
    assert code != 0 and "Response violates schema" in output, output[-3000:]


# (name, the service's URL attribute, tag, Authorization header): the relays twice, a dev one with an
# agent token (voice codes; its editor is open) and a production one with its admin token (editor).
RUNS = [
    ("registry", "registry", "registry", lambda s: f"Bearer {REGISTRY_ADMIN_TOKEN}"),
    ("dev-relay", "dev_relay", "relay", lambda s: f"Bearer {s.agent_token}"),
    ("production-relay", "production_relay", "relay", lambda s: f"Bearer {RELAY_ADMIN_TOKEN}"),
    ("watch", "watch", "watch", None),
    ("filter", "filter", "filter", None),
]


@pytest.mark.parametrize("name,attribute,tag,authorization", RUNS, ids=[run[0] for run in RUNS])
def test_schemathesis(services, known, name, attribute, tag, authorization):
    options = ["-H", f"Authorization: {authorization(services)}"] if authorization else []
    code, output = schemathesis_run(getattr(services, attribute), tag, *options, known=known)
    print(output)
    assert code == 0, (f"schemathesis found answers the spec does not allow on {name}:\n{output[-12000:]}\n"
                       f"{services.log_tails()}")
    assert "generated" in output and " 0 generated" not in output, output[-3000:]
