"""The fault suite (issue 11): the whole product under faults, on a broker node of its own.

Each scenario streams sessions through the real services, causes one fault, and prints one
`FAULT <name>: …` line of what it measured; it fails on any loss, wrong end, leak or starved
bystander, printing its figures and the tail of the services' logs. Nothing waits a fixed time
for something to happen: waits are on events, with generous timeouts for a loaded 2-core
machine, and intervals are measured from the instant the cause happened. Fixed durations are
only the faults' own (an outage of 12 s) and observation windows in which nothing may happen
(a grace after a recovery, during which no session may end).

    COBROWSE_BIN_DIR=.build/debug /usr/bin/python3 -m pytest Tests/faults -q
"""

import asyncio
import json
import math
import os
import random
import socket
import subprocess
import sys
import time

import pika
import pytest
import websockets

from harness import (ADMIN, BROKER_AMQP_PORT, BUDGET_BURST_SECONDS, LIMITS, PYTHON, RESYNC_INTERVAL_SECONDS, SERVICES,
                     WATCH_ENV, report)
from load import LEAK_MARKERS, Load, Sharer, dev_token, ms, now, secs, summary, wait_for

HERE = os.path.dirname(os.path.abspath(__file__))
CUSTOMER_GRACE = float(WATCH_ENV["CUSTOMER_ABSENT_GRACE"])
AGENT_GRACE = float(WATCH_ENV["AGENT_ABSENT_GRACE"])
VIEWER_BUDGET = float(LIMITS["VIEWER_FRAMES_PER_SECOND"])
FIRST_MESSAGE_TIMEOUT = float(LIMITS["FIRST_MESSAGE_TIMEOUT"])


def run(coroutine, timeout):
    """Runs one scenario, bounded as a whole."""
    return asyncio.run(asyncio.wait_for(coroutine, timeout))


def verdict(stack, marks, line, failures, services=None):
    """Reports the figures; fails with them and the services' logs if anything failed."""
    report(line)
    if failures:
        pytest.fail(f"{line}\nfailed: " + "; ".join(failures) + "\n" + stack.tails(marks, services), pytrace=False)


def ends_text(figures):
    return ",".join(f"{side}#{index}:{reason}" for index, side, reason in figures["ends"][:6]) or "none"


def basic_failures(figures, what="sessions"):
    failures = []
    if figures["lost"]:
        failures.append(f"{figures['lost']} frames lost ({figures['lost_by_session']}; e.g. {figures['lost_samples']})")
    if figures["reordered"]:
        failures.append(f"{figures['reordered']} frames out of order")
    if figures["foreign"]:
        failures.append(f"{figures['foreign']} foreign frames")
    if figures["leaks"]:
        failures.append(f"{figures['leaks']} raw leaks, e.g. {figures['leak_samples'][:1]}")
    if figures["ended"]:
        failures.append(f"{figures['ended']} {what} ended by the fault ({ends_text(figures)})")
    return failures


async def warm_up(load, frames=10, timeout=60.0):
    """Until every viewer has received `frames` frames: the load is flowing."""
    await wait_for(lambda: all(len(v.deliveries) >= frames for s in load.sessions for v in s.viewers), timeout,
                   f"{frames} frames at every viewer", load.describe_errors)


async def end_and_check(load, failures, reason="customer-exited"):
    """Ends every session as its customer; every party must be told, with `reason`."""
    untold = await load.end()
    if untold:
        failures.append(f"sessions {untold[:8]}: not every party was told `ended` after the customer's end")
    wrong = [(s.index, p.side, p.ended[1]) for s in load.sessions for p in s.parties
             if p.ended and p.ended[0] >= load.ending and p.ended[1] != reason]
    if wrong:
        failures.append(f"ended with the wrong reason (expected {reason}): {wrong[:6]}")


# --------------------------------------------------------------------------------------------
# 1. The broker stopped for longer than every grace
# --------------------------------------------------------------------------------------------

OUTAGE = 12.0  # s between stopping the broker and starting it again (its boot comes on top)
SESSIONS = 20


