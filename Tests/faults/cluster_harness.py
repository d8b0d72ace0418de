"""The cluster fault suite's stack: the three-node `cluster-test` RabbitMQ cluster of
deploy/local/lib/cluster.sh and the services on it, each given the three nodes' URLs.

- The cluster is started, stopped, and its nodes killed (kill -9 of the Erlang VM) and started
  again through cluster.sh, the way `harness.Broker` drives common.sh: `cluster_start
  cluster-test` (three nodes, data wiped, definitions.json loaded by node 1, which therefore
  holds the ingest shards and leads the quorum queues at first), `cluster_node_kill`,
  `cluster_node_start`, `cluster_stop`. Its output goes to `.run/faults-cluster/cluster.log`.
- The services are `harness.Service`s with the suite's settings (`harness.service_environment`):
  a session-registry (SQLite in `.run/faults-cluster/`, or PostgreSQL when
  COBROWSE_TEST_POSTGRES_URL is set), up to three masking-filters, the interaction-watch and
  two dom-relays in dev mode. Each logs in as its own broker user with `AMQP_URL` = the three
  nodes' URLs (`cluster_amqp_urls cluster-test <user> <first>`): both relays start at node 1,
  the others are spread over the nodes, so killing node 1 takes the relays' (and the watch's)
  connections, the shards and the quorum queues' leaders at once. HTTP ports 27811-27817, below
  the ephemeral range and clear of the other profiles (test 266xx, faults 276xx/277xx, bench
  286xx, the cluster nodes 296xx-298xx, run and cluster-run).
- What the suite checks it reads where an operator would: the management API (connections are
  named `<executable> <instance>`; each shard's consumers and which one is active), the filters'
  `/metrics` (`cobrowse_filter_shards_owned`, `cobrowse_filter_group_members`), `/ready`, and
  the registry's RPC queue (a request with direct reply-to, as `cobrowse-ctl` sends it).
"""

import json
import os
import socket
import subprocess
import time
import urllib.parse
import uuid

import pika

from harness import (ADMIN, READY_WITHIN, ROOT, Service, Stack, StackError, file_size, http, service_environment,
                     tail_file)

RUN_DIR = os.path.join(ROOT, ".run", "faults-cluster")
PROFILE = "cluster-test"
NODES = (1, 2, 3)
SHARDS = 16  # INGEST_SHARDS, the default of every relay and filter (CobrowseTopology.ingestShardCount)
RPC_QUEUE = "cobrowse.registry.rpc"
CTL_USER = "cobrowse-ctl"  # may write the default exchange, as every RPC caller

# name: (executable, broker user, the node its URL list starts at, HTTP port). The relays first
# on the same node (the one scenario 1 kills), the others spread.
SERVICES = {
    "session-registry": ("session-registry", "cobrowse-registry", 2, 27811),
    "interaction-watch": ("interaction-watch", "cobrowse-watch", 1, 27812),
    "relay-a": ("dom-relay", "cobrowse-relay", 1, 27813),
    "relay-b": ("dom-relay", "cobrowse-relay", 1, 27814),
    "filter-1": ("masking-filter", "cobrowse-filter", 3, 27815),
    "filter-2": ("masking-filter", "cobrowse-filter", 2, 27816),
    "filter-3": ("masking-filter", "cobrowse-filter", 3, 27817),
}
RELAY_NODE = 1
FILTERS = ("filter-1", "filter-2", "filter-3")
BASE = ("session-registry", "interaction-watch", "relay-a", "relay-b")


def instance_of(connection_name):
    """`dom-relay relay-a` -> `relay-a` (connections are named `<service> <instance>`)."""
    return (connection_name or "").rsplit(" ", 1)[-1] or None


def _process_gone(pid):
    """True once `pid` has exited (gone, or a zombie its parent has not reaped yet)."""
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(")", 1)[1].split()[0] in ("Z", "X")
    except (OSError, IndexError):
        return True


