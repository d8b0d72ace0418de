"""The fault suite's stack: a RabbitMQ node of its own, the four services, and a TCP proxy in
front of the broker for each service.

- The broker is the `faults` profile of deploy/local/lib/common.sh (node
  `cobrowse-faults@localhost`, AMQP 27672, management 27673, data in `.run/faults-broker`,
  wiped at each start except for the suite's own restart in the middle of a run), started and
  stopped through common.sh like every other private broker.
- Each service reaches the broker through its own proxy (`proxy.py`, one process), so a test
  can cut one service from the broker while the others stay connected; each logs in as its
  own broker user (deploy/rabbitmq/definitions.json).
- The services: session-registry, masking-filter, interaction-watch (short graces) and two
  dom-relays A and B in dev mode, on fixed ports below the ephemeral range (a client
  reconnecting to a dead listener on an ephemeral port can connect to itself), each logging
  to `.run/faults/<name>.log`. Children get SIGTERM if this process dies (PR_SET_PDEATHSIG).
"""

import base64
import ctypes
import json
import os
import secrets
import signal
import subprocess
import threading
import time
import urllib.error
import urllib.parse
import urllib.request

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
RUN_DIR = os.path.join(ROOT, ".run", "faults")
PYTHON = "/usr/bin/python3"

BROKER_AMQP_PORT = 27672  # the `faults` profile in deploy/local/lib/common.sh
BROKER_MGMT_PORT = 27673
ADMIN = ("cobrowse", "cobrowse")

TOKEN_SECRET = "faults-suite-secret-of-the-contact-center-0123456789"
ADMIN_TOKEN = "faults-admin-token"

# name: (executable, broker user, proxy port, HTTP port). Proxies and services listen below
# Linux's ephemeral range (32768-60999) and clear of the test (266xx) and run profiles.
SERVICES = {
    "session-registry": ("session-registry", "cobrowse-registry", 27701, 27711),
    "masking-filter": ("masking-filter", "cobrowse-filter", 27702, 27712),
    "interaction-watch": ("interaction-watch", "cobrowse-watch", 27703, 27713),
    "relay-a": ("dom-relay", "cobrowse-relay", 27704, 27714),
    "relay-b": ("dom-relay", "cobrowse-relay", 27705, 27715),
}
RELAYS = ("relay-a", "relay-b")

# Short graces, so that a broker outage of ~12 s (20 s and more with the broker's stop and
# boot) outlasts every one of them, the watch's allowance for a silent relay included.
WATCH_ENV = {
    "CUSTOMER_ABSENT_GRACE": "8",
    "AGENT_ABSENT_GRACE": "6",
    "RELAY_SILENCE_LIMIT": "10",
    "NO_AGENT_TIMEOUT": "600",
    "INACTIVITY_TIMEOUT_CHAT": "900",
}
ACTIVITY_REPORT_INTERVAL = "1"  # well under the graces

# The relays' limits against floods and idle clients (issue 11), by the names the relays read
# (the lead's RelayConfiguration; docs/operations.md has the final list). They are set here so
# that the relays and the suite's checks use the same numbers; each can be overridden from the
# suite's own environment. Names the relays do not read yet are harmless.
LIMIT_DEFAULTS = {
    # Messages per second one customer socket may send.
    "SHARER_FRAMES_PER_SECOND": "300",
    # Messages per second one agent console may send (pointer moves, actions).
    "VIEWER_FRAMES_PER_SECOND": "100",
    # Seconds a new socket has to send its opening message (start, resume, join), and a
    # connection its first request, before the relay closes it.
    "FIRST_MESSAGE_TIMEOUT": "5",
    # Seconds a new TCP connection has to get its first answer (ServiceKit's connection guard);
    # the idle check allows FIRST_MESSAGE_TIMEOUT plus room, so keep it no longer.
    "HTTP_FIRST_REQUEST_TIMEOUT": "5",
    # Connections one client address may hold open on one relay.
    "MAX_CONNECTIONS_PER_ADDRESS": "100",
}
# A socket's budget saves up this many seconds' worth for bursts (FrameBudget.Limits.burst).
BUDGET_BURST_SECONDS = 2.0
# Snapshot requests one session's viewers may cause: one per this many seconds (the filter's
# SessionStream.resyncInterval), and one for a join.
RESYNC_INTERVAL_SECONDS = 2.0
LIMITS = {name: os.environ.get(name, default) for name, default in LIMIT_DEFAULTS.items()}