def test_broker_outage_longer_than_every_grace(stack):
    """20 sessions stream; the broker stops for longer than the watch's graces and comes back.
    Every party keeps its socket (or resumes it, as the SDK and console would), so no session
    may end, and every one must stream again within 5 s of the broker's return."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, "bo", SESSIONS, rate=10)
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            stopped = now()
            await asyncio.to_thread(stack.broker.stop)
            await asyncio.sleep(max(0.0, stopped + OUTAGE - now()))  # the outage itself
            await asyncio.to_thread(stack.broker.start, True)
            back = now()
            ready = await asyncio.to_thread(stack.wait_all_ready)
            pending = await load.wait_resumed(back, 30)
            # The watch has had every report since the return: nothing may end in the grace after it.
            await asyncio.sleep(max(0.0, ready + CUSTOMER_GRACE + 2 - now()))
            undrained = await load.drain()
            figures = load.analyze(windows=[(stopped, ready)])
            resumes = [r for r in load.resume_times(back) if r is not None]
            sessions_dropped = sum(1 for s in load.sessions if s.sharer.drops)
            await end_and_check(load, failures)
            return figures, back - stopped, ready - back, pending, resumes, undrained, sessions_dropped
        finally:
            await load.close()

    figures, outage, ready_after, pending, resumes, undrained, sessions_dropped = run(scenario(), 180)
    worst = max(resumes) if resumes else None
    line = (f"FAULT broker-outage: {summary(figures)} outage={secs(outage)} services-ready={secs(ready_after)} "
            f"resume-max={secs(worst)} not-resumed={len(pending)} sharer-sockets-dropped={sessions_dropped} "
            f"ends={ends_text(figures)}")
    failures = basic_failures(figures) + failures
    if pending:
        failures.append(f"sessions {pending[:8]} never streamed again")
    if worst is not None and worst > 5.0:
        failures.append(f"slowest resume {worst:.1f} s after the broker's return (limit 5 s)")
    if undrained:
        failures.append(f"sessions {undrained[:8]} never delivered all they sent")
    verdict(stack, marks, line, failures)


# --------------------------------------------------------------------------------------------
# 2. kill -9 of each service under load
# --------------------------------------------------------------------------------------------

KILL_SESSIONS = 12


@pytest.mark.parametrize("victim", ["session-registry", "masking-filter", "interaction-watch", "relay-a"])
def test_kill9_under_load(stack, victim):
    """Sessions stream across both relays; `victim` is killed with SIGKILL. The registry, the
    filter and the watch are started again at once; relay A's clients go to relay B as the SDK
    and the console would (resume with session id and key, join again). After the resyncs
    nothing may be lost, nothing foreign shown, and no session may end."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, f"k{victim[0]}", KILL_SESSIONS, rate=10)
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            killed = now()
            await asyncio.to_thread(stack[victim].kill9)
            if victim == "relay-a":
                moved = lambda: all(p.relay is not None and p.relay.name == "relay-b" and p.ws is not None
                                    for s in load.sessions for p in s.parties)
                await wait_for(moved, 60, "relay A's clients on relay B", load.describe_errors)
                healed = killed  # nothing to wait for: the relay's sessions are elsewhere now
                stack[victim].start()  # from the main thread: PR_SET_PDEATHSIG follows the thread
                await asyncio.to_thread(stack[victim].wait_ready)
                windows = []
            else:
                stack[victim].start()  # from the main thread: PR_SET_PDEATHSIG follows the thread
                healed = await asyncio.to_thread(stack[victim].wait_ready)
                # Only the filter is on the live path: without it viewers get nothing meanwhile.
                windows = [(killed, healed)] if victim == "masking-filter" else []
            since = healed if victim == "masking-filter" else killed
            pending = await load.wait_resumed(since, 30)
            # A restarted watch rebuilds its timers: nothing may end within a grace of it.
            watch_window = CUSTOMER_GRACE + 2 if victim in ("interaction-watch", "relay-a") else 3.0
            await asyncio.sleep(max(0.0, healed + watch_window - now()))
            undrained = await load.drain()
            figures = load.analyze(windows=windows)
            resumes = [r for r in load.resume_times(since) if r is not None]
            await end_and_check(load, failures)
            return figures, healed - killed, pending, resumes, undrained
        finally:
            await load.close()

    figures, down, pending, resumes, undrained = run(scenario(), 150)
    worst = max(resumes) if resumes else None
    line = (f"FAULT kill-9 {victim}: {summary(figures)} back-after={secs(down)} resume-max={secs(worst)} "
            f"socket-drops={figures['drops']} ends={ends_text(figures)}")
    failures = basic_failures(figures) + failures
    if pending:
        failures.append(f"sessions {pending[:8]} never streamed again")
    if undrained:
        failures.append(f"sessions {undrained[:8]} never delivered all they sent")
    verdict(stack, marks, line, failures)


# --------------------------------------------------------------------------------------------
# 3. The filter down
# --------------------------------------------------------------------------------------------

FILTER_DOWN = 10.0


