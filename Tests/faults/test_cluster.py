"""The fault suite on a three-node RabbitMQ cluster (issue 13): the services survive losing a
broker node, and the masking filters share the ingest shards out evenly as they come and go.

The stack is `cluster_harness.ClusterStack` (the `cluster-test` cluster of
deploy/local/lib/cluster.sh and real services from COBROWSE_BIN_DIR, started once for this
file); the load, the checks and the figures are the fault suite's (`load.py`, test_faults.py).
Each scenario prints one `FAULT cluster …` line. Waits are on conditions with generous
deadlines; intervals are measured from the instant the cause happened (the killed VM seen gone,
the filter process spawned or signalled); figures are reported, outcomes asserted.

    COBROWSE_BIN_DIR=.build/debug /usr/bin/python3 -m pytest Tests/faults/test_cluster.py -q -p no:cacheprovider
"""

import asyncio
import collections
import statistics
import time

import pytest

from cluster_harness import FILTERS, NODES, RPC_QUEUE, ClusterStack
from harness import RELAYS, WATCH_ENV, StackError, report, running
from load import Load, now, percentile, secs, summary
from test_faults import basic_failures, end_and_check, run, verdict, warm_up

SESSIONS = 20
# Seconds a recovery may take (a node's loss, a filter joining or leaving) before it counts as
# not happening: generous for a loaded 2-core machine, where each takes a few seconds.
RECOVERY = 90.0
CUSTOMER_GRACE = float(WATCH_ENV["CUSTOMER_ABSENT_GRACE"])
# Resyncs a session may need after its relay's node is killed: one (its relay reconnected).
NODE_KILL_RESYNCS = 1


@pytest.fixture(scope="module")
def cluster():
    yield from running(ClusterStack())


def prepare(cluster, filters):
    """Every node running, exactly `filters` running, every service ready, the shards shared
    out evenly among the filters; fails the scenario (not the product) if that cannot be had."""
    try:
        cluster.cluster.ensure_all_running()
        cluster.use_filters(filters)
        try:
            cluster.wait_shards_even(filters, within=60)
        except AssertionError as error:
            # A scenario before left a filter broken (and failed for it): start them afresh.
            report(f"NOTE cluster: the filters were restarted before the scenario: {error}")
            for name in filters:
                cluster.restart(name)
            cluster.wait_shards_even(filters, within=120)
        cluster.wait_listed()
    except (StackError, AssertionError) as error:
        pytest.fail(f"the cluster stack is not healthy before the scenario: {error}\n"
                    + cluster.tails({}, list(cluster.active), lines=15), pytrace=False)


def resyncs_since(load, start, end=None):
    """Per session, the snapshot requests its sharer got in [start, end)."""
    return [sum(1 for instant, _ in s.sharer.resyncs if instant >= start and (end is None or instant < end))
            for s in load.sessions]


def resync_reasons(load, start, end=None):
    """Why the sharers were asked, counted ("sequence gap: expected 12, got 31" -> "sequence gap")."""
    return dict(collections.Counter((reason or "-").split(":")[0] for s in load.sessions
                                    for instant, reason in s.sharer.resyncs
                                    if instant >= start and (end is None or instant < end)))


def resync_timeline(load, since, sessions, limit=3):
    """When (seconds after `since`) and why the sharers of `sessions` were asked for snapshots."""
    return {i: [f"+{instant - since:.2f}s {reason}" for instant, reason in load.sessions[i].sharer.resyncs
                if instant >= since] for i in list(sessions)[:limit]}


def longest_pauses(load, start, end):
    """Per session, the longest time in [start, end] its viewers went without a stream frame."""
    pauses = []
    for session in load.sessions:
        worst = 0.0
        for viewer in session.viewers:
            times = [start] + [t for t in viewer.frames_received if start < t <= end] + [end]
            worst = max(worst, max(b - a for a, b in zip(times, times[1:])))
        pauses.append(worst)
    return pauses