READY_WITHIN = 90.0
STOP_GRACE = 5.0


FAULT_LINES = []


def report(line):
    """Prints a scenario's figures now; the run's summary repeats them (conftest.py)."""
    FAULT_LINES.append(line)
    print(line, flush=True)


def running(stack):
    """A fixture's body: starts `stack` (stopping what did start if that fails), reports its
    notes, yields it, and stops it."""
    try:
        stack.start()
    except BaseException:
        stack.stop()
        raise
    for note in stack.notes:
        report(f"NOTE {note}")
    yield stack
    stack.stop()


class StackError(Exception):
    """The suite's environment could not be set up."""


def _die_with_parent():
    try:
        ctypes.CDLL("libc.so.6", use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except OSError:
        pass


def http(method, url, body=None, auth=None, headers=None, timeout=5.0):
    """(status, text); status None if nothing answered."""
    request = urllib.request.Request(url, method=method, data=None if body is None else body.encode())
    for name, value in (headers or {}).items():
        request.add_header(name, value)
    if auth:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{auth[0]}:{auth[1]}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return response.status, response.read().decode("utf-8", "replace")
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode("utf-8", "replace")
    except (urllib.error.URLError, OSError):
        return None, ""


def tail_file(path, lines=30, since=0):
    try:
        with open(path, "rb") as handle:
            handle.seek(since)
            text = handle.read().decode("utf-8", "replace")
    except OSError:
        return "(no log)"
    return "\n".join(text.splitlines()[-lines:])


def file_size(path):
    try:
        return os.path.getsize(path)
    except OSError:
        return 0


class Broker:
    """The `faults` node, through deploy/local/lib/common.sh."""

    log_path = os.path.join(RUN_DIR, "broker.log")

    def _common(self, call, keep_data=False):
        env = dict(os.environ)
        if keep_data:
            env["COBROWSE_FAULTS_KEEP_DATA"] = "1"
        with open(self.log_path, "ab") as log:
            result = subprocess.run(["bash", "-c", f"source deploy/local/lib/common.sh; {call}"], cwd=ROOT, env=env,
                                    stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
        if result.returncode != 0:
            raise StackError(f"`{call}` failed (status {result.returncode}):\n{tail_file(self.log_path, 30)}")

    def start(self, keep_data=False):
        """Starts the node and returns once it has booted (definitions loaded)."""
        self._common("broker_start faults", keep_data)

    def stop(self):
        self._common("broker_stop faults")

    def management(self, method, path, body=None, auth=ADMIN):
        return http(method, f"http://127.0.0.1:{BROKER_MGMT_PORT}{path}",
                    None if body is None else json.dumps(body), auth=auth,
                    headers={"Content-Type": "application/json"}, timeout=10)

    def has_user(self, name):
        status, _ = self.management("GET", f"/api/users/{urllib.parse.quote(name, safe='')}")
        return status == 200


class Service:
    """One service process; `start()` again after it stopped or was killed. `spec` (executable,
    broker user, proxy port, HTTP port) and `run_dir` (where its log goes) default to this
    suite's SERVICES and RUN_DIR; the cluster suite (cluster_harness.py) gives its own."""

    def __init__(self, name, env, spec=None, run_dir=None):
        self.name = name
        self.executable, self.user, self.proxy_port, self.port = spec or SERVICES[name]
        self.env = env
        self.log_path = os.path.join(run_dir or RUN_DIR, f"{name}.log")
        self.process = None
        self._log = None

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    @property
    def ws_url(self):
        return f"ws://127.0.0.1:{self.port}"

    def alive(self):
        return self.process is not None and self.process.poll() is None

    def start(self):
        # The kernel sends PR_SET_PDEATHSIG when the *thread* that started the child ends: start
        # services from the main thread only (not from asyncio.to_thread), or they die with it.
        assert threading.current_thread() is threading.main_thread(), "start services from the main thread"
        binary = os.path.join(os.environ.get("COBROWSE_BIN_DIR", ""), self.executable)
        if not os.access(binary, os.X_OK):
            raise StackError(f"{binary} is missing: set COBROWSE_BIN_DIR to the build's bin folder (swift build --show-bin-path)")
        env = {"PATH": "/usr/bin:/bin", "HTTP_HOST": "127.0.0.1", "HTTP_PORT": str(self.port), "LOG_LEVEL": "info",
               "INSTANCE_ID": self.name}
        env.update(self.env)
        self._log = open(self.log_path, "ab")
        self._log.write(f"==== {time.strftime('%H:%M:%S')} fault suite: starting {self.name}\n".encode())
        self._log.flush()
        self.process = subprocess.Popen([binary], env=env, stdout=self._log, stderr=subprocess.STDOUT,
                                        stdin=subprocess.DEVNULL, preexec_fn=_die_with_parent)

    def ready(self):
        return self.alive() and http("GET", self.base_url + "/ready", timeout=2.0)[0] == 200

    def wait_ready(self, within=READY_WITHIN):
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.alive():
                raise StackError(f"{self.name} exited with status {self.process.returncode}; log:\n{self.tail(40)}")
            if self.ready():
                return time.monotonic()
            time.sleep(0.05)
        raise StackError(f"{self.name} was not ready within {within:.0f} s; log:\n{self.tail(40)}")

    def wait_unready(self, within=30.0):
        """Until /ready stops answering 200 (the service noticed a fault); the instant, or None."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            if not self.ready():
                return time.monotonic()
            time.sleep(0.05)
        return None

    def kill9(self):
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        self._close_log()

    def stop(self):
        if self.alive():
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(STOP_GRACE)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self._close_log()

    def _close_log(self):
        if self._log:
            self._log.close()
            self._log = None

    def log_size(self):
        return file_size(self.log_path)

    def tail(self, lines=30, since=0):
        return tail_file(self.log_path, lines, since)


class Proxies:
    """The proxy process (`proxy.py`): one route per service to the broker."""

    log_path = os.path.join(RUN_DIR, "proxy.log")

    def __init__(self):
        routes = {name: [spec[2], BROKER_AMQP_PORT] for name, spec in SERVICES.items()}
        self._log = open(self.log_path, "ab")
        self.process = subprocess.Popen([PYTHON, os.path.join(os.path.dirname(__file__), "proxy.py"), json.dumps(routes)],
                                        stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._log,
                                        preexec_fn=_die_with_parent, text=True, bufsize=1)
        if self.process.stdout.readline().strip() != "ready":
            raise StackError(f"the broker proxies did not start:\n{tail_file(self.log_path)}")

    def command(self, line):
        self.process.stdin.write(line + "\n")
        self.process.stdin.flush()
        answer = self.process.stdout.readline().strip()
        if not answer.startswith("ok"):
            raise StackError(f"proxy command {line!r} answered {answer!r}")
        return answer

    def cut(self, name):
        """Resets every connection of `name` to the broker and refuses new ones; the instant."""
        self.command(f"cut {name}")
        return time.monotonic()

    def heal(self, name):
        self.command(f"heal {name}")
        return time.monotonic()

    def stop(self):
        try:
            self.process.stdin.close()
            self.process.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            self.process.kill()
        self._log.close()


def database_key_file(folder):
    """A registry database key in `folder` (made once): the registry encrypts its SQLite file, as in production."""
    os.makedirs(folder, exist_ok=True)
    path = os.path.join(folder, "registry-database.key")
    if not os.path.exists(path):
        with open(os.open(path, os.O_WRONLY | os.O_CREAT, 0o600), "w") as key:
            key.write(secrets.token_hex(32) + "\n")
    return path


def service_environment(executable, run_dir):
    """The suite's settings for one kind of service (besides AMQP_URL): the registry's database
    in `run_dir` and its secrets, the watch's short graces, the relays' dev mode, reports and
    limits."""
    if executable == "session-registry":
        return {"REGISTRY_DATABASE": os.path.join(run_dir, "registry.sqlite"), "TOKEN_HS256_SECRET": TOKEN_SECRET,
                "ADMIN_TOKEN": ADMIN_TOKEN, "REGISTRY_DATABASE_KEY_FILE": database_key_file(run_dir)}
    if executable == "interaction-watch":
        return dict(WATCH_ENV)
    if executable == "dom-relay":
        return {"DEV_MODE": "1", "DEV_TOKEN_SECRET": TOKEN_SECRET, "ACTIVITY_REPORT_INTERVAL": ACTIVITY_REPORT_INTERVAL,
                **LIMITS}
    return {}


class Stack:
    def __init__(self):
        self.broker = Broker()
        self.proxies = None
        self.services = {}
        self.notes = []

    def start(self):
        os.makedirs(RUN_DIR, exist_ok=True)
        for name in os.listdir(RUN_DIR):
            if name.endswith(".log") or name.endswith(".sqlite") or ".sqlite-" in name:
                os.remove(os.path.join(RUN_DIR, name))
        self.broker.start()
        self.proxies = Proxies()
        users = {}
        for name, (_, user, proxy_port, _) in SERVICES.items():
            if not self.broker.has_user(user):
                # definitions.json does not have the service's own user yet: use the admin meanwhile.
                self.notes.append(f"broker user {user} missing from deploy/rabbitmq/definitions.json: {name} logs in as cobrowse")
                user_password = ADMIN
            else:
                user_password = (user, user)
            users[name] = f"amqp://{user_password[0]}:{user_password[1]}@127.0.0.1:{proxy_port}/%2F"
        for name, (executable, _, _, _) in SERVICES.items():
            self.services[name] = Service(name, dict(service_environment(executable, RUN_DIR), AMQP_URL=users[name]))
        for service in self.services.values():
            service.start()
        self.wait_all_ready()
        return self

    def __getitem__(self, name):
        return self.services[name]

    def relay(self, name):
        return self.services[name]

    def wait_all_ready(self, within=READY_WITHIN):
        """Until every service answers /ready; the instant the last one did."""
        return max(service.wait_ready(within) for service in self.services.values())

    def restart(self, name):
        service = self.services[name]
        service.stop()
        service.start()
        return service.wait_ready()

    def marks(self):
        return {name: service.log_size() for name, service in self.services.items()} | {
            "broker": file_size(Broker.log_path)}

    def tails(self, marks, names=None, lines=25):
        parts = []
        for name, service in self.services.items():
            if names is None or name in names:
                parts.append(f"--- {name} ({service.log_path}) ---\n{service.tail(lines, marks.get(name, 0)) or '(nothing new)'}")
        return "\n".join(parts)

    def session_view(self, session_id):
        """The registry's view of one session (its reporting API), or None if it does not answer."""
        status, text = http("GET", self.services["session-registry"].base_url + f"/api/sessions/{session_id}",
                            headers={"Authorization": f"Bearer {ADMIN_TOKEN}"})
        return json.loads(text) if status == 200 else None

    def stop(self):
        for service in reversed(list(self.services.values())):
            try:
                service.stop()
            except Exception:  # keep stopping the others
                pass
        if self.proxies:
            self.proxies.stop()
        self.broker.stop()