def test_filter_down(stack):
    """The masking filter stops for 10 s while sessions stream: viewers must get nothing raw
    (fail closed), and everything again once it is back."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, "fd", 8, rate=10)
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            down = now()
            await asyncio.to_thread(stack["masking-filter"].stop)
            exited = now()
            await asyncio.sleep(max(0.0, down + FILTER_DOWN - now()))  # the outage itself
            restarted = now()
            stack["masking-filter"].start()
            ready = await asyncio.to_thread(stack["masking-filter"].wait_ready)
            pending = await load.wait_resumed(restarted, 30)
            # Stream frames a viewer received while no filter ran (a second after its exit, for
            # what it had already published to be delivered).
            raw = sum(1 for s in load.sessions for v in s.viewers for t in v.frames_received if exited + 1.0 < t < restarted)
            undrained = await load.drain()
            figures = load.analyze(windows=[(down, ready)])
            resumes = [r for r in load.resume_times(restarted) if r is not None]
            await end_and_check(load, failures)
            return figures, raw, pending, resumes, undrained
        finally:
            await load.close()

    figures, raw, pending, resumes, undrained = run(scenario(), 120)
    worst = max(resumes) if resumes else None
    line = f"FAULT filter-down: {summary(figures)} raw-frames={raw} resume-max={secs(worst)} ends={ends_text(figures)}"
    failures = basic_failures(figures) + failures
    if raw:
        failures.append(f"{raw} stream frames reached viewers while no filter ran")
    if pending:
        failures.append(f"sessions {pending[:8]} never streamed again after the filter returned")
    if worst is not None and worst > 10.0:
        failures.append(f"slowest resume {worst:.1f} s after the filter's return (limit 10 s)")
    if undrained:
        failures.append(f"sessions {undrained[:8]} never delivered all they sent")
    verdict(stack, marks, line, failures)


# --------------------------------------------------------------------------------------------
# 4. A relay cut from the broker while its session ends
# --------------------------------------------------------------------------------------------

def test_relay_cut_while_session_ends(stack):
    """Sessions with the sharer and an observer on relay A and the lead agent on relay B. Relay
    A is cut from the broker; meanwhile the agent ends the session on relay B. Once the cut
    heals, relay A's sharer and observer must be told `ended` (the agent's reason) and closed,
    and nothing the sharer sends after the end may reach a viewer."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, "rc", 2, rate=10,
                    placement=lambda i: ("relay-a", [("relay-b", "agent"), ("relay-a", "supervisor")]))
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            cut = await asyncio.to_thread(stack.proxies.cut, "relay-a")
            noticed = await asyncio.to_thread(stack["relay-a"].wait_unready, 15)
            ended_at = now()
            for session in load.sessions:
                await session.viewers[0].send({"t": "end"})
            leads_told = await wait_for(lambda: all(s.viewers[0].ended for s in load.sessions), 15,
                                        "the lead agents told ended", raise_on_timeout=False)
            # Whatever the sharer sent after its agent was told is certainly after the end.
            over = max((s.viewers[0].ended[0] for s in load.sessions if s.viewers[0].ended), default=ended_at)
            await asyncio.sleep(max(0.0, cut + 5.0 - now()))  # the cut lasts 5 s
            healed = await asyncio.to_thread(stack.proxies.heal, "relay-a")
            ready = await asyncio.to_thread(stack["relay-a"].wait_ready)
            a_parties = [p for s in load.sessions for p in (s.sharer, s.viewers[1])]
            await wait_for(lambda: all(p.ended and p.ws is None for p in a_parties), 15,
                           "relay A's sharer and observer told ended and closed", raise_on_timeout=False)
            told = {(s.index, p.side): (p.ended[1] if p.ended else None, p.ws is None)
                    for s in load.sessions for p in (s.sharer, s.viewers[1])}
            # Frames the sharers sent after the end that still reached a viewer.
            after_end = sum(1 for s in load.sessions for v in s.viewers for sent, _ in v.deliveries if sent > over)
            sent_after = sum(1 for s in load.sessions for e in s.sharer.epochs for t in e.sent.values() if t > ready)
            lead_reasons = [s.viewers[0].ended[1] if s.viewers[0].ended else None for s in load.sessions]
            return told, after_end, sent_after, lead_reasons, noticed is not None, leads_told is not None, ready - healed
        finally:
            await load.close()

    told, after_end, sent_after, lead_reasons, noticed, leads_told, ready_after = run(scenario(), 120)
    told_ended = sum(1 for reason, _ in told.values() if reason == "agent-exited")
    closed = sum(1 for _, is_closed in told.values() if is_closed)
    line = (f"FAULT relay-cut-session-end: parties-on-A={len(told)} told-ended={told_ended} closed={closed} "
            f"lead-reasons={lead_reasons} frames-after-end-delivered={after_end} "
            f"sharer-frames-sent-after-heal={sent_after} relay-ready-after-heal={secs(ready_after)}")
    if not noticed:
        failures.append("relay A never noticed the cut (/ready stayed 200)")
    if not leads_told or any(reason != "agent-exited" for reason in lead_reasons):
        failures.append(f"the lead agents on relay B were not told agent-exited: {lead_reasons}")
    for (index, side), (reason, is_closed) in told.items():
        if reason != "agent-exited":
            failures.append(f"session {index}: relay A's {side} was told {reason!r}, not agent-exited")
        if not is_closed:
            failures.append(f"session {index}: relay A kept the {side}'s socket open")
    if after_end:
        failures.append(f"{after_end} frames sent after the end reached a viewer")
    verdict(stack, marks, line, failures, ["relay-a", "relay-b", "session-registry"])


# --------------------------------------------------------------------------------------------
# 5. The filter cut from the broker while write mode is revoked
# --------------------------------------------------------------------------------------------

CLICKS = 20