def resync_text(counts):
    return f"max={max(counts)} mean={statistics.mean(counts):.2f} sessions-resynced={sum(1 for c in counts if c)}"


def spread(values):
    values = [v for v in values if v is not None]
    if not values:
        return "-"
    return f"p50={secs(percentile(values, 0.5))} max={secs(max(values))}"


# --------------------------------------------------------------------------------------------
# 1. kill -9 of the broker node the relays are connected to
# --------------------------------------------------------------------------------------------

def wait_reconnected(cluster, victim, within):
    """Until every running service has a connection on a live node and answers /ready:
    (the instant they all did or None, the services still not there after `within` seconds)."""
    deadline = time.monotonic() + within
    pending = sorted(cluster.active)
    while time.monotonic() < deadline:
        connections = cluster.connections() or []
        pending = [name for name in sorted(cluster.active)
                   if not any(instance == name and node is not None and node != victim
                              for instance, node, _, _ in connections) or not cluster[name].ready()]
        if not pending:
            return time.monotonic(), []
        time.sleep(0.1)
    return None, pending


def shards_even_or_error(cluster, filters, within):
    """(instant the broker agreed, owned per filter, None) or (None, None, the problems)."""
    try:
        _, settled, owned = cluster.wait_shards_even(filters, within)
        return settled, owned, None
    except AssertionError as error:
        return None, None, str(error)


