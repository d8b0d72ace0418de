"""live-load: N co-browse sessions × R events/s through our suite and through rrweb-relay, in one
run, A B A B, with delivered %, latency, CPU per process and CPU per delivered event.

Run by `deploy/local/bench live-load`, which starts both systems and passes their processes here;
docs/benchmarks.md ("Load: sessions × events per second") describes the method. Results are
written between <!-- live-load:start --> and <!-- live-load:end --> of a Markdown file.
"""

import argparse
import base64
import datetime
import importlib.metadata
import json
import multiprocessing
import os
import platform
import sys
import time
import urllib.request

import jwt

import loadgen

# The benchmarks' shared Python (Benchmarks/): this script runs as a file, from any directory.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from markdown_section import write_section  # noqa: E402

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")
SYSTEM_NAMES = {"ours": "ours", "rrweb": "rrweb-relay 0.3.0"}
# Per-session rates of the ramp: fine steps where the knees were (issue 12: 10 and 30 ev/s per
# session), up to our relays' default sharer budget (SHARER_FRAMES_PER_SECOND, 300).
DEFAULT_RAMP = [5, 10, 15, 20, 30, 40, 50, 60, 80, 100, 120, 150, 200, 250, 300]
QUICK_RAMP = [10, 20, 40]


# ---------------------------------------------------------------------------------------------
# Processes: CPU and memory from /proc
# ---------------------------------------------------------------------------------------------