def test_filter_cut_while_write_revoked(stack):
    """The customer grants write mode, then revokes it while the filter is cut from the broker.
    After the cut heals, none of the agent's clicks may reach the sharer."""
    marks = stack.marks()
    failures = []

    def mode_of(party):
        modes = [session.get("mode") for _, event, session in party.notices if event == "mode-changed"]
        return modes[-1] if modes else None

    async def scenario():
        load = Load(stack, "wr", 1, rate=10, placement=lambda i: ("relay-a", [("relay-b", "agent")]))
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            session = load.sessions[0]
            sharer, agent = session.sharer, session.viewers[0]
            await agent.send({"t": "request-write"})
            await wait_for(lambda: any(e == "mode-requested" for _, e, _ in sharer.notices), 15, "the write request")
            await sharer.send({"t": "answer-write", "approve": True})
            await wait_for(lambda: mode_of(sharer) == "write", 15, "write mode")
            # Control: in write mode a click goes through (the filter learns the mode a moment later).
            granted = now()
            while not any(a and a.get("t") == "click" for _, a in sharer.actions) and now() < granted + 20:
                await agent.send({"t": "click", "id": 9})
                await asyncio.sleep(0.5)
            control = sum(1 for _, a in sharer.actions if a and a.get("t") == "click")
            cut = await asyncio.to_thread(stack.proxies.cut, "masking-filter")
            noticed = await asyncio.to_thread(stack["masking-filter"].wait_unready, 15)
            await sharer.send({"t": "revoke-write"})
            await wait_for(lambda: mode_of(sharer) == "pointer" and mode_of(agent) == "pointer", 15, "pointer mode")
            await asyncio.sleep(max(0.0, cut + 4.0 - now()))  # the cut lasts 4 s
            await asyncio.to_thread(stack.proxies.heal, "masking-filter")
            healed = await asyncio.to_thread(stack["masking-filter"].wait_ready)
            await load.wait_resumed(healed, 30)
            clicks_from = now()
            before = len(agent.dropped_actions)
            for _ in range(CLICKS):
                await agent.send({"t": "click", "id": 9})
                await asyncio.sleep(0.1)
            forwarded = lambda: sum(1 for t, a in sharer.actions if t >= clicks_from and a and a.get("t") == "click")
            dropped = lambda: sum(1 for t, a, _ in agent.dropped_actions[before:] if a == "click")
            await wait_for(lambda: forwarded() + dropped() >= CLICKS, 20, "every click answered", raise_on_timeout=False)
            reasons = sorted({r for _, a, r in agent.dropped_actions[before:] if a == "click"})
            result = control, forwarded(), dropped(), reasons, noticed is not None
            await end_and_check(load, failures)
            return result
        finally:
            await load.close()

    control, forwarded, dropped, reasons, noticed = run(scenario(), 120)
    line = (f"FAULT filter-cut-write-revoked: control-clicks-in-write={control} clicks-after-revoke={CLICKS} "
            f"forwarded={forwarded} dropped={dropped} reasons={','.join(reasons) or '-'}")
    if not control:
        failures.append("no click reached the sharer in write mode: the scenario could not start")
    if not noticed:
        failures.append("the filter never noticed the cut")
    if forwarded:
        failures.append(f"{forwarded} of {CLICKS} clicks reached the sharer after write mode was revoked")
    verdict(stack, marks, line, failures, ["masking-filter", "relay-a", "relay-b"])


# --------------------------------------------------------------------------------------------
# 6. Floods
# --------------------------------------------------------------------------------------------

FLOOD_SECONDS = 5.0
FLOOD_RATE = 10000


async def flood(config, timeout=90):
    """Runs flood.py; its JSON result."""
    process = await asyncio.create_subprocess_exec(PYTHON, os.path.join(HERE, "flood.py"), json.dumps(config),
                                                   stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE)
    out, err = await asyncio.wait_for(process.communicate(), timeout)
    try:
        return json.loads(out.decode().strip().splitlines()[-1])
    except (ValueError, IndexError):
        raise AssertionError(f"flood.py failed: {err.decode()[-2000:]}")


async def quiet(count, settle=2.0, timeout=60.0):
    """Until `count()` has not changed for `settle` seconds; its value."""
    deadline = now() + timeout
    last, since = count(), now()
    while now() < deadline:
        await asyncio.sleep(0.1)
        value = count()
        if value != last:
            last, since = value, now()
        elif now() - since >= settle:
            break
    return last