def test_node_kill_under_the_relays(cluster):
    """20 sessions stream, their sharers and viewers spread over the two relays, two filters
    running. The broker node both relays are connected to (found through the management API)
    gets kill -9; with it go the ingest shards and the quorum queues' leaders that node 1 holds.
    Every service must end up connected to a live node and ready, the registry's quorum RPC queue
    must answer, every session must stream again after at most one resync, none may end, and no
    frame may be lost after its resync, reordered, foreign or leaked. A new session must start
    and stream afterwards."""
    prepare(cluster, ("filter-1", "filter-2"))
    nodes = cluster.nodes_of(RELAYS)
    if not all(len(found) == 1 for found in nodes.values()) or len({found[0] for found in nodes.values()}) != 1:
        for relay in RELAYS:  # a scenario before moved them: they start from their first node again
            cluster.restart(relay)
        cluster.wait_listed()
        nodes = cluster.nodes_of(RELAYS)
    assert all(len(found) == 1 for found in nodes.values()) and len({found[0] for found in nodes.values()}) == 1, (
        f"the relays are not connected to one node: {nodes}")
    victim = nodes[RELAYS[0]][0]
    rpc_node = next(node for node in NODES if node != victim)
    before = {instance: (node, at) for instance, node, at, _ in cluster.connections() or []
              if instance in cluster.active}
    on_victim = sorted(name for name, (node, _) in before.items() if node == victim)
    leader_before = (cluster.queue(RPC_QUEUE) or {}).get("leader")
    marks = cluster.marks()
    failures = []

    async def scenario():
        load = Load(cluster, "nk", SESSIONS, rate=10)
        fresh = Load(cluster, "nf", 2, rate=10)
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            killed, killed_wall = await asyncio.to_thread(cluster.cluster.kill, victim)
            # From the kill on, at once: the registry asked through a live node until it answers,
            # the services back on live nodes and ready, the shards consumed again, the sessions
            # delivering again; each within RECOVERY seconds.
            rpc, (reconnected, missing), shards, pending = await asyncio.gather(
                asyncio.to_thread(cluster.rpc_until_answered, rpc_node, killed, RECOVERY),
                asyncio.to_thread(wait_reconnected, cluster, victim, RECOVERY),
                asyncio.to_thread(shards_even_or_error, cluster, cluster.filters, RECOVERY),
                load.wait_resumed(killed, RECOVERY))
            recovered = max([t for t in (reconnected, shards[0]) if t is not None], default=now())
            if missing:
                failures.append(f"not connected to a live node and ready {RECOVERY:.0f} s after the kill: {missing}")
            shards_even, owned, shard_error = shards
            if shard_error:
                failures.append(f"after the kill: {shard_error}")
            # Connections as they are now: each service on a live node, and since when.
            after = {instance: (node, at) for instance, node, at, _ in cluster.connections() or []
                     if instance in cluster.active}
            # Afterwards a new customer starts (the registry's create and join through the
            # relays) and streams through a filter's re-declared shard.
            fresh_error = None
            try:
                await fresh.open(45)
                fresh.stream()
                await warm_up(fresh, frames=5, timeout=45)
            except AssertionError as error:
                fresh_error = str(error)
            # Nothing may end within a grace of the recovery (the watch reconnected too).
            await asyncio.sleep(max(0.0, recovered + CUSTOMER_GRACE + 2 - now()))
            drain = 5 if pending or fresh_error else 30  # a session that never resumed will not drain either
            undrained = await load.drain(drain) + [f"new-{i}" for i in await fresh.drain(drain)]
            figures = load.analyze(windows=[(killed, recovered)])
            fresh_figures = fresh.analyze()
            resyncs = resyncs_since(load, killed)
            reasons = resync_reasons(load, killed)
            timeline = resync_timeline(load, killed, [i for i, c in enumerate(resyncs) if c > 1])
            resumes = load.resume_times(killed)
            leader_after = (cluster.queue(RPC_QUEUE) or {}).get("leader")
            await end_and_check(load, failures)
            await end_and_check(fresh, failures)
            return dict(killed_wall=killed_wall, reconnected=reconnected and reconnected - killed,
                        shards_even=shards_even and shards_even - killed, owned=owned, pending=pending, rpc=rpc,
                        after=after,
                        fresh_error=fresh_error, undrained=undrained, figures=figures, fresh_figures=fresh_figures,
                        resyncs=resyncs, reasons=reasons, timeline=timeline, resumes=resumes, leader_after=leader_after)
        finally:
            await load.close()
            await fresh.close()

    try:
        result = run(scenario(), 300)
    finally:
        try:
            cluster.cluster.start_node(victim)
        except StackError as error:
            report(f"NOTE could not start node {victim} again after the scenario: {error}")
    figures, resyncs, after = result["figures"], result["resyncs"], result["after"]
    rpc_took, rpc_attempts, _, rpc_errors = result["rpc"]
    moves = []
    for name in sorted(cluster.active):
        node_before, at_before = before.get(name, (None, None))
        node_after, at_after = after.get(name, (None, None))
        if node_after is None:
            moves.append(f"{name}:gone")
        elif at_before is not None and abs(at_after - at_before) < 0.002:
            moves.append(f"{name}:kept@{node_after}")
        else:
            moves.append(f"{name}:{node_before}->{node_after}+{secs(at_after - result['killed_wall'])}")
    line = (f"FAULT cluster node-kill: node {victim} (relays' node; also on it: "
            f"{','.join(n for n in on_victim if n not in RELAYS) or '-'}) killed; connections {' '.join(moves)}; "
            f"all-ready+on-live-nodes={secs(result['reconnected'])} shards-even(broker)={secs(result['shards_even'])} "
            f"owned={result['owned']} rpc-answered={secs(rpc_took)} (attempts {rpc_attempts}, leader "
            f"{leader_before}->{result['leader_after']}) resume {spread(result['resumes'])} "
            f"resyncs/session {resync_text(resyncs)} reasons={result['reasons']} {summary(figures)} "
            f"new-session={'ok' if not result['fresh_error'] else 'FAILED'}")
    failures = basic_failures(figures) + failures
    if result["pending"]:
        failures.append(f"sessions {result['pending'][:10]} never delivered again after the kill")
    # One resync per session: the relays hold what they publish into a shard whose queue died
    # with the node until a filter has declared it again, and the filter drops a viewers' request
    # that the snapshot it already got answers (the request came through the other relay, later).
    too_many = {i: c for i, c in enumerate(resyncs) if c > NODE_KILL_RESYNCS}
    if too_many:
        failures.append(f"sessions resynced more than {NODE_KILL_RESYNCS} times after the kill (session: resyncs): "
                        f"{too_many}; e.g. {result['timeline']}")
    if rpc_took is None:
        failures.append(f"the registry's RPC queue did not answer within {RECOVERY:.0f} s of the kill "
                        f"({rpc_attempts} attempts; last errors {rpc_errors[-3:]})")
    wrong = [name for name in cluster.active if after.get(name, (victim,))[0] in (None, victim)]
    if wrong:
        failures.append(f"services without a connection on a live node at the end: {wrong}")
    # A service whose node lived has no reason to reconnect (its connection stayed up).
    dropped = [name for name in cluster.active if name not in on_victim and name in before and name in after
               and abs(after[name][1] - before[name][1]) >= 0.002]
    if dropped:
        failures.append(f"services whose node lived reconnected anyway (their connection was lost): {dropped}")
    if result["fresh_error"]:
        failures.append(f"a new session after the kill: {result['fresh_error']}")
    failures += [f"new session: {f}" for f in basic_failures(result["fresh_figures"])]
    if result["undrained"]:
        failures.append(f"sessions {result['undrained'][:10]} never delivered all they sent")
    verdict(cluster, marks, line, failures)