def cpu_seconds(pid):
    """utime + stime of a process (all its threads), in seconds; None if it is gone."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except OSError:
        return None
    # After "(comm)": state is field 3, so utime (14) and stime (15) are at 11 and 12.
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS


def rss_bytes(pid):
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        return None
    return None


def machine_busy_seconds():
    """CPU time all cores spent on anything but idling (and waiting for I/O), from /proc/stat."""
    with open("/proc/stat") as f:
        fields = [int(x) for x in f.readline().split()[1:9]]
    user, nice, system, idle, iowait, irq, softirq, steal = fields
    return (user + nice + system + irq + softirq + steal) / CLOCK_TICKS


def cpu_sample(pids):
    return {name: cpu_seconds(pid) for name, pid in pids.items()}


# ---------------------------------------------------------------------------------------------
# The broker's queues (management API): depth during a run, empty before the next one
# ---------------------------------------------------------------------------------------------

class Broker:
    def __init__(self, management_url, user, password):
        self.url = management_url.rstrip("/")
        self.auth = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()

    def depths(self):
        """(deepest ingest shard, deepest relay queue); (None, None) if the API does not answer."""
        request = urllib.request.Request(f"{self.url}/api/queues/%2F?columns=name,messages",
                                         headers={"Authorization": self.auth})
        try:
            with urllib.request.urlopen(request, timeout=5) as answer:
                queues = json.load(answer)
        except Exception:
            return None, None
        ingest = [q.get("messages") or 0 for q in queues if q["name"].startswith("cobrowse.ingest.shard.")]
        relays = [q.get("messages") or 0 for q in queues if q["name"].startswith("amq.gen-")]
        return max(ingest, default=0), max(relays, default=0)


# ---------------------------------------------------------------------------------------------
# Results
# ---------------------------------------------------------------------------------------------

def percentile(sorted_values, q):
    # Nearest rank, as live-bench's Percentiles.
    if not sorted_values:
        return None
    return sorted_values[min(len(sorted_values) - 1, int(len(sorted_values) * q))]


class Result:
    """One scenario for one system: its runs (rounds) pooled."""

    def __init__(self, system, sessions, rate):
        self.system, self.sessions, self.rate = system, sessions, rate
        self.runs = 0
        self.window = 0.0
        self.opened = 0
        self.sent = self.delivered = self.dom_sent = self.dom_delivered = self.dom_within_1s = 0
        self.duplicates = self.foreign = self.unknown = 0
        self.latencies = []
        self.lags = []
        self.cpu = {}  # process name → CPU seconds over the windows
        self.generator_cpu = 0.0
        self.other_cpu = 0.0  # the rest of the machine
        self.generator_peak = 0.0  # the busiest worker's share of one core
        self.sessions_with_loss = self.sessions_resynced = self.sessions_ended = 0
        self.ended_reasons = {}
        self.resync_requests = self.view_gaps = self.unmasked = self.snapshots_seen = 0
        self.frame_bytes = [0, 0]
        self.deflate = set()
        self.rss_before, self.rss_max, self.rss_after = {}, {}, {}
        self.max_ingest = self.max_relay_queue = None
        self.open_failures = []

    def add(self, run):
        self.runs += 1
        self.window += run["window"]
        self.opened += run["opened"]
        self.open_failures += run["failures"]
        for report in run["reports"]:
            self.sent += report["sent"]
            self.delivered += report["delivered"]
            self.dom_sent += report["dom_sent"]
            self.dom_delivered += report["dom_delivered"]
            self.dom_within_1s += report["dom_within_1s"]
            self.duplicates += report["duplicates"]
            self.foreign += report["foreign"]
            self.unknown += report["unknown"]
            self.latencies += report["latencies"]
            self.sessions_with_loss += report["had_loss"]
            self.sessions_resynced += report["had_loss"] and report["resynced"]
            if report["ended"]:
                self.sessions_ended += 1
                self.ended_reasons[report["ended"]] = self.ended_reasons.get(report["ended"], 0) + 1
            self.resync_requests += report["resync_requests"]
            self.view_gaps += report["view_gaps"]
            self.unmasked += report["unmasked"]
            self.snapshots_seen += report["snapshots_seen"]
            self.frame_bytes[0] += report["frame_bytes"][0]
            self.frame_bytes[1] += report["frame_bytes"][1]
            self.deflate.add(report["deflate"])
        self.lags += run["lags"]
        for name, seconds in run["cpu"].items():
            self.cpu[name] = self.cpu.get(name, 0.0) + seconds
        self.generator_cpu += run["generator_cpu"]
        self.other_cpu += run["other_cpu"]
        self.generator_peak = max(self.generator_peak, run["generator_peak"])
        for name, value in run["rss_before"].items():
            self.rss_before.setdefault(name, value)
        for name, value in run["rss_max"].items():
            self.rss_max[name] = max(self.rss_max.get(name, 0), value)
        self.rss_after.update(run["rss_after"])
        for key in ("max_ingest", "max_relay_queue"):
            if run[key] is not None:
                setattr(self, key, max(getattr(self, key) or 0, run[key]))

    @property
    def delivered_share(self):
        return self.delivered / self.sent if self.sent else 0.0

    def latency(self, q):
        values = sorted(self.latencies)
        return percentile(values, q) if q < 1 else (values[-1] if values else None)

    def service_cpu(self):
        return sum(self.cpu.values())

    def cpu_per_event(self):
        """Milliseconds of CPU (the system's processes together) per delivered event."""
        return self.service_cpu() / self.delivered * 1000 if self.delivered else None

    def passes(self, p99_limit):
        p99 = self.latency(0.99)
        return self.sent > 0 and self.delivered == self.sent and p99 is not None and p99 <= p99_limit


# ---------------------------------------------------------------------------------------------
# Driving the workers
# ---------------------------------------------------------------------------------------------

class Bench:
    def __init__(self, args):
        self.args = args
        self.processes = {"ours": {}, "rrweb": {}}
        for spec in args.process:
            system, rest = spec.split(":", 1)
            name, pid = rest.rsplit("=", 1)
            self.processes[system][name] = int(pid)
        self.broker = Broker(args.management, args.management_user, args.management_password)
        self.tokens = {role: jwt.encode({"user_id": f"bench-{role}", "email": f"{role}@bench.example", "role": role},
                                        args.rrweb_secret, algorithm="HS256") for role in ("customer", "admin")}
        context = multiprocessing.get_context("fork")
        self.workers = []
        for _ in range(args.workers):
            parent, child = context.Pipe()
            process = context.Process(target=loadgen.worker_main, args=(child, not args.no_uvloop), daemon=True)
            process.start()
            pid = parent.recv()["pid"]
            self.workers.append((process, parent, pid))
        self.run_number = 0

    def close(self):
        for _, conn, _ in self.workers:
            try:
                conn.send({"quit": True})
            except Exception:
                pass
        for process, _, _ in self.workers:
            process.join(5)

    def log(self, text):
        print(f"[live-load {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)

    def all_pids(self):
        pids = {}
        for system, processes in self.processes.items():
            for name, pid in processes.items():
                pids[(system, name)] = pid
        return pids

    def settle(self):
        """Waits until the previous run's work is done: the broker's ingest shards and relay queues
        empty, and every process of both systems nearly idle (under 10 % of a core together)."""
        started = time.monotonic()
        pids = self.all_pids()
        while time.monotonic() - started < self.args.settle_limit:
            ingest, relays = self.broker.depths()
            before = cpu_sample(pids)
            time.sleep(1.0)
            after = cpu_sample(pids)
            busy = sum((after[k] or 0) - (before[k] or 0) for k in pids)
            if (ingest or 0) == 0 and (relays or 0) == 0 and busy < 0.10:
                return time.monotonic() - started
        self.log(f"not quiet after {self.args.settle_limit:.0f} s; going on")
        return time.monotonic() - started

    def run(self, system, sessions, rate, warmup, window, drain):
        """One run of one system; the raw figures (Result.add pools them)."""
        self.run_number += 1
        tags = [self.run_number * 100_000 + i + 1 for i in range(sessions)]
        pids = {name: pid for name, pid in self.processes[system].items()}
        worker_pids = {f"worker-{i}": pid for i, (_, _, pid) in enumerate(self.workers)}
        rss_before = {name: rss_bytes(pid) for name, pid in pids.items()}
        setup = {"system": system, "cursor_every": self.args.cursor_every, "sharer_relay": self.args.sharer_relay,
                 "viewer_relay": self.args.viewer_relay, "rrweb_url": self.args.rrweb_url, "tokens": self.tokens}
        for i, (_, conn, _) in enumerate(self.workers):
            conn.send(dict(setup, tags=tags[i::len(self.workers)]))
        opened, failures = 0, []
        for _, conn, _ in self.workers:
            answer = conn.recv()
            opened += answer["ready"]
            failures += answer["failures"]
        if failures:
            self.log(f"{system}: {sessions - opened} of {sessions} sessions did not open: {failures[:3]}")
        start = time.monotonic() + 0.5
        window_start, end = start + warmup, start + warmup + window
        for _, conn, _ in self.workers:
            conn.send({"start": start, "window_start": window_start, "end": end, "drain": drain, "rate": rate})
        # Memory and queue depth once a second over the run; CPU at the window's two ends.
        rss_max = dict.fromkeys(pids, 0)
        max_ingest = max_relay = None
        cpu_a = generator_a = None
        while True:
            now = time.monotonic()
            if cpu_a is None and now >= window_start:
                cpu_a, generator_a, machine_a = cpu_sample(pids), cpu_sample(worker_pids), machine_busy_seconds()
                window_started = now
            if now >= end:
                break
            for name, pid in pids.items():
                rss_max[name] = max(rss_max[name], rss_bytes(pid) or 0)
            if system == "ours":
                ingest, relays = self.broker.depths()
                if ingest is not None:
                    max_ingest = max(max_ingest or 0, ingest)
                    max_relay = max(max_relay or 0, relays)
            wake = min(end, window_start if cpu_a is None else end, time.monotonic() + 1.0)
            time.sleep(max(0.0, wake - time.monotonic()))
        cpu_b, generator_b, machine_b = cpu_sample(pids), cpu_sample(worker_pids), machine_busy_seconds()
        measured = time.monotonic() - window_started
        reports, lags = [], []
        for _, conn, _ in self.workers:
            answer = conn.recv()
            reports += answer["reports"]
            lags += answer["lags"]
        rss_after = {name: rss_bytes(pid) for name, pid in pids.items()}
        for name in pids:
            rss_max[name] = max(rss_max[name], rss_after[name] or 0)
        for _, conn, _ in self.workers:
            conn.send({"close": True})
        for _, conn, _ in self.workers:
            conn.recv()
        worker_cpu = {name: (generator_b[name] or 0) - (generator_a[name] or 0) for name in worker_pids}
        cpu = {name: (cpu_b[name] or 0) - (cpu_a[name] or 0) for name in pids}
        return {
            "window": measured, "opened": opened, "failures": failures, "reports": reports, "lags": lags,
            "cpu": cpu,
            "generator_cpu": sum(worker_cpu.values()),
            # Whatever else ran meanwhile (the idle other system, this script, anyone else's work).
            "other_cpu": max(0.0, (machine_b - machine_a) - sum(cpu.values()) - sum(worker_cpu.values())),
            "generator_peak": max(worker_cpu.values()) / measured if measured > 0 else 0.0,
            "rss_before": rss_before, "rss_max": rss_max, "rss_after": rss_after,
            "max_ingest": max_ingest, "max_relay_queue": max_relay,
        }

    def measure(self, result, warmup=None, window=None):
        args = self.args
        run = self.run(result.system, result.sessions, result.rate, args.warmup if warmup is None else warmup,
                       args.window if window is None else window, args.drain)
        result.add(run)
        settled = self.settle()
        p99 = result.latency(0.99)
        self.log(f"{SYSTEM_NAMES[result.system]} {result.sessions}×{result.rate}: "
                 f"{100 * result.delivered_share:.1f} % delivered, p99 "
                 f"{'—' if p99 is None else f'{p99 * 1000:.1f} ms'}, settled in {settled:.0f} s")
        return result


def run_all(bench, args):
    systems = args.systems
    fixed = []
    for load in args.loads:
        sessions, rate = (int(x) for x in load.lower().split("x"))
        results = {system: Result(system, sessions, rate) for system in systems}
        for _ in range(args.rounds):
            for system in systems:  # A B A B
                bench.measure(results[system])
        fixed.append(results)

    ramp, knees = [], {}
    if args.ramp_rates:
        going = list(systems)
        for rate in args.ramp_rates:
            if not going:
                break
            step = {}
            for system in list(going):
                result = bench.measure(Result(system, args.ramp_sessions, rate))
                step[system] = result
                if result.passes(args.p99_limit):
                    knees[system] = rate
                else:
                    going.remove(system)
            ramp.append((rate, step))

    overload = {}
    if args.ramp_rates and not args.no_overload:
        for system in systems:
            rate = 2 * knees.get(system, args.ramp_rates[0] / 2)
            overload[system] = bench.measure(Result(system, args.ramp_sessions, max(1, round(rate))))
    return fixed, ramp, knees, overload


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

def ms(seconds):
    return "—" if seconds is None else (f"{seconds * 1000:.1f}" if seconds < 10 else f"{seconds * 1000:.0f}")


def pct(value):
    return f"{100 * value:.1f} %" if value < 0.9995 or value == 1 else f"{100 * value:.2f} %"


def mib(value):
    return "—" if not value else f"{value / (1 << 20):.0f}"


OURS_PROCESSES = ["registry", "filter", "relay A", "relay B", "watch", "broker"]


def render(args, fixed, ramp, knees, overload, workers):
    versions = {name: importlib.metadata.version(name) for name in
                ("rrweb-relay", "python-socketio", "python-engineio", "uvicorn", "websockets")}
    try:
        versions["uvloop"] = importlib.metadata.version("uvloop")
    except importlib.metadata.PackageNotFoundError:
        pass
    n = args.cursor_every
    suffix = "th" if n % 100 in (11, 12, 13) else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    every = f"every {n}{suffix} event a cursor frame" if n else "no cursor frames"
    all_results = [r for results in fixed for r in results.values()] + \
                  [r for _, step in ramp for r in step.values()] + list(overload.values())
    ours_bytes = [r.frame_bytes for r in all_results if r.system == "ours" and r.frame_bytes[1]]
    theirs_bytes = [r.frame_bytes for r in all_results if r.system == "rrweb" and r.frame_bytes[1]]

    def mean_bytes(items):
        total = sum(i[0] for i in items)
        count = sum(i[1] for i in items)
        return f"{total / count:.0f} B" if count else "—"

    lines = [
        f"Measured {datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')} on "
        f"{os.cpu_count()} cores, everything on this machine. Ours: **{args.binaries} builds**"
        f"{f' (built {args.built})' if args.built else ''}, LOG_LEVEL=warning: "
        f"relay A (sharers) and relay B (viewers), one masking filter, the registry, the interaction watch, "
        f"RabbitMQ {args.rabbitmq_version}. rrweb-relay {versions['rrweb-relay']} (python-socketio "
        f"{versions['python-socketio']}, uvicorn {versions['uvicorn']}, one process). Generator: Python "
        f"{platform.python_version()}, websockets {versions['websockets']}"
        f"{', uvloop ' + versions['uvloop'] if 'uvloop' in versions and not args.no_uvloop else ''}, "
        f"{workers} worker process{'es' if workers > 1 else ''}. Warm-up {args.warmup:g} s, measured window "
        f"{args.window:g} s, drain up to {args.drain:g} s, {args.rounds} round{'s' if args.rounds > 1 else ''} per fixed "
        f"load (A B A B); {every}; mutation frames {mean_bytes(ours_bytes)} (ours) and {mean_bytes(theirs_bytes)} "
        f"(rrweb's format in a Socket.IO event). The generator offers permessage-deflate, as browsers do; "
        f"negotiated by {deflate_text(all_results, args.systems)}.",
        "",
    ]

    if fixed:
        lines += [
            "| load | system | delivered | p50 (ms) | p95 (ms) | p99 (ms) | max (ms) | CPU per delivered event (ms) | generator lag p99 (ms) |",
            "|---|---|---:|---:|---:|---:|---:|---:|---:|",
        ]
        for results in fixed:
            for system, r in results.items():
                lag = percentile(sorted(r.lags), 0.99)
                per_event = r.cpu_per_event()
                lines.append(
                    f"| {r.sessions} × {r.rate} ev/s ({r.sessions * r.rate} ev/s) | {SYSTEM_NAMES[system]} | "
                    f"{pct(r.delivered_share)} | {ms(r.latency(0.5))} | {ms(r.latency(0.95))} | {ms(r.latency(0.99))} | "
                    f"{ms(r.latency(1))} | {'—' if per_event is None else f'{per_event:.3f}'} | {ms(lag)} |")
        lines += ["", "CPU over the measured window, % of one core (utime + stime from `/proc/<pid>/stat`):", "",
                  "| load | system | " + " | ".join(OURS_PROCESSES) + " | rrweb-relay | all of the system | generator (busiest worker) | rest of the machine |",
                  "|---|---|" + "---:|" * (len(OURS_PROCESSES) + 4)]
        for results in fixed:
            for system, r in results.items():
                lines.append(cpu_row(r))
        lines.append("")

    if ramp:
        lines += [
            f"Ramp: {args.ramp_sessions} sessions, the per-session rate raised step by step until p99 > "
            f"{args.p99_limit * 1000:.0f} ms or any frame is lost (a system stops at its first failing step):",
            "",
            "| per session | total | " + " | ".join(f"{SYSTEM_NAMES[s]}: delivered, p99 (ms), CPU/event (ms)" for s in args.systems) + " |",
            "|---:|---:|" + "---|" * len(args.systems),
        ]
        for rate, step in ramp:
            cells = []
            for system in args.systems:
                r = step.get(system)
                if r is None:
                    cells.append("—")
                else:
                    per_event = r.cpu_per_event()
                    mark = "" if r.passes(args.p99_limit) else " ✗"
                    cells.append(f"{pct(r.delivered_share)}, {ms(r.latency(0.99))}, "
                                 f"{'—' if per_event is None else f'{per_event:.3f}'}{mark}")
            lines.append(f"| {rate} ev/s | {rate * args.ramp_sessions} ev/s | " + " | ".join(cells) + " |")
        lines.append("")
        knee_text = []
        for system in args.systems:
            rate = knees.get(system)
            knee_text.append(f"{SYSTEM_NAMES[system]} **{rate * args.ramp_sessions if rate else 0} ev/s**"
                             + (f" ({args.ramp_sessions} × {rate})" if rate else f" (below {args.ramp_sessions} × {args.ramp_rates[0]})"))
        ratio = ""
        if knees.get("ours") and knees.get("rrweb"):
            ratio = f"; ours / rrweb-relay: {knees['ours'] / knees['rrweb']:.1f}×"
        lines += [f"Knee (max sustained rate with p99 ≤ {args.p99_limit * 1000:.0f} ms and no loss): "
                  + ", ".join(knee_text) + ratio + ".", ""]
        ramp_results = [r for _, step in ramp for r in step.values()]
        lines += ["CPU per process in the ramp, % of one core:", "",
                  "| load | system | " + " | ".join(OURS_PROCESSES) + " | rrweb-relay | all of the system | generator (busiest worker) | rest of the machine |",
                  "|---|---|" + "---:|" * (len(OURS_PROCESSES) + 4)]
        lines += [cpu_row(r) for r in ramp_results]
        lines.append("")

    if overload:
        lines += [
            f"Overload: {args.ramp_sessions} sessions at twice each system's knee rate:",
            "",
            "| | " + " | ".join(SYSTEM_NAMES[s] for s in overload) + " |",
            "|---|" + "---|" * len(overload),
        ]

        def row(label, fn):
            lines.append(f"| {label} | " + " | ".join(fn(r) for r in overload.values()) + " |")

        row("load", lambda r: f"{r.sessions} × {r.rate} ev/s ({r.sessions * r.rate} ev/s)")
        row("DOM frames delivered within 1 s", lambda r: pct(r.dom_within_1s / r.dom_sent) if r.dom_sent else "—")
        row(f"DOM frames delivered (within the {args.drain:g} s drain)",
            lambda r: pct(r.dom_delivered / r.dom_sent) if r.dom_sent else "—")
        row("cursor frames delivered", lambda r: pct((r.delivered - r.dom_delivered) / (r.sent - r.dom_sent))
            if r.sent > r.dom_sent else "—")
        row("p50 / p99 / max (ms)", lambda r: f"{ms(r.latency(0.5))} / {ms(r.latency(0.99))} / {ms(r.latency(1))}")
        row("sessions that lost DOM frames", lambda r: f"{r.sessions_with_loss} of {r.opened}")
        row("… of which resynced afterwards", lambda r: (
            f"{r.sessions_resynced} of {r.sessions_with_loss}" if r.system == "ours" or r.sessions_with_loss == 0
            else f"{r.sessions_resynced} of {r.sessions_with_loss} (no resync in its protocol)"))
        row("snapshot requests to sharers / viewer gaps", lambda r: (
            f"{r.resync_requests} / {r.view_gaps}" if r.system == "ours" else "— (none in its protocol)"))
        row("sessions ended", lambda r: f"{r.sessions_ended}" + (
            " (" + ", ".join(f"{k}: {v}" for k, v in r.ended_reasons.items()) + ")" if r.ended_reasons else ""))
        row("RSS before → max → after (MiB)", lambda r: "; ".join(
            f"{name} {mib(r.rss_before.get(name))} → {mib(r.rss_max.get(name))} → {mib(r.rss_after.get(name))}"
            for name in r.rss_before))
        row("deepest ingest shard / relay queue (messages)", lambda r: (
            f"{r.max_ingest} / {r.max_relay_queue}" if r.system == "ours" and r.max_ingest is not None else "—"))
        row("CPU per delivered event (ms)", lambda r: "—" if r.cpu_per_event() is None else f"{r.cpu_per_event():.3f}")
        lines.append("")
        lines += ["| load | system | " + " | ".join(OURS_PROCESSES) + " | rrweb-relay | all of the system | generator (busiest worker) | rest of the machine |",
                  "|---|---|" + "---:|" * (len(OURS_PROCESSES) + 4)]
        lines += [cpu_row(r) for r in overload.values()]
        lines.append("")

    checks = []
    everything = all_results
    duplicates = sum(r.duplicates for r in everything)
    foreign = sum(r.foreign for r in everything)
    unknown = sum(r.unknown for r in everything)
    unmasked = sum(r.unmasked for r in everything if r.system == "ours")
    seen = sum(r.snapshots_seen for r in everything if r.system == "ours")
    failures = sum(r.runs * r.sessions - r.opened for r in everything)
    checks.append(f"duplicates {duplicates}, frames of another session {foreign}, frames never sent {unknown}")
    checks.append(f"snapshots at our viewers with the password in clear: {unmasked} of {seen}")
    checks.append(f"sessions that failed to open: {failures}")
    lines.append("Checks over the whole run: " + "; ".join(checks) + ".")
    return "\n".join(lines)


def deflate_text(results, systems):
    parts = []
    for system in systems:
        seen = set().union(*(r.deflate for r in results if r.system == system)) if results else set()
        answer = {frozenset({True}): "yes", frozenset({False}): "no"}.get(frozenset(seen), "not always" if seen else "—")
        parts.append(f"{SYSTEM_NAMES[system]}: {answer}")
    return ", ".join(parts)


def cpu_row(r):
    window = r.window or 1.0
    cells = []
    for name in OURS_PROCESSES + ["rrweb-relay"]:
        cells.append(f"{100 * r.cpu[name] / window:.0f}" if name in r.cpu else "—")
    return (f"| {r.sessions} × {r.rate} ev/s | {SYSTEM_NAMES[r.system]} | " + " | ".join(cells)
            + f" | {100 * r.service_cpu() / window:.0f} | {100 * r.generator_cpu / window:.0f} ({100 * r.generator_peak:.0f})"
            + f" | {100 * r.other_cpu / window:.0f} |")


def main(argv=None):
    parser = argparse.ArgumentParser(prog="live-load", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sharer-relay", default="http://127.0.0.1:28783", help="our relay A (dev mode)")
    parser.add_argument("--viewer-relay", default="http://127.0.0.1:28784", help="our relay B (dev mode)")
    parser.add_argument("--rrweb-url", default="http://127.0.0.1:28788", help="rrweb-relay")
    parser.add_argument("--rrweb-secret", required=True, help="rrweb-relay's RELAY_JWT_SECRET")
    parser.add_argument("--management", default="http://127.0.0.1:28673", help="RabbitMQ management API")
    parser.add_argument("--management-user", default="cobrowse")
    parser.add_argument("--management-password", default="cobrowse")
    parser.add_argument("--process", action="append", default=[], metavar="SYSTEM:NAME=PID",
                        help="a process whose CPU and memory count for a system (ours:filter=123, rrweb:rrweb-relay=456)")
    parser.add_argument("--systems", default="ours,rrweb", type=lambda s: s.split(","), help="in the order they run")
    parser.add_argument("--loads", default="10x20,50x20,200x20", type=lambda s: [x for x in s.split(",") if x],
                        help="fixed loads, SESSIONSxRATE")
    parser.add_argument("--rounds", type=int, default=2, help="runs per fixed load and system, alternating systems")
    parser.add_argument("--ramp-sessions", type=int, default=50)
    parser.add_argument("--ramp-rates", default=",".join(map(str, DEFAULT_RAMP)),
                        type=lambda s: [int(x) for x in s.split(",") if x], help="per-session rates of the ramp ('' for none)")
    parser.add_argument("--p99-limit", type=float, default=0.100, help="seconds; the ramp's latency limit")
    parser.add_argument("--no-overload", action="store_true", help="skip the run at twice the knee")
    parser.add_argument("--warmup", type=float, default=5.0, help="seconds of load before the measured window")
    parser.add_argument("--window", type=float, default=15.0, help="seconds measured")
    parser.add_argument("--drain", type=float, default=10.0,
                        help="seconds after the last send a frame may still arrive; later it counts as lost")
    parser.add_argument("--cursor-every", type=int, default=5, help="every Nth event is a cursor frame (0: none)")
    parser.add_argument("--workers", type=int, default=2, help="generator processes")
    parser.add_argument("--no-uvloop", action="store_true", help="the generator on asyncio's own loop")
    parser.add_argument("--settle-limit", type=float, default=90.0, help="seconds to wait for quiet between runs")
    parser.add_argument("--quick", action="store_true",
                        help="a short run for development: 1 s warm-up, 3 s windows, 1 round, a short ramp")
    parser.add_argument("--binaries", default="release", help="how our services were built (shown in the results)")
    parser.add_argument("--built", help="when our binaries were built (shown in the results)")
    parser.add_argument("--rabbitmq-version", default="?")
    parser.add_argument("--markdown", help="rewrite this file's live-load section")
    args = parser.parse_args(argv)
    if args.quick:
        args.warmup, args.window, args.drain, args.rounds = 1.0, 3.0, 3.0, 1
        if args.ramp_rates == DEFAULT_RAMP:
            args.ramp_rates = QUICK_RAMP

    bench = Bench(args)
    try:
        bench.settle()
        fixed, ramp, knees, overload = run_all(bench, args)
    finally:
        bench.close()
    table = render(args, fixed, ramp, knees, overload, len(bench.workers))
    print(table)
    if args.markdown:
        write_section(table, args.markdown, "live-load")


if __name__ == "__main__":
    main()