def test_flood_sharer_bystanders(stack):
    """One sharer sends as fast as it can (up to 10k frames/s) while five bystander sessions
    stream at 20 frames/s: the bystanders' p99 may not exceed max(10 x their p99 without the
    flood, 500 ms) and they may lose nothing."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, "fb", 5, rate=20)
        try:
            await load.open()
            load.stream()
            await warm_up(load, frames=5)
            baseline_from = now()
            await asyncio.sleep(6.0)  # the measurement's own duration
            flood_from = now()
            token = await asyncio.to_thread(dev_token, stack["relay-a"], "/dev/interaction-token")
            result = await flood({"mode": "sharer", "url": stack["relay-a"].ws_url + "/ws/share", "token": token,
                                  "rate": FLOOD_RATE, "seconds": FLOOD_SECONDS})
            flood_to = now()
            undrained = await load.drain(60)
            drained_after = now() - flood_to
            base = load.analyze(latency_from=baseline_from, latency_to=flood_from)
            during = load.analyze(latency_from=flood_from, latency_to=flood_to)
            await end_and_check(load, failures)
            return base, during, result, undrained, drained_after
        finally:
            await load.close()

    base, during, result, undrained, drained_after = run(scenario(), 180)
    limit = max(10 * (base["p99"] or 0), 0.5)
    line = (f"FAULT flood-sharer: bystanders={base['sessions']} baseline-p99={ms(base['p99'])} "
            f"flood-p99={ms(during['p99'])} limit={ms(limit)} flood-sent={result['sent']} "
            f"flood-rate={result.get('rate')}/s flood-closed-by-relay={result['closed_by_relay']} "
            f"lost={during['lost']} ended={during['ended']} drained-after={secs(drained_after)}")
    failures = basic_failures(during, "bystander sessions") + failures
    if during["p99"] is None:
        failures.append("no bystander frame arrived during the flood")
    elif during["p99"] > limit:
        failures.append(f"bystander p99 {ms(during['p99'])} during the flood, over {ms(limit)}")
    if undrained:
        failures.append(f"bystander sessions {undrained} never delivered all they sent")
    verdict(stack, marks, line, failures, ["relay-a", "masking-filter"])


def test_flood_pointer_actions(stack):
    """The lead agent's console sends pointer actions as fast as it can: the sharer may receive
    at most the console's budget (VIEWER_FRAMES_PER_SECOND, with its burst allowance) for as
    long as the flood lasts."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, "fp", 1, rate=5, placement=lambda i: ("relay-a", [("relay-b", "agent")]))
        try:
            await load.open()
            load.stream()
            await warm_up(load, frames=3)
            session = load.sessions[0]
            token = await asyncio.to_thread(dev_token, stack["relay-b"], f"/dev/agent-token?agent={session.viewers[0].agent}")
            started = now()
            result = await flood({"mode": "pointer", "url": stack["relay-b"].ws_url + "/ws/view", "token": token,
                                  "session": session.sharer.session_id, "rate": FLOOD_RATE, "seconds": FLOOD_SECONDS})
            pointers = lambda: sum(1 for t, a in session.sharer.actions if t >= started and a and a.get("t") == "pointer")
            received = await quiet(pointers)
            times = [t for t, a in session.sharer.actions if t >= started and a and a.get("t") == "pointer"]
            per_second, first = 0, 0
            for last, instant in enumerate(times):  # the most in any one second
                while times[first] <= instant - 1.0:
                    first += 1
                per_second = max(per_second, last - first + 1)
            await end_and_check(load, failures)
            return result, received, per_second
        finally:
            await load.close()

    result, received, per_second = run(scenario(), 150)
    # The flood's length is the flooder's clock (from its first message to the relay's close);
    # the relay's own starts and ends a few tens of milliseconds apart from it: 0.25 s of room.
    allowed = math.ceil(VIEWER_BUDGET * (result["seconds"] + BUDGET_BURST_SECONDS + 0.25))
    line = (f"FAULT flood-pointer: sent={result['sent']} rate={result.get('rate')}/s received-by-sharer={received} "
            f"max-per-second={per_second} budget={VIEWER_BUDGET:.0f}/s allowed={allowed} "
            f"closed-by-relay={result['closed_by_relay']}")
    if result.get("refused"):
        failures.append(f"the flooding console could not join: {result['refused']}")
    if received > allowed:
        failures.append(f"the sharer received {received} pointer actions, over the budget's {allowed}")
    verdict(stack, marks, line, failures, ["relay-b", "masking-filter"])


def test_flood_resync_requests(stack):
    """An observer sends `resync` as fast as it can: the sharer may be asked for at most one
    snapshot per resync interval (2 s) and one for the join."""
    marks = stack.marks()
    failures = []

    async def scenario():
        load = Load(stack, "fr", 1, rate=5, placement=lambda i: ("relay-a", [("relay-b", "agent")]))
        try:
            await load.open()
            load.stream()
            await warm_up(load, frames=3)
            session = load.sessions[0]
            token = await asyncio.to_thread(dev_token, stack["relay-b"], f"/dev/agent-token?agent=flood-observer-{session.tag}&role=supervisor")
            started = now()
            result = await flood({"mode": "resync", "url": stack["relay-b"].ws_url + "/ws/view", "token": token,
                                  "session": session.sharer.session_id, "rate": FLOOD_RATE, "seconds": FLOOD_SECONDS})
            asked = await quiet(lambda: sum(1 for t, _ in session.sharer.resyncs if t >= started))
            await end_and_check(load, failures)
            return result, asked
        finally:
            await load.close()

    result, asked = run(scenario(), 150)
    allowed = math.ceil(result["seconds"] / RESYNC_INTERVAL_SECONDS) + 2
    line = (f"FAULT flood-resync: sent={result['sent']} rate={result.get('rate')}/s snapshots-asked={asked} "
            f"allowed={allowed} interval={RESYNC_INTERVAL_SECONDS:.0f}s closed-by-relay={result['closed_by_relay']}")
    if result.get("refused"):
        failures.append(f"the flooding observer could not join: {result['refused']}")
    if asked > allowed:
        failures.append(f"the sharer was asked for {asked} snapshots, over {allowed}")
    verdict(stack, marks, line, failures, ["relay-b", "masking-filter"])