# --------------------------------------------------------------------------------------------
# 2. Filters 1 -> 3 -> 2 while streaming
# --------------------------------------------------------------------------------------------

def test_filters_one_three_two(cluster):
    """20 sessions stream through one filter; two more start (3 running), then one stops
    gracefully (2). After each change the shards must be shared out evenly (the filters'
    gauges sum to 16, differ by at most one, and each shard has exactly one active consumer, of
    the filter that claims it), every session must deliver again after at most one resync per
    change, and nothing may be lost after its resync, reordered, foreign or leaked."""
    prepare(cluster, ("filter-1",))
    marks = cluster.marks()
    failures = []

    async def change(load, what, cause, filters, phases):
        try:
            gauges_even, settled, owned = await asyncio.to_thread(cluster.wait_shards_even, filters, 120)
        except AssertionError as error:
            failures.append(f"{what}: {error}")
            gauges_even = settled = owned = None
        pending = await load.wait_resumed(settled or now(), 60)
        if pending:
            failures.append(f"{what}: sessions {pending[:10]} did not deliver again")
        phases.append(dict(what=what, cause=cause, gauges=gauges_even and gauges_even - cause,
                           settled=settled and settled - cause, end=settled or now(), owned=owned,
                           pauses=longest_pauses(load, cause, now())))

    async def scenario():
        load = Load(cluster, "rb", SESSIONS, rate=10)
        phases = []
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            cause = now()
            for name in ("filter-2", "filter-3"):
                cluster.active.add(name)
                cluster[name].start()  # from the main thread (PR_SET_PDEATHSIG follows the thread)
            await change(load, "1->3", cause, ["filter-1", "filter-2", "filter-3"], phases)
            cause = now()
            await asyncio.to_thread(cluster["filter-3"].stop)  # SIGTERM: a goodbye, then exit
            cluster.active.discard("filter-3")
            await change(load, "3->2", cause, ["filter-1", "filter-2"], phases)
            ended = now()
            undrained = await load.drain(30)
            figures = load.analyze(windows=[(p["cause"], p["end"]) for p in phases])
            for index, phase in enumerate(phases):
                until = phases[index + 1]["cause"] if index + 1 < len(phases) else ended
                phase["resyncs"] = resyncs_since(load, phase["cause"], until)
                phase["reasons"] = resync_reasons(load, phase["cause"], until)
            await end_and_check(load, failures)
            return figures, phases, undrained
        finally:
            await load.close()

    figures, phases, undrained = run(scenario(), 330)
    parts = []
    for phase in phases:
        parts.append(f"{phase['what']}: gauges-even={secs(phase['gauges'])} broker-agrees={secs(phase['settled'])} "
                     f"owned={phase['owned']} longest-pause/session {spread(phase['pauses'])} "
                     f"resyncs/session {resync_text(phase['resyncs'])} reasons={phase['reasons']}")
    line = f"FAULT cluster filters-1-3-2: {'; '.join(parts)}; {summary(figures)}"
    failures = basic_failures(figures) + failures
    if undrained:
        failures.append(f"sessions {undrained[:10]} never delivered all they sent")
    # A change moves a shard once (newcomers settle together): its sessions resync once at most.
    for phase in phases:
        too_many = {i: c for i, c in enumerate(phase["resyncs"]) if c > 1}
        if too_many:
            failures.append(f"{phase['what']}: sessions resynced more than once (session: resyncs): {too_many}; "
                            f"reasons {phase['reasons']}")
    verdict(cluster, marks, line, failures, ["relay-a", "relay-b", *FILTERS])


