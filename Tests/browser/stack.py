"""The services under test: a fresh RabbitMQ virtual host and real processes on free ports.

A `Stack` owns one isolated virtual host on the private test broker (created through the
management API, deleted at the end), a session-registry, a masking-filter, an interaction-watch
(with the short timeouts of `WATCH_ENV`) and two dom-relay instances (A and B) in dev mode; the
filter and the relays get the masking rules of the test pages (`masking-rules.json`). It also
runs a contact-center desktop (`desktop.DesktopServer`, started before the relays) whose origin
the relays allow to frame the agent console (`CONSOLE_EMBEDDERS`). Every
process logs to its own file under `.run/browser-tests/` and is stopped (SIGTERM, then SIGKILL
after 5 s) by `Stack.stop()`, which the session's `services` fixture (conftest.py) calls when
the run ends; should this Python process die without that, the kernel sends the children
SIGTERM (PR_SET_PDEATHSIG), so no service outlives the run.
"""

import base64
import secrets
import ctypes
import datetime
import json
import os
import re
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
import uuid

import desktop

TOKEN_SECRET = "test-secret-for-the-contact-center-only"
# The broker's users and their permissions: a fresh virtual host gets the same as "/" has.
DEFINITIONS = os.path.join(os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__)))),
                           "deploy", "rabbitmq", "definitions.json")
# The broker user each executable runs as (definitions.json); locally each password is the name.
BROKER_USERS = {"session-registry": "cobrowse-registry", "dom-relay": "cobrowse-relay",
                "masking-filter": "cobrowse-filter", "interaction-watch": "cobrowse-watch",
                "cobrowse-ctl": "cobrowse-ctl"}
# The masking rules of the demo's test pages (masking.html, statement.html), for the relays
# (which hand them to the SDK) and the filter (which enforces them): docs/masking.md.
# The registry's reporting API (GET /api/sessions/{id}: a session's history and masking record).
REGISTRY_ADMIN_TOKEN = "browser-tests-admin-token"
MASKING_RULES = os.path.join(os.path.dirname(os.path.abspath(__file__)), "masking-rules.json")
READY_WITHIN = 60.0
STOP_GRACE = 5.0
# How often the relays report activity to the watch (s): short, so that the watch's timeouts
# below are kept to within about half a second.
ACTIVITY_REPORT_INTERVAL = 0.5
# The interaction watch's timeouts and graces (s) for the whole run: short where a test waits for
# them, long where they would end the sessions of other tests. The demo's Start button opens a
# chat interaction, so chat keeps its long default and messaging is the channel that times out.
# `Stack.restart_watch(**env)` runs the watch with other values for one test.
WATCH_ENV = {
    "INACTIVITY_TIMEOUT_CHAT": "900",
    "INACTIVITY_TIMEOUT_MESSAGING": "4",
    "INACTIVITY_TIMEOUT_VOICE": "0",  # never
    "NO_AGENT_TIMEOUT": "600",
    # Room for a console's reload and sign-in on a busy machine.
    "AGENT_ABSENT_GRACE": "6",
    # Longer than the customer's trips off the site here and in other tests (leaving_the_site…:
    # ~3 s), with room for a busy machine.
    "CUSTOMER_ABSENT_GRACE": "8",
}


def web_root():
    """Only for working on the browser code: COBROWSE_TEST_WEB_ROOT=Services/DOMRelay/Web makes
    the relays serve that folder instead of their bundled copy. deploy/local/test never sets it:
    the tests check what the relay ships."""
    root = os.environ.get("COBROWSE_TEST_WEB_ROOT", "")
    return os.path.abspath(root) if root else ""



def database_key_file(folder):
    """A registry database key in `folder` (made once): the registry encrypts its SQLite file, as in production."""
    path = os.path.join(folder, "registry-database.key")
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as key:
            key.write(secrets.token_hex(32) + "\n")
    return path

class StackError(Exception):
    """The test environment could not be set up (broker, process, port)."""


def environment(name):
    value = os.environ.get(name, "")
    if not value:
        raise StackError(f"{name} is not set: run the browser tests through deploy/local/test "
                         "(or export COBROWSE_TEST_AMQP_URL, COBROWSE_TEST_MANAGEMENT_URL, COBROWSE_BIN_DIR)")
    return value