# --------------------------------------------------------------------------------------------
# 7. Slow and idle clients
# --------------------------------------------------------------------------------------------

IDLE_CONNECTIONS = 200
SILENT_SOCKETS = 10  # per endpoint


def rss_kib(pid):
    try:
        with open(f"/proc/{pid}/status") as status:
            for line in status:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def test_idle_and_slow_clients(stack):
    """200 TCP connections that never send (from 127.0.0.2) and sockets that never send their
    first message (from 127.0.0.3) to relay A, and a viewer that stops reading: the relay must
    close the idle ones within FIRST_MESSAGE_TIMEOUT (plus room), a new customer must still be
    able to start, bystanders must lose nothing and stay prompt, and the slow viewer must learn
    of what it missed (a gap and a resync, or a close), never lose frames silently."""
    marks = stack.marks()
    failures = []
    relay = stack["relay-a"]
    # Room for a loaded machine beyond the deadline; connections are watched twice as long, so
    # the figures show when they did close.
    slack = max(3.0, FIRST_MESSAGE_TIMEOUT / 2)

    async def hold_tcp(opened_at, closes):
        try:
            reader, writer = await asyncio.open_connection("127.0.0.1", relay.port, local_addr=("127.0.0.2", 0))
        except OSError:
            closes.append(0.0)  # refused at once
            return
        try:
            await asyncio.wait_for(reader.read(), FIRST_MESSAGE_TIMEOUT + 2 * slack)
            closes.append(now() - opened_at)  # the relay closed it
        except asyncio.TimeoutError:  # before OSError: TimeoutError is one since Python 3.11
            closes.append(None)  # still open
        except OSError:
            closes.append(now() - opened_at)  # reset by the relay
        finally:
            writer.transport.abort()

    async def hold_silent(path, opened_at, closes):
        try:
            ws = await websockets.connect(relay.ws_url + path, open_timeout=FIRST_MESSAGE_TIMEOUT + 2 * slack,
                                          ping_interval=None, local_addr=("127.0.0.3", 0))
        except asyncio.TimeoutError:
            closes.append(None)  # the handshake never completed, nor was it refused
            return
        except (OSError, websockets.InvalidHandshake):
            closes.append(0.0)  # refused at once
            return
        try:
            await asyncio.wait_for(ws.wait_closed(), FIRST_MESSAGE_TIMEOUT + 2 * slack)
            closes.append(now() - opened_at)
        except asyncio.TimeoutError:
            closes.append(None)
            ws.transport.abort()

    async def new_customer():
        sharer_load = Load(stack, "nc", 1, rate=1, placement=lambda i: ("relay-a", []))
        sharer = sharer_load.sessions[0].sharer
        sharer.start()
        started = await wait_for(lambda: sharer.session_id is not None, 20, "a new customer", raise_on_timeout=False)
        await sharer_load.close()
        return started is not None

    async def scenario():
        bystanders = Load(stack, "ib", 4, rate=20)
        slow = Load(stack, "sl", 1, rate=50, pad=8000, placement=lambda i: ("relay-b", [("relay-a", "agent")]))
        try:
            await bystanders.open()
            await slow.open()
            bystanders.stream()
            slow.stream()
            await warm_up(bystanders, frames=5)
            baseline_from = now()
            await asyncio.sleep(3.0)  # the baseline's own duration
            rss_before = rss_kib(relay.process.pid)
            held = now()
            tcp_closes, ws_closes = [], []
            holders = [asyncio.create_task(hold_tcp(held, tcp_closes)) for _ in range(IDLE_CONNECTIONS)]
            holders += [asyncio.create_task(hold_silent(path, held, ws_closes))
                        for path in ("/ws/share", "/ws/view") for _ in range(SILENT_SOCKETS)]
            slow_viewer = slow.sessions[0].viewers[0]
            slow_viewer.reading.clear()
            paused = now()
            during = await new_customer()
            await asyncio.gather(*holders)
            released = now()
            slow_viewer.reading.set()
            rss_held = rss_kib(relay.process.pid)
            after = await new_customer()
            slow_pending = await slow.wait_resumed(released, 30)
            undrained = await bystanders.drain(30) + await slow.drain(30)
            base = bystanders.analyze(latency_from=baseline_from, latency_to=held)
            held_figures = bystanders.analyze(latency_from=held, latency_to=released)
            slow_figures = slow.analyze(windows=[(paused, released)])
            await end_and_check(bystanders, failures)
            await end_and_check(slow, failures)
            return (tcp_closes, ws_closes, during, after, base, held_figures, slow_figures, slow_pending, undrained,
                    slow_viewer.gaps, len(slow_viewer.drops), rss_before, rss_held)
        finally:
            await bystanders.close()
            await slow.close()

    (tcp_closes, ws_closes, during, after, base, held, slow_figures, slow_pending, undrained, slow_gaps, slow_drops,
     rss_before, rss_held) = run(scenario(), 150)
    tcp_closed = [c for c in tcp_closes if c is not None and c <= FIRST_MESSAGE_TIMEOUT + slack]
    ws_closed = [c for c in ws_closes if c is not None and c <= FIRST_MESSAGE_TIMEOUT + slack]
    tcp_all = [c for c in tcp_closes if c is not None]
    ws_all = [c for c in ws_closes if c is not None]
    limit = max(10 * (base["p99"] or 0), 0.5)
    line = (f"FAULT idle-slow: idle-tcp-closed={len(tcp_closed)}/{IDLE_CONNECTIONS} "
            f"after={secs(min(tcp_all, default=None))}..{secs(max(tcp_all, default=None))} "
            f"refused-at-once={sum(1 for c in tcp_all if c < 1.0)} "
            f"silent-sockets-closed={len(ws_closed)}/{2 * SILENT_SOCKETS} "
            f"after={secs(min(ws_all, default=None))}..{secs(max(ws_all, default=None))} "
            f"deadline={FIRST_MESSAGE_TIMEOUT:.0f}s new-customer-during={during} after={after} "
            f"bystander-p99={ms(held['p99'])} baseline-p99={ms(base['p99'])} bystander-lost={held['lost']} "
            f"slow-viewer-gaps={slow_gaps} slow-viewer-closes={slow_drops} slow-viewer-lost={slow_figures['lost']} "
            f"relay-rss={rss_before}->{rss_held}KiB")
    if len(tcp_closed) < IDLE_CONNECTIONS:
        failures.append(f"{IDLE_CONNECTIONS - len(tcp_closed)} idle TCP connections still open "
                        f"{FIRST_MESSAGE_TIMEOUT + slack:.0f} s after they were opened (deadline + room)")
    if len(ws_closed) < 2 * SILENT_SOCKETS:
        failures.append(f"{2 * SILENT_SOCKETS - len(ws_closed)} sockets without a first message still open "
                        f"{FIRST_MESSAGE_TIMEOUT + slack:.0f} s after they were opened (deadline + room)")
    if not during or not after:
        failures.append(f"a new customer could not start (while held: {during}, after: {after})")
    failures += basic_failures(held, "bystander sessions")
    if held["p99"] is not None and held["p99"] > limit:
        failures.append(f"bystander p99 {ms(held['p99'])} while the idle clients were held, over {ms(limit)}")
    if slow_figures["lost"] or slow_figures["foreign"] or slow_figures["leaks"]:
        failures.append(f"the slow viewer lost {slow_figures['lost']} frames silently "
                        f"(foreign {slow_figures['foreign']}, leaks {slow_figures['leaks']})")
    if slow_pending:
        failures.append("the slow viewer never streamed again once it read again")
    if undrained:
        failures.append(f"sessions {undrained} never delivered all they sent")
    verdict(stack, marks, line, failures, ["relay-a"])