class Cluster:
    """The `cluster-test` cluster, through deploy/local/lib/cluster.sh."""

    log_path = os.path.join(RUN_DIR, "cluster.log")

    def __init__(self):
        self.amqp_ports = {}  # node -> AMQP port
        self.management_urls = {}  # node -> management base URL
        self.node_names = {}  # node -> Erlang node name
        self.down = set()  # nodes we killed and have not started again
        self.pids = {}  # node -> OS pid of the VM this suite started

    def _bash(self, call, capture=False):
        with open(self.log_path, "ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} fault suite: {call}\n".encode())
            log.flush()
            result = subprocess.run(["bash", "-c", f"source deploy/local/lib/common.sh; {call}"], cwd=ROOT,
                                    stdout=subprocess.PIPE if capture else log, stderr=log, stdin=subprocess.DEVNULL,
                                    text=True)
        if result.returncode != 0:
            raise StackError(f"`{call}` failed (status {result.returncode}):\n{tail_file(self.log_path, 30)}")
        return result.stdout

    def _learn(self):
        """The nodes' AMQP ports and management URLs (cluster.sh computes them; nothing need run)."""
        out = self._bash('cluster_test_environment; printf "%s\\n" "$COBROWSE_TEST_CLUSTER_AMQP_URLS" '
                         '"$COBROWSE_TEST_CLUSTER_MANAGEMENT_URLS"', capture=True).split("\n")
        amqp, management = out[0].split(","), out[1].split(",")
        for node, url, base in zip(NODES, amqp, management):
            self.amqp_ports[node] = urllib.parse.urlsplit(url).port
            self.management_urls[node] = base

    def running_nodes(self):
        """The nodes whose AMQP port accepts connections."""
        running = []
        for node, port in self.amqp_ports.items():
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                running.append(node)
            except OSError:
                pass
        return running

    def start(self, wait_for_others=300.0):
        """Starts the three nodes (stopping leftovers of ours first, data wiped) and learns their
        addresses; returns once they form one cluster with definitions.json loaded.

        cluster-test is one per machine (fixed node names and ports, whatever the checkout):
        `deploy/local/test` starts it for its Swift tests, and cluster_start stops whatever runs.
        Run from deploy/local/test (COBROWSE_TEST_CLUSTER_* set), the running cluster is that
        run's own, finished with; otherwise one that runs is someone else's test run, so this
        waits (up to `wait_for_others` seconds) until it is gone."""
        self.down.clear()
        self._learn()
        if not os.environ.get("COBROWSE_TEST_CLUSTER_AMQP_URLS"):
            deadline = time.monotonic() + wait_for_others
            while self.running_nodes() and time.monotonic() < deadline:
                time.sleep(2)
        self._bash(f"cluster_start {PROFILE}")
        for node, base in self.management_urls.items():
            status, text = http("GET", base + "/api/overview", auth=ADMIN, timeout=10)
            if status != 200:
                raise StackError(f"node {node}'s management API ({base}) answered {status}")
            self.node_names[node] = json.loads(text)["node"]
        for node in NODES:
            self.pids[node] = self.os_pid(node)

    def _answering_pids(self):
        """{node: OS pid} of the nodes whose management API answers now."""
        pids = {}
        for node, base in self.management_urls.items():
            name = self.node_names.get(node)
            status, text = http("GET", f"{base}/api/nodes/{urllib.parse.quote(name or '', safe='')}", auth=ADMIN,
                                timeout=5) if name else (None, "")
            if status == 200:
                try:
                    pids[node] = int(json.loads(text).get("os_pid") or 0)
                except ValueError:
                    pass
        return pids

    def stop(self):
        """`cluster_stop`, unless the nodes that answer are not the ones this suite started (another
        test run in this or another checkout restarted cluster-test meanwhile: the same node names
        and ports): that cluster is left alone."""
        others = {node: pid for node, pid in self._answering_pids().items() if pid != self.pids.get(node)}
        if others:
            with open(self.log_path, "ab") as log:
                log.write(f"==== {time.strftime('%H:%M:%S')} fault suite: not stopping cluster-test: nodes "
                          f"{sorted(others)} run as other processes than ours (another test run's)\n".encode())
            return
        self._bash(f"cluster_stop {PROFILE}")

    def amqp_urls(self, user, first):
        return self._bash(f"cluster_amqp_urls {PROFILE} {user} {first}", capture=True).strip()

    def node_of(self, name):
        """The node number of an Erlang node name."""
        return next((n for n, full in self.node_names.items() if full == name), None)

    @property
    def live(self):
        return [n for n in NODES if n not in self.down]

    def api(self, path, method="GET", body=None):
        """(status, parsed JSON or None) from the first live node's management API that answers."""
        for node in self.live:
            status, text = http(method, self.management_urls[node] + path, None if body is None else json.dumps(body),
                                auth=ADMIN, headers={"Content-Type": "application/json"}, timeout=10)
            if status is None:
                continue
            try:
                return status, json.loads(text) if text else None
            except ValueError:
                return status, None
        return None, None

    def os_pid(self, node, within=30.0):
        """The OS pid of the node's VM, from the management API (which has it once the node's
        first statistics are in, a few seconds after its start)."""
        deadline = time.monotonic() + within
        while True:
            status, info = self.api(f"/api/nodes/{urllib.parse.quote(self.node_names[node], safe='')}")
            if status == 200 and info and info.get("os_pid"):
                return int(info["os_pid"])
            if time.monotonic() > deadline:
                raise StackError(f"the management API does not give node {node}'s OS pid (status {status})")
            time.sleep(0.2)

    def kill(self, node):
        """kill -9 of the node's VM (`cluster_node_kill`); returns (monotonic, wall-clock)
        instants at which the VM was seen gone (polled every 2 ms from the call on)."""
        pid = self.os_pid(node)
        with open(self.log_path, "ab") as log:
            log.write(f"==== {time.strftime('%H:%M:%S')} fault suite: cluster_node_kill {PROFILE} {node}\n".encode())
            log.flush()
            process = subprocess.Popen(["bash", "-c", f"source deploy/local/lib/common.sh; cluster_node_kill {PROFILE} {node}"],
                                       cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
            deadline = time.monotonic() + 30
            while not _process_gone(pid):
                if time.monotonic() > deadline:
                    process.kill()
                    raise StackError(f"node {node}'s VM (pid {pid}) still runs 30 s after cluster_node_kill")
                time.sleep(0.002)
            instant, wall = time.monotonic(), time.time()
            self.down.add(node)
            status = process.wait(60)
        if status != 0:
            raise StackError(f"cluster_node_kill {PROFILE} {node} failed (status {status}):\n"
                             f"{tail_file(self.log_path, 20)}")
        return instant, wall

    def start_node(self, node):
        """`cluster_node_start`: the node back on its data, rejoined; returns when it runs."""
        self._bash(f"cluster_node_start {PROFILE} {node}")
        self.down.discard(node)
        self.pids[node] = self.os_pid(node)

    def ensure_all_running(self):
        """Starts again any node that is not running (a scenario that failed before restoring it)."""
        for node in NODES:
            status, _ = http("GET", self.management_urls[node] + "/api/overview", auth=ADMIN, timeout=5)
            if node in self.down or status != 200:
                self.start_node(node)


class ClusterStack(Stack):
    """The services on the cluster. `active` names those that should be running; the filters
    among them change per scenario (`use_filters`)."""

    def __init__(self):
        super().__init__()
        self.broker = None
        self.cluster = Cluster()
        self.active = set()

    def start(self, filters=("filter-1", "filter-2")):
        os.makedirs(RUN_DIR, exist_ok=True)
        for name in os.listdir(RUN_DIR):
            if name.endswith(".log") or name.endswith(".sqlite") or ".sqlite-" in name:
                os.remove(os.path.join(RUN_DIR, name))
        self.cluster.start()
        postgres = os.environ.get("COBROWSE_TEST_POSTGRES_URL")
        if postgres:
            self.notes.append("cluster suite: the registry stores sessions in PostgreSQL (COBROWSE_TEST_POSTGRES_URL)")
        for name, (executable, user, first, port) in SERVICES.items():
            env = dict(service_environment(executable, RUN_DIR), AMQP_URL=self.cluster.amqp_urls(user, first))
            if executable == "session-registry" and postgres:
                # The tests' PostgreSQL has no TLS, which encryption=required would insist on.
                env["REGISTRY_DATABASE"] = postgres
                env["REGISTRY_DATABASE_ENCRYPTION"] = "off"
                env.pop("REGISTRY_DATABASE_KEY_FILE", None)
            self.services[name] = Service(name, env, spec=(executable, user, None, port), run_dir=RUN_DIR)
        self.active = set(BASE) | set(filters)
        for name in SERVICES:
            if name in self.active:
                self.services[name].start()
        self.wait_all_ready()
        return self

    def wait_all_ready(self, within=READY_WITHIN):
        return max(self.services[name].wait_ready(within) for name in sorted(self.active))

    @property
    def filters(self):
        return sorted(name for name in self.active if name in FILTERS)

    def wait_listed(self, within=60.0):
        """Until the management API lists a connection of every running service (it shows a new
        connection with its next statistics, up to 5 s later)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            found = self.nodes_of(self.active)
            if all(found.values()):
                return found
            time.sleep(0.2)
        raise StackError(f"the management API does not list every service's connection: {self.nodes_of(self.active)}")

    def use_filters(self, names):
        """Exactly these filters running (the others stopped gracefully); the instant it was so."""
        for name in FILTERS:
            if name not in names and self.services[name].alive():
                self.services[name].stop()
        self.active = set(BASE) | set(names)
        for name in self.active:
            if not self.services[name].alive():
                self.services[name].start()
        return self.wait_all_ready()

    def restart(self, name):
        self.active.add(name)
        return super().restart(name)

    def marks(self):
        return {name: service.log_size() for name, service in self.services.items()} | {
            "cluster": file_size(Cluster.log_path)}

    def stop(self):
        for service in reversed(list(self.services.values())):
            try:
                service.stop()
            except Exception:  # keep stopping the others
                pass
        self.cluster.stop()

    # ---- what the broker says --------------------------------------------------------------

    def connections(self):
        """Every connection of our services the cluster lists: [(instance, node number,
        connected_at in epoch seconds)]; None if no management API answered."""
        status, listing = self.cluster.api("/api/connections?columns=name,user_provided_name,node,connected_at")
        if status != 200 or listing is None:
            return None
        return [(instance_of(c.get("user_provided_name")), self.cluster.node_of(c.get("node")),
                 (c.get("connected_at") or 0) / 1000.0, c.get("name")) for c in listing]

    def nodes_of(self, names):
        """{instance: [node numbers of its connections]} for `names`."""
        found = {name: [] for name in names}
        for instance, node, _, _ in self.connections() or []:
            if instance in found:
                found[instance].append(node)
        return found

    def queue(self, name):
        status, info = self.cluster.api(f"/api/queues/%2F/{urllib.parse.quote(name, safe='')}")
        return info if status == 200 else None

    def shard_consumers(self):
        """{shard: [(filter instance, active)]} from the broker (a missing shard: None)."""
        names = {name: instance for instance, _, _, name in self.connections() or []}
        shards = {}
        for shard in range(SHARDS):
            info = self.queue(f"cobrowse.ingest.shard.{shard}")
            if info is None:
                shards[shard] = None
                continue
            shards[shard] = [(names.get((d.get("channel_details") or {}).get("connection_name")), bool(d.get("active")))
                             for d in info.get("consumer_details") or []]
        return shards

    def filter_gauges(self, name):
        """(shards owned, group members) from the filter's /metrics; None if it does not answer."""
        status, text = http("GET", self.services[name].base_url + "/metrics", timeout=3)
        if status != 200:
            return None
        values = {}
        for line in text.splitlines():
            parts = line.split()
            if len(parts) == 2 and parts[0] in ("cobrowse_filter_shards_owned", "cobrowse_filter_group_members"):
                values[parts[0]] = float(parts[1])
        if len(values) < 2:
            return None
        return int(values["cobrowse_filter_shards_owned"]), int(values["cobrowse_filter_group_members"])

    def gauge_problems(self, filters):
        """Why the running `filters`' gauges are not an even share of the shards ([] if they are)."""
        gauges = {name: self.filter_gauges(name) for name in filters}
        problems = [f"{name}: no metrics" for name, g in gauges.items() if g is None]
        if problems:
            return problems, gauges
        owned = [g[0] for g in gauges.values()]
        problems += [f"{name} sees {g[1]} members" for name, g in gauges.items() if g[1] != len(filters)]
        if sum(owned) != SHARDS:
            problems.append(f"the filters own {sum(owned)} shards in all")
        if max(owned) - min(owned) > 1:
            problems.append(f"uneven: {owned}")
        return problems, gauges

    def shard_problems(self, filters, gauges):
        """Why the broker's shard consumers do not match the filters' gauges ([] if they do): each
        shard exactly one consumer, active, of a running filter, and each filter as many active
        consumers as shards it says it owns."""
        problems = []
        counts = {name: 0 for name in filters}
        for shard, consumers in self.shard_consumers().items():
            if consumers is None:
                problems.append(f"shard {shard} missing")
                continue
            active = [owner for owner, is_active in consumers if is_active]
            if len(consumers) != 1 or len(active) != 1 or active[0] not in counts:
                problems.append(f"shard {shard}: consumers {consumers}")
                continue
            counts[active[0]] += 1
        for name in filters:
            if gauges.get(name) and counts[name] != gauges[name][0]:
                problems.append(f"{name} consumes {counts[name]} shards, says it owns {gauges[name][0]}")
        return problems

    def wait_shards_even(self, filters, within=120.0):
        """Until the filters' gauges are even (sum 16, max-min <= 1, every filter sees them all)
        and the broker agrees (every shard one active consumer, of the filter that claims it).
        Returns (instant the gauges were even, instant the broker agreed, owned per filter);
        raises AssertionError with the last problems after `within` seconds."""
        deadline = time.monotonic() + within
        gauges_even = None
        problems = ["never checked"]
        while time.monotonic() < deadline:
            problems, gauges = self.gauge_problems(filters)
            if problems:
                gauges_even = None
            else:
                gauges_even = gauges_even or time.monotonic()
                problems = self.shard_problems(filters, gauges)
                if not problems:
                    return gauges_even, time.monotonic(), {name: g[0] for name, g in gauges.items()}
            time.sleep(0.1)
        raise AssertionError(f"the shards were not shared out evenly among {list(filters)} within {within:.0f} s: "
                             + "; ".join(problems[:8]))

    # ---- the registry's RPC queue ----------------------------------------------------------

    def registry_rpc(self, node, command, timeout=5.0):
        """One request on cobrowse.registry.rpc through `node`, as cobrowse-ctl, the reply by
        direct reply-to (amq.rabbitmq.reply-to); the decoded reply, or raises."""
        parameters = pika.ConnectionParameters(host="127.0.0.1", port=self.cluster.amqp_ports[node],
                                               credentials=pika.PlainCredentials(CTL_USER, CTL_USER),
                                               connection_attempts=1, socket_timeout=timeout,
                                               blocked_connection_timeout=timeout,
                                               client_properties={"connection_name": "fault-suite rpc"})
        connection = pika.BlockingConnection(parameters)
        try:
            channel = connection.channel()
            replies = []
            channel.basic_consume("amq.rabbitmq.reply-to", lambda _c, _m, props, body: replies.append((props, body)),
                                  auto_ack=True)
            correlation = uuid.uuid4().hex
            channel.basic_publish("", RPC_QUEUE, json.dumps(dict(command, version=1)).encode(),
                                  pika.BasicProperties(reply_to="amq.rabbitmq.reply-to", correlation_id=correlation,
                                                       content_type="application/json"))
            deadline = time.monotonic() + timeout
            while time.monotonic() < deadline:
                connection.process_data_events(time_limit=0.1)
                for props, body in replies:
                    if props.correlation_id == correlation:
                        return json.loads(body)
            raise TimeoutError(f"no reply from the registry within {timeout:.0f} s")
        finally:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass

    def rpc_until_answered(self, node, since, within=90.0):
        """Asks the registry for its live sessions (`listLive`) through `node` until it answers;
        (seconds from `since` to the answer, attempts, the reply, the errors seen)."""
        deadline = time.monotonic() + within
        attempts, errors = 0, []
        while time.monotonic() < deadline:
            attempts += 1
            try:
                reply = self.registry_rpc(node, {"command": "listLive"}, timeout=2.0)
                if isinstance(reply.get("sessions"), list):
                    return time.monotonic() - since, attempts, reply, errors
                errors.append(f"reply without sessions: {str(reply)[:120]}")
            except (pika.exceptions.AMQPError, OSError, TimeoutError, ValueError) as error:
                errors.append(repr(error)[:160])
            time.sleep(0.2)
        return None, attempts, None, errors