# --------------------------------------------------------------------------------------------
# 3. kill -9 of one filter of two
# --------------------------------------------------------------------------------------------

def test_filter_kill9_of_two(cluster):
    """20 sessions stream through two filters; one gets SIGKILL (no goodbye). The other must
    take all 16 shards once the dead one's heartbeat expires (3.5 s; the time is reported),
    every session must deliver again after at most one resync, and nothing may be lost after
    its resync, reordered, foreign or leaked."""
    prepare(cluster, ("filter-1", "filter-2"))
    marks = cluster.marks()
    failures = []

    async def scenario():
        load = Load(cluster, "fk", SESSIONS, rate=10)
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            killed = now()
            await asyncio.to_thread(cluster["filter-2"].kill9)
            cluster.active.discard("filter-2")
            try:
                gauges_even, settled, owned = await asyncio.to_thread(cluster.wait_shards_even, ["filter-1"], 60)
            except AssertionError as error:
                failures.append(str(error))
                gauges_even = settled = owned = None
            pending = await load.wait_resumed(killed, 60)
            recovered = settled or now()
            undrained = await load.drain(30)
            figures = load.analyze(windows=[(killed, recovered)])
            resyncs = resyncs_since(load, killed)
            reasons = resync_reasons(load, killed)
            timeline = resync_timeline(load, killed, [i for i, c in enumerate(resyncs) if c > 1])
            resumes = load.resume_times(killed)
            await end_and_check(load, failures)
            return (figures, gauges_even and gauges_even - killed, settled and settled - killed, owned, pending,
                    resyncs, reasons, timeline, resumes, undrained)
        finally:
            await load.close()

    figures, gauges, settled, owned, pending, resyncs, reasons, timeline, resumes, undrained = run(scenario(), 240)
    line = (f"FAULT cluster filter-kill-9: survivor-owns-16 gauges={secs(gauges)} broker-agrees={secs(settled)} "
            f"owned={owned} resume {spread(resumes)} resyncs/session {resync_text(resyncs)} reasons={reasons} "
            f"{summary(figures)}")
    failures = basic_failures(figures) + failures
    if pending:
        failures.append(f"sessions {pending[:10]} never delivered again after the kill")
    too_many = {i: c for i, c in enumerate(resyncs) if c > 1}
    if too_many:
        failures.append(f"sessions resynced more than once after the kill (session: resyncs): {too_many}; "
                        f"e.g. {timeline}")
    if undrained:
        failures.append(f"sessions {undrained[:10]} never delivered all they sent")
    verdict(cluster, marks, line, failures, ["relay-a", "relay-b", "filter-1", "filter-2"])