# --------------------------------------------------------------------------------------------
# 8. Garbage on every exchange
# --------------------------------------------------------------------------------------------

def garbage_bodies(session_id):
    return [
        os.urandom(64), b"\xff\xfe\x00\x01 GARBAGE", b"{not json GARBAGE", b"", b"[]", b"null", b"42", b'"GARBAGE"',
        b'{"t":5,"seq":"GARBAGE"}', b'{"t":"mutations","seq":"GARBAGE"}',
        b'{"t":"mutations","seq":2,"adds":"GARBAGE","removes":[],"attrs":[],"texts":[]}',
        b'{"t":"snapshot","seq":1,"root":"GARBAGE"}', b'{"t":"agent","agent":5,"action":"GARBAGE"}',
        json.dumps({"version": 1, "kind": "ended", "at": "GARBAGE", "session": {"id": session_id}}).encode(),
        json.dumps({"relay": 5, "sessions": [{"id": session_id, "sharers": "GARBAGE"}]}).encode(),
        json.dumps({"id": "GARBAGE", "command": {"end": {"session": session_id}}}).encode(),
        json.dumps({"version": 1, "type": "ended", "interactionId": 7, "channel": "GARBAGE"}).encode(),
        os.urandom(200_000),
    ]


def test_garbage_on_every_exchange(stack):
    """The administrator publishes random bytes, invalid JSON and wrong types on every exchange
    the services consume (and the registry's RPC queue); the relay's own user tries to publish
    on `cobrowse.view`, which the broker must refuse. Every service stays ready, no viewer
    receives garbage, and the sessions stream on."""
    marks = stack.marks()
    failures = []

    def publish_garbage(session_ids):
        connection = pika.BlockingConnection(pika.ConnectionParameters(
            host="127.0.0.1", port=BROKER_AMQP_PORT, credentials=pika.PlainCredentials(*ADMIN)))
        channel = connection.channel()
        published = 0
        targets = [("cobrowse.ingest", f"s.{i}") for i in session_ids] + [("cobrowse.ingest", "s.GARBAGE"),
                                                                            ("cobrowse.ingest", "GARBAGE")]
        targets += [("cobrowse.lifecycle", f"s.{i}.ended") for i in session_ids]
        targets += [("cobrowse.lifecycle", f"s.{session_ids[0]}.mode-changed"), ("cobrowse.lifecycle", "GARBAGE")]
        targets += [("cobrowse.activity", "relay.relay-a"), ("cobrowse.activity", "GARBAGE")]
        targets += [("", "cobrowse.registry.rpc")]
        targets += [("contact.interactions", "interaction.chat.ended"), ("contact.interactions", "GARBAGE")]
        for exchange, key in targets:
            for body in garbage_bodies(session_ids[0]):
                for properties in (None, pika.BasicProperties(content_type="application/json", reply_to="faults.nowhere",
                                                              correlation_id="GARBAGE", headers={"GARBAGE": [1, "x"]})):
                    channel.basic_publish(exchange, key, body, properties)
                    published += 1
        connection.close()
        return published

    def relay_user_publishes_view(session_id):
        user = SERVICES["relay-a"][1]
        try:
            connection = pika.BlockingConnection(pika.ConnectionParameters(
                host="127.0.0.1", port=BROKER_AMQP_PORT, credentials=pika.PlainCredentials(user, user)))
        except pika.exceptions.AMQPError as error:
            return f"could not log in as {user}: {error!r}"
        try:
            channel = connection.channel()
            channel.confirm_delivery()
            channel.basic_publish("cobrowse.view", f"s.{session_id}", b"FORGED-BY-THE-RELAY-USER GARBAGE")
            return "accepted"
        except pika.exceptions.ChannelClosedByBroker as error:
            return f"refused {error.reply_code}"
        finally:
            try:
                connection.close()
            except pika.exceptions.AMQPError:
                pass

    async def watch_ready(until, unready):
        while not until.is_set():
            for name, service in stack.services.items():
                if not await asyncio.to_thread(service.ready):
                    unready.add(name)
            await asyncio.sleep(0.2)

    async def scenario():
        load = Load(stack, "gb", 4, rate=10)
        try:
            await load.open()
            load.stream()
            await warm_up(load)
            stop, unready = asyncio.Event(), set()
            watcher = asyncio.create_task(watch_ready(stop, unready))
            started = now()
            ids = [s.sharer.session_id for s in load.sessions]
            published = await asyncio.to_thread(publish_garbage, ids)
            relay_view = await asyncio.to_thread(relay_user_publishes_view, ids[0])
            done = now()
            pending = await load.wait_resumed(done, 30)
            # Room for the services to choke on what they were given, while the sessions stream.
            await asyncio.sleep(max(0.0, done + 3.0 - now()))
            stop.set()
            await watcher
            undrained = await load.drain()
            figures = load.analyze()
            viewer_garbage = sum(v.garbage for s in load.sessions for v in s.viewers)
            sharer_garbage = sum(s.sharer.garbage for s in load.sessions)
            samples = [t for s in load.sessions for p in s.parties for t in p.garbage_samples][:3]
            dead = [name for name, service in stack.services.items() if not service.alive()]
            await end_and_check(load, failures)
            return (figures, published, relay_view, unready, dead, viewer_garbage, sharer_garbage, pending, undrained,
                    done - started, samples)
        finally:
            await load.close()

    (figures, published, relay_view, unready, dead, viewer_garbage, sharer_garbage, pending, undrained,
     took, samples) = run(scenario(), 150)
    line = (f"FAULT garbage: published={published} in {secs(took)} relay-user-on-view={relay_view} "
            f"unready={sorted(unready) or '-'} dead={dead or '-'} viewer-garbage={viewer_garbage} "
            f"sharer-garbage={sharer_garbage} {summary(figures)}" + (f" garbage-samples={samples}" if samples else ""))
    failures = basic_failures(figures) + failures
    if not relay_view.startswith("refused 403"):
        failures.append(f"the relay's user publishing on cobrowse.view: {relay_view} (must be refused, 403)")
    if unready or dead:
        failures.append(f"services not ready during the garbage: {sorted(unready)}, dead: {dead}")
    if viewer_garbage:
        failures.append(f"viewers received {viewer_garbage} garbage messages, e.g. {samples}")
    if pending:
        failures.append(f"sessions {pending} did not stream on")
    if undrained:
        failures.append(f"sessions {undrained} never delivered all they sent")
    verdict(stack, marks, line, failures)