def http_get(url, timeout=5.0):
    """(status, body) of a GET; status None if nothing answered."""
    try:
        with urllib.request.urlopen(urllib.request.Request(url), timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None, ""


def relay_sockets(relay):
    """A relay's open sockets by side ("sharer", "viewer"), from its /metrics."""
    _, body = relay.get("/metrics")
    counts = {}
    for line in body.splitlines():
        match = re.match(r'cobrowse_relay_sockets\{side="(\w+)"\}\s+([0-9.]+)', line)
        if match:
            counts[match.group(1)] = int(float(match.group(2)))
    return counts


def _die_with_parent():
    """preexec_fn: the child gets SIGTERM when the test runner dies, however it dies."""
    try:
        libc = ctypes.CDLL("libc.so.6", use_errno=True)
        libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


class Service:
    """One executable from COBROWSE_BIN_DIR, started with a minimal environment."""

    def __init__(self, name, executable, log_dir, env):
        self.name = name
        self._port = None
        self.log_path = os.path.join(log_dir, f"{name}.log")
        full_env = {
            "PATH": "/usr/bin:/bin",
            "HTTP_HOST": "127.0.0.1",
            # The kernel picks the port and the service logs it: a port chosen here could be
            # taken by another process before the service binds it.
            "HTTP_PORT": "0",
            "LOG_LEVEL": "info",
            "INSTANCE_ID": name,
        }
        full_env.update(env)
        binary = os.path.join(environment("COBROWSE_BIN_DIR"), executable)
        if not os.access(binary, os.X_OK):
            raise StackError(f"{binary} is missing: build first (swift build)")
        self._log = open(self.log_path, "ab")
        # A service started again under the same name appends to the same log: its port is
        # the one logged after this point.
        self.log_start = self._log.tell()
        self.process = subprocess.Popen([binary], env=full_env, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    @property
    def port(self):
        """The port the service bound (its `listening` log line); None until it has."""
        if self._port is None:
            found = re.search(r"http-port=([0-9]+)", self.tail(lines=10**6, since=self.log_start))
            self._port = int(found.group(1)) if found else None
        return self._port

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def get(self, path, timeout=5.0):
        return http_get(self.base_url + path, timeout)

    def wait_ready(self, within=READY_WITHIN):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise StackError(f"{self.name} exited with status {self.process.returncode} before it was ready;"
                                 f" log:\n{self.tail(40)}")
            if self.port and self.get("/ready", timeout=2.0)[0] == 200:
                return
            time.sleep(0.1)
        raise StackError(f"{self.name} was not ready within {within:.0f} s; log:\n{self.tail(40)}")

    def log_size(self):
        try:
            return os.path.getsize(self.log_path)
        except OSError:
            return 0

    def tail(self, lines=30, since=0):
        """The last `lines` lines the service logged after byte offset `since`."""
        try:
            with open(self.log_path, "rb") as handle:
                handle.seek(since)
                text = handle.read().decode("utf-8", "replace")
        except OSError:
            return "(no log)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self):
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._log.close()


def defined_permissions():
    """{user: {"configure", "write", "read"}} on "/" in definitions.json."""
    with open(DEFINITIONS, encoding="utf-8") as handle:
        definitions = json.load(handle)
    return {entry["user"]: {kind: entry[kind] for kind in ("configure", "write", "read")}
            for entry in definitions["permissions"] if entry["vhost"] == "/"}


def defined_policies():
    """[{name, pattern, apply-to, priority, definition}] on "/" in definitions.json."""
    with open(DEFINITIONS, encoding="utf-8") as handle:
        definitions = json.load(handle)
    return [{key: value for key, value in entry.items() if key != "vhost"}
            for entry in definitions.get("policies", []) if entry["vhost"] == "/"]


class Management:
    """The broker's management API (basic auth with the AMQP URL's user, the administrator)."""

    def __init__(self):
        self.base = environment("COBROWSE_TEST_MANAGEMENT_URL").rstrip("/")
        amqp = urllib.parse.urlsplit(environment("COBROWSE_TEST_AMQP_URL"))
        self.amqp = amqp
        self.user = urllib.parse.unquote(amqp.username or "guest")
        self.password = urllib.parse.unquote(amqp.password or "guest")

    def request(self, method, path, body=None):
        request = urllib.request.Request(self.base + path, method=method,
                                         data=None if body is None else json.dumps(body).encode())
        credentials = base64.b64encode(f"{self.user}:{self.password}".encode()).decode()
        request.add_header("Authorization", "Basic " + credentials)
        request.add_header("Content-Type", "application/json")
        self.last_body = ""
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                self.last_body = response.read().decode("utf-8", "replace")
                return response.status
        except urllib.error.HTTPError as error:
            return error.code
        except (urllib.error.URLError, OSError) as error:
            raise StackError(f"the broker's management API ({self.base}) did not answer: {error}") from error

    def create_vhost(self, name):
        """A fresh virtual host where the administrator (the tests standing in for a filter or
        the contact center) may do anything, every other user of definitions.json has
        exactly its permissions on "/", and the policies are those of "/". Returns the administrator's URL for it."""
        quoted = urllib.parse.quote(name, safe="")
        grants = [(f"/api/vhosts/{quoted}", {}),
                  (f"/api/permissions/{quoted}/{urllib.parse.quote(self.user, safe='')}",
                   {"configure": ".*", "write": ".*", "read": ".*"})]
        grants += [(f"/api/permissions/{quoted}/{urllib.parse.quote(user, safe='')}", permissions)
                   for user, permissions in defined_permissions().items() if user != self.user]
        # The policies too (TTLs, lengths, dead-lettering of the suite's queues), as on "/".
        grants += [(f"/api/policies/{quoted}/{urllib.parse.quote(policy['name'], safe='')}", policy)
                   for policy in defined_policies()]
        for path, body in grants:
            status = self.request("PUT", path, body)
            if status not in (200, 201, 204):
                raise StackError(f"management API PUT {path} answered {status}")
        netloc = self.amqp.netloc
        return urllib.parse.urlunsplit((self.amqp.scheme, netloc, "/" + quoted, "", ""))

    @staticmethod
    def as_user(url, user):
        """`url` with `user`'s credentials (locally each password is the user's name)."""
        parts = urllib.parse.urlsplit(url)
        quoted = urllib.parse.quote(user, safe="")
        host = parts.hostname + (f":{parts.port}" if parts.port else "")
        return urllib.parse.urlunsplit((parts.scheme, f"{quoted}:{quoted}@{host}", parts.path, parts.query, ""))

    def publish(self, vhost, exchange, routing_key, payload):
        """Publishes a message as a service would (the tests use it to stand in for a filter, or
        the contact center). Returns whether a queue took it (`routed`)."""
        path = f"/api/exchanges/{urllib.parse.quote(vhost, safe='')}/{urllib.parse.quote(exchange, safe='')}/publish"
        status = self.request("POST", path, {"properties": {}, "routing_key": routing_key, "payload": payload,
                                             "payload_encoding": "string"})
        if status != 200:
            raise StackError(f"management API POST {path} answered {status}")
        try:
            return bool(json.loads(self.last_body).get("routed"))
        except ValueError:
            return False

    def delete_vhost(self, name):
        self.request("DELETE", f"/api/vhosts/{urllib.parse.quote(name, safe='')}")


class Stack:
    """registry + filter + interaction watch + relays A and B on one fresh virtual host."""

    def __init__(self, log_dir):
        self.log_dir = log_dir
        self.services = []
        self.management = Management()
        self.vhost = f"browser-tests.{uuid.uuid4().hex[:8]}"
        self.vhost_created = False
        self.temp = tempfile.mkdtemp(prefix="cobrowse-browser-tests-")
        self.amqp_url = None
        self.relay_a = self.relay_b = self.watch = None
        self.desktop = None
        # A copy, so that a test can change the rules (the services reload them) and put them back.
        self.rules_path = os.path.join(self.temp, "masking-rules.json")
        shutil.copyfile(MASKING_RULES, self.rules_path)

    def start(self):
        # Its port must be known before the relays start: they allow its origin.
        self.desktop = desktop.DesktopServer()
        self.amqp_url = self.management.create_vhost(self.vhost)
        self.vhost_created = True
        self.registry = self._start("session-registry", "session-registry", {
            "REGISTRY_DATABASE": os.path.join(self.temp, "registry.sqlite"),
            "REGISTRY_DATABASE_KEY_FILE": database_key_file(self.temp),
            "TOKEN_HS256_SECRET": TOKEN_SECRET,
            "ADMIN_TOKEN": REGISTRY_ADMIN_TOKEN,
        })
        self.filter = self._start("masking-filter", "masking-filter", {"MASKING_RULES": self.rules_path})
        self.watch = self._start("interaction-watch", "interaction-watch", WATCH_ENV)
        self.relay_a = self.start_relay("dom-relay-A")
        self.relay_b = self.start_relay("dom-relay-B")
        for service in self.services:
            service.wait_ready()
        return self

    def start_relay(self, name, dev_mode=True, wait=False, env=None):
        """Another relay on the stack; `env` adds to its environment (e.g. ALLOWED_ORIGINS)."""
        extra = env or {}
        # The dev token endpoints sign with the registry's secret.
        env = {"DEV_MODE": "1", "DEV_TOKEN_SECRET": TOKEN_SECRET} if dev_mode else {}
        env.update(extra)
        env["MASKING_RULES"] = self.rules_path
        env["ACTIVITY_REPORT_INTERVAL"] = str(ACTIVITY_REPORT_INTERVAL)
        if self.desktop is not None:
            env["CONSOLE_EMBEDDERS"] = self.desktop.origin
        if web_root():
            env["WEB_ROOT"] = web_root()
        relay = self._start(name, "dom-relay", env)
        if wait:
            relay.wait_ready()
        return relay

    def _start(self, name, executable, env):
        # Each service as its own broker user, with its production permissions.
        env = dict(env, AMQP_URL=Management.as_user(self.amqp_url, BROKER_USERS[executable]))
        service = Service(name, executable, self.log_dir, env)
        self.services.append(service)
        return service

    def session_history(self, session_id):
        """The registry's view of a session (its reporting API), or None if it does not answer."""
        request = urllib.request.Request(f"{self.registry.base_url}/api/sessions/{session_id}",
                                         headers={"Authorization": f"Bearer {REGISTRY_ADMIN_TOKEN}"})
        try:
            with urllib.request.urlopen(request, timeout=5) as response:
                return json.load(response)
        except (OSError, ValueError):
            return None

    def read_rules(self):
        with open(self.rules_path, encoding="utf-8") as handle:
            return json.load(handle)

    def write_rules(self, rules):
        """Replaces the rules file the services watch (they reload it within a few seconds), and
        makes the relays reload it at once (SIGHUP): they poll the file on their own schedule,
        and one still serving the old rules when the filter's resync reaches the SDK would hand
        it those."""
        temporary = self.rules_path + ".new"
        with open(temporary, "w", encoding="utf-8") as handle:
            json.dump(rules, handle, indent=2)
        os.replace(temporary, self.rules_path)
        for service in self.services:
            if service.name.startswith("dom-relay") and service.process.poll() is None:
                service.process.send_signal(signal.SIGHUP)

    def restart_watch(self, **env):
        """Runs the interaction watch again with `env` over `WATCH_ENV` (e.g.
        `NO_AGENT_TIMEOUT="3"`); with no arguments, puts the run's values back. Returns once
        the new watch is ready."""
        if self.watch is not None:
            self.stop_service(self.watch)
        self.watch = self._start("interaction-watch", "interaction-watch", dict(WATCH_ENV, **env))
        self.watch.wait_ready()
        return self.watch

    def publish_interaction(self, kind, interaction_id, channel="chat", **fields):
        """Publishes a contact-center interaction event (`ended`, `transferred`, `conferenced`,
        `started`) as the contact center would, on `contact.interactions` with routing key
        `interaction.<channel>.<kind>`, dated now; returns the body. Fails if no queue took it
        (the watch's queue is not bound)."""
        body = dict({"version": 1, "type": kind, "interactionId": interaction_id, "channel": channel,
                     "at": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="milliseconds").replace("+00:00", "Z")},
                    **fields)
        key = f"interaction.{channel}.{kind}"
        if not self.management.publish(self.vhost, "contact.interactions", key, json.dumps(body)):
            raise StackError(f"no queue took the interaction event {key} (is the watch's queue bound?)")
        return body

    def stop_service(self, service):
        service.stop()
        if service in self.services:
            self.services.remove(service)

    def log_marks(self):
        return {service.name: service.log_size() for service in self.services}

    def log_tails(self, marks=None, lines=25):
        """Each service's log since `marks` (what this test caused), last `lines` lines each."""
        parts = []
        for service in self.services:
            since = (marks or {}).get(service.name, 0)
            text = service.tail(lines, since)
            parts.append(f"--- {service.name} ({service.log_path}) ---\n{text or '(nothing new)'}")
        return "\n".join(parts)

    def stop(self):
        for service in reversed(self.services):
            try:
                service.stop()
            except Exception:  # keep stopping the others
                pass
        shutil.rmtree(self.temp, ignore_errors=True)
        if self.desktop is not None:
            self.desktop.close()
        if self.vhost_created:
            try:
                self.management.delete_vhost(self.vhost)
            except StackError:
                pass
