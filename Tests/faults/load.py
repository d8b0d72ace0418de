"""The load generator: sessions of a sharer socket (as the SDK) and viewer sockets (as the agent
console) on the relays, and what they measured.

A sharer starts with a dev interaction token, sends a snapshot and then frames at a steady rate;
each mutation carries a unique marker `M|<tag>|<epoch>|<seq>` (tag: the session's, epoch: which
snapshot it follows). The snapshot also carries what the filter must never let through: a
password field with a secret value, a `<script>` and an `onclick`, and every tenth frame is an
`input` with the secret. It answers every `resync` with a new snapshot (seq restarts at 1),
and when its socket drops it resumes (session id + customer key) as the SDK does: after 0.5 s,
doubling up to 10 s, on its relay or, if that relay is gone, another (as the load balancer).

A viewer joins with a dev agent token and applies frames in the filter's sequence as the
console does: a snapshot always, other frames only in sequence; on a gap it asks
`{"t":"resync"}` (again after 5 s if no snapshot comes). When its socket drops it joins again
(0.5 s doubling up to 5 s).

Each party records what it got, so the suite can say per session: frames delivered, lost,
reordered, foreign (another session's marker), leaks (the secret, the script or the handler
reaching a viewer), gaps, latency from the sharer's send to the viewer's receipt, when
delivery resumed after a fault, and every `ended` with its reason.
"""

import asyncio
import itertools
import json
import math
import time
import uuid

import websockets

from harness import RELAYS, http

now = time.monotonic

LEAK_MARKERS = ("pw-secret-", "RAWSCRIPT-", "RAWHANDLER-")
VIEW_FRAME_TYPES = {"snapshot", "mutations", "input", "scroll", "viewport", "cursor", "click", "paused", "resumed",
                    "action-dropped"}
NOTICE_TYPES = {"session", "joined", "ended", "error"}
SHARER_TYPES = {"started", "resumed", "resync", "action", "session", "ended", "error", "presence"}
FINAL_REFUSALS = {"session-ended", "unknown-session", "not-allowed"}
PASSWORD_NODE = 8
BUTTON_NODE = 9
MARKER_NODE = 7
RUN = uuid.uuid4().hex[:6]
_counter = itertools.count(1)


def percentile(values, fraction):
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(fraction * len(ordered)) - 1))]


def ms(seconds):
    return "-" if seconds is None else f"{seconds * 1000:.0f}ms"


def secs(seconds):
    return "-" if seconds is None else f"{seconds:.1f}s"


def dev_token(relay, path):
    status, text = http("GET", relay.base_url + path, timeout=10)
    if status != 200:
        raise RuntimeError(f"{relay.name} {path} answered {status}: {text[:200]}")
    return json.loads(text)["token"]


class Epoch:
    """One snapshot and the frames that follow it, on one sharer socket."""

    def __init__(self, number, socket, started):
        self.number = number
        self.socket = socket
        self.started = started
        self.ended = None
        self.cause = None  # superseded | drop | end
        self.sent = {}  # mutation seq -> send instant


class Party:
    """Socket plumbing common to the sharer and the viewers."""

    side = "?"

    def __init__(self, load, session, home):
        self.load = load
        self.session = session
        self.home = home
        self.ws = None
        self.relay = None
        self.ended = None  # (instant, reason)
        self.ended_event = asyncio.Event()
        self.finished = False  # no reconnect any more
        self.refused = None
        self.errors = []
        self.drops = []  # (instant, relay, close code): sockets that closed without `ended`
        self.closed_by_relay = []  # (instant, code, reason) of every socket the relay closed
        self.garbage = 0
        self.garbage_samples = []
        self.task = None
        self.opened = asyncio.Event()
        self._lock = asyncio.Lock()

    async def send(self, message):
        ws = self.ws
        if ws is None:
            return False
        try:
            await ws.send(message if isinstance(message, str) else json.dumps(message))
            return True
        except websockets.ConnectionClosed:
            return False

    def note_garbage(self, text):
        self.garbage += 1
        if len(self.garbage_samples) < 3:
            self.garbage_samples.append(text[:160] if isinstance(text, str) else repr(text)[:160])

    def note_ended(self, message):
        if self.ended is None:
            self.ended = (now(), message.get("reason"))
            self.ended_event.set()

    async def connect(self, path):
        relay = self.load.pick(self.home)
        ws = await websockets.connect(relay.ws_url + path, open_timeout=10, close_timeout=1, ping_interval=None,
                                      max_size=None)
        return relay, ws

    async def close(self):
        self.finished = True
        ws = self.ws
        if ws is not None:
            await ws.close()
        if self.task:
            self.task.cancel()
            try:
                await self.task
            except (asyncio.CancelledError, Exception):
                pass


class Sharer(Party):
    side = "sharer"

    def __init__(self, load, session, home, rate, channel="chat", pad=0):
        super().__init__(load, session, home)
        self.rate = rate
        self.channel = channel
        self.pad = "x" * pad
        self.session_id = None
        self.customer_key = None
        self.started = asyncio.Event()
        self.sending = asyncio.Event()
        self.epochs = []
        self.seq = 0
        self.sockets = 0
        self.stream = None
        self.resyncs = []  # (instant, reason)
        self.actions = []  # (instant, action)
        self.notices = []  # (instant, event, session view)
        self.mode_changed = asyncio.Event()

    @property
    def epoch(self):
        return self.epochs[-1] if self.epochs else None

    def epoch_by_number(self, number):
        return self.epochs[number] if 0 <= number < len(self.epochs) else None

    def start(self):
        self.task = asyncio.create_task(self.run())

    async def run(self):
        relay = self.load.pick(self.home)
        interaction = f"faults-{RUN}-{self.session.index}-{next(_counter)}"
        token = await asyncio.to_thread(dev_token, relay, f"/dev/interaction-token?interaction={interaction}&channel={self.channel}")
        delay = 0.5
        while not self.finished:
            try:
                relay, ws = await self.connect("/ws/share")
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            opening = ({"t": "start", "interactionToken": token} if self.session_id is None else
                       {"t": "resume", "sessionId": self.session_id, "customerKey": self.customer_key})
            try:
                await ws.send(json.dumps(opening))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            except (websockets.ConnectionClosed, asyncio.TimeoutError, ValueError):
                await self._closed(ws, relay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            if reply.get("t") == "error":
                self.errors.append((now(), reply.get("code")))
                await ws.close()
                if reply.get("code") in FINAL_REFUSALS:
                    self.refused = reply.get("code")
                    self.finished = True
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 10)
                continue
            if reply.get("t") == "started":
                self.session_id, self.customer_key = reply["sessionId"], reply["customerKey"]
            delay = 0.5
            self.sockets += 1
            self.stream = f"{self.session.tag}-{self.sockets}"
            self.ws, self.relay = ws, relay
            await self.snapshot()
            self.started.set()
            sender = asyncio.create_task(self.sender(ws))
            try:
                async for text in ws:
                    self.receive(text)
            except websockets.ConnectionClosed:
                pass
            finally:
                sender.cancel()
            closed = now()
            self.ws = None
            if self.epoch and self.epoch.ended is None:
                self.epoch.ended = closed
                self.epoch.cause = "end" if self.ended else "drop"
            await self._closed(ws, relay)
            if self.ended or self.finished:
                break
            self.drops.append((closed, relay.name, ws.close_code))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10)
        self.finished = True

    async def _closed(self, ws, relay):
        if ws.close_code is not None and not self.finished:
            self.closed_by_relay.append((now(), ws.close_code, ws.close_reason))

    def receive(self, text):
        try:
            message = json.loads(text)
        except ValueError:
            self.note_garbage(text)
            return
        if not isinstance(message, dict) or message.get("t") not in SHARER_TYPES:
            self.note_garbage(text)
            return
        kind = message["t"]
        if kind == "resync":
            self.resyncs.append((now(), message.get("reason")))
            asyncio.create_task(self.snapshot())
        elif kind == "action":
            self.actions.append((now(), message.get("action")))
        elif kind == "session":
            self.notices.append((now(), message.get("event"), message.get("session") or {}))
            self.mode_changed.set()
        elif kind == "ended":
            self.note_ended(message)
        elif kind == "error":
            self.errors.append((now(), message.get("code")))

    def snapshot_frame(self, epoch):
        tag = self.session.tag
        return {
            "t": "snapshot", "seq": 1, "stream": self.stream, "url": f"https://shop.example/faults/{tag}",
            "title": "fault suite", "doctype": "html", "viewport": {"w": 1280, "h": 800}, "scroll": {"x": 0, "y": 0},
            "root": {"id": 1, "type": "element", "tag": "html", "children": [
                {"id": 2, "type": "element", "tag": "head", "children": [
                    {"id": 3, "type": "element", "tag": "script", "children": [
                        {"id": 4, "type": "text", "text": f"RAWSCRIPT-{tag}"}]}]},
                {"id": 5, "type": "element", "tag": "body", "children": [
                    {"id": 6, "type": "element", "tag": "p", "children": [
                        {"id": MARKER_NODE, "type": "text", "text": f"S|{tag}|{epoch}"}]},
                    {"id": PASSWORD_NODE, "type": "element", "tag": "input",
                     "attrs": {"type": "password", "name": "pw", "value": self.session.secret},
                     "value": self.session.secret},
                    {"id": BUTTON_NODE, "type": "element", "tag": "button",
                     "attrs": {"type": "button", "onclick": f"RAWHANDLER-{tag}"}, "children": [
                         {"id": 10, "type": "text", "text": "Go"}]}]}]}}

    async def snapshot(self):
        async with self._lock:
            ws = self.ws
            if ws is None:
                return
            instant = now()
            if self.epoch and self.epoch.ended is None:
                self.epoch.ended, self.epoch.cause = instant, "superseded"
            epoch = Epoch(len(self.epochs), self.sockets, instant)
            self.epochs.append(epoch)
            self.seq = 1
            try:
                await ws.send(json.dumps(self.snapshot_frame(epoch.number)))
            except websockets.ConnectionClosed:
                pass

    async def frame(self):
        async with self._lock:
            ws, epoch = self.ws, self.epoch
            if ws is None or epoch is None or epoch.socket != self.sockets:
                return
            seq = self.seq + 1
            if seq % 10 == 0:
                frame = {"t": "input", "seq": seq, "id": PASSWORD_NODE, "value": self.session.secret}
            else:
                frame = {"t": "mutations", "seq": seq, "adds": [], "removes": [], "attrs": [],
                         "texts": [{"id": MARKER_NODE, "text": f"M|{self.session.tag}|{epoch.number}|{seq}{self.pad}"}]}
                epoch.sent[seq] = now()
            self.seq = seq
            try:
                await ws.send(json.dumps(frame))
            except websockets.ConnectionClosed:
                pass

    async def sender(self, ws):
        period = 1.0 / self.rate
        due = now()
        while self.ws is ws:
            if not self.sending.is_set():
                await self.sending.wait()
                due = now()
            due = max(due + period, now() - period)  # steady rate, no burst after a stall
            delay = due - now()
            if delay > 0:
                await asyncio.sleep(delay)
            await self.frame()

    async def end(self, timeout=15.0):
        """Ends the session as the customer; True once `ended` arrived."""
        async with self._lock:
            if self.epoch and self.epoch.ended is None:
                self.epoch.ended, self.epoch.cause = now(), "end"
            await self.send({"t": "end", "seq": self.seq + 1})
        try:
            await asyncio.wait_for(self.ended_event.wait(), timeout)
            return True
        except asyncio.TimeoutError:
            return False


class ViewerSocket:
    def __init__(self, number, relay, opened):
        self.number = number
        self.relay = relay
        self.opened = opened
        self.closed = None
        self.dropped = False
        self.epochs = {}  # epoch number -> {seq: receive instant}
        self.snapshots = {}  # epoch number -> receive instant
        self.epoch = None
        self.last_vseq = None
        self.needs_snapshot = True


class Viewer(Party):
    side = "viewer"

    def __init__(self, load, session, home, role="agent", agent=None):
        super().__init__(load, session, home)
        self.role = role
        self.agent = agent or f"{role}-{RUN}-{session.index}-{next(_counter)}"
        self.sockets = []
        self.joined_role = None
        self.joined = asyncio.Event()
        self.reading = asyncio.Event()
        self.reading.set()
        self.gaps = 0
        self.foreign = 0
        self.leaks = 0
        self.leak_samples = []
        self.reordered = 0
        self.ignored = 0
        self.deliveries = []  # (sent instant, receive instant)
        self.latencies = []  # (sent instant, latency)
        self.other_frames = 0
        self.frames_received = []  # receive instants of every stream frame
        self.dropped_actions = []  # (instant, action, reason)
        self.notices = []
        self.resync_requests = 0
        self.snapshot_event = asyncio.Event()

    @property
    def current(self):
        return self.sockets[-1] if self.sockets else None

    def start(self):
        self.task = asyncio.create_task(self.run())

    async def run(self):
        relay = self.load.pick(self.home)
        token = await asyncio.to_thread(dev_token, relay, f"/dev/agent-token?agent={self.agent}&role={self.role}")
        await self.session.sharer.started.wait()
        delay = 0.5
        while not self.finished:
            try:
                relay, ws = await self.connect("/ws/view")
            except (OSError, asyncio.TimeoutError, websockets.InvalidHandshake):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
                continue
            try:
                await ws.send(json.dumps({"t": "join", "agentToken": token, "sessionId": self.session.sharer.session_id}))
                reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
            except (websockets.ConnectionClosed, asyncio.TimeoutError, ValueError):
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
                continue
            if reply.get("t") != "joined":
                self.errors.append((now(), reply.get("code")))
                await ws.close()
                if reply.get("code") in FINAL_REFUSALS:
                    self.refused = reply.get("code")
                    break
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5)
                continue
            delay = 0.5
            self.joined_role = reply.get("role")
            socket = ViewerSocket(len(self.sockets), relay.name, now())
            self.sockets.append(socket)
            self.ws, self.relay = ws, relay
            self.joined.set()
            try:
                async for text in ws:
                    if not self.reading.is_set():
                        await self.reading.wait()
                    self.receive(socket, text)
            except websockets.ConnectionClosed:
                pass
            socket.closed = now()
            self.ws = None
            if ws.close_code is not None and not self.finished:
                self.closed_by_relay.append((socket.closed, ws.close_code, ws.close_reason))
            if self.ended or self.finished:
                break
            socket.dropped = True
            self.drops.append((socket.closed, relay.name, ws.close_code))
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)
        self.finished = True

    def receive(self, socket, text):
        instant = now()
        if any(marker in text for marker in LEAK_MARKERS):
            self.leaks += 1
            if len(self.leak_samples) < 3:
                self.leak_samples.append(text[:300])
        try:
            message = json.loads(text)
        except ValueError:
            self.note_garbage(text)
            return
        if not isinstance(message, dict):
            self.note_garbage(text)
            return
        kind = message.get("t")
        if kind in NOTICE_TYPES:
            if kind == "ended":
                self.note_ended(message)
            elif kind == "error":
                self.errors.append((instant, message.get("code")))
            elif kind == "session":
                self.notices.append((instant, message.get("event"), message.get("session") or {}))
            return
        seq = message.get("seq")
        if kind not in VIEW_FRAME_TYPES or not isinstance(seq, int) or isinstance(seq, bool):
            self.note_garbage(text)
            return
        self.frames_received.append(instant)
        if kind == "action-dropped":
            self.dropped_actions.append((instant, message.get("action"), message.get("reason")))
        if kind == "snapshot":
            marker = self._text(message.get("root"), MARKER_NODE)
            parts = marker.split("|") if isinstance(marker, str) else []
            if len(parts) != 3 or parts[0] != "S" or parts[1] != self.session.tag:
                self.foreign += 1
                return
            epoch = int(parts[2])
            socket.epoch, socket.last_vseq, socket.needs_snapshot = epoch, seq, False
            socket.snapshots[epoch] = instant
            socket.epochs.setdefault(epoch, {})
            self.snapshot_event.set()
            return
        if socket.needs_snapshot or socket.last_vseq is None:
            self.ignored += 1
            return
        if seq != socket.last_vseq + 1:
            self.gaps += 1
            socket.needs_snapshot = True
            asyncio.create_task(self.resync_loop(socket))
            return
        socket.last_vseq = seq
        if kind != "mutations":
            self.other_frames += 1
            return
        for change in message.get("texts") or []:
            text_value = change.get("text") if isinstance(change, dict) else None
            parts = text_value.split("|") if isinstance(text_value, str) else []
            if len(parts) != 4 or parts[0] != "M":
                self.note_garbage(text)
                continue
            if parts[1] != self.session.tag:
                self.foreign += 1
                continue
            epoch, number = int(parts[2]), int(parts[3].rstrip("x"))
            if epoch != socket.epoch:
                self.reordered += 1
                continue
            seqs = socket.epochs[epoch]
            if seqs and number <= max(seqs):
                self.reordered += 1
                continue
            seqs[number] = instant
            sent = self.session.sharer.epoch_by_number(epoch)
            sent_at = sent.sent.get(number) if sent else None
            if sent_at is not None:
                self.deliveries.append((sent_at, instant))
                self.latencies.append((sent_at, instant - sent_at))

    @staticmethod
    def _text(node, node_id):
        stack = [node]
        while stack:
            current = stack.pop()
            if not isinstance(current, dict):
                continue
            if current.get("id") == node_id:
                return current.get("text")
            stack.extend(current.get("children") or [])
        return None

    async def resync_loop(self, socket):
        """As the console: ask for a snapshot, and again every 5 s until one comes."""
        while socket.needs_snapshot and socket.closed is None and not self.finished:
            self.resync_requests += 1
            await self.send({"t": "resync"})
            await asyncio.sleep(5)

    def delivered_after(self, instant):
        """When the first frame sent after `instant` arrived (None: none yet)."""
        arrivals = [received for sent, received in self.deliveries if sent >= instant]
        return min(arrivals) if arrivals else None


class Session:
    def __init__(self, load, index, sharer_relay, viewer_relays, rate, channel="chat", pad=0):
        self.index = index
        self.tag = f"{RUN}{load.name}{index:02d}"
        self.secret = f"pw-secret-{uuid.uuid4().hex[:12]}"
        self.sharer = Sharer(load, self, sharer_relay, rate, channel=channel, pad=pad)
        self.viewers = [Viewer(load, self, relay, role=role) for relay, role in viewer_relays]

    @property
    def parties(self):
        return [self.sharer] + self.viewers


class Load:
    """N sessions; `placement(i)` gives (sharer relay, [(viewer relay, role), ...])."""

    def __init__(self, stack, name, count, rate=10, placement=None, channel="chat", pad=0):
        self.stack = stack
        self.name = name
        placement = placement or (lambda i: (RELAYS[i % 2], [(RELAYS[(i + 1) % 2], "agent")]))
        self.sessions = [Session(self, i, *placement(i), rate=rate, channel=channel, pad=pad) for i in range(count)]
        self.ending = None  # when the suite itself began to end the sessions

    def pick(self, home):
        """The relay a client reaches: its own while that runs, else another (as a load balancer)."""
        if self.stack[home].alive():
            return self.stack[home]
        for name in RELAYS:
            if self.stack[name].alive():
                return self.stack[name]
        return self.stack[home]

    async def open(self, timeout=60.0):
        """Starts every sharer and viewer; returns once each viewer has its first snapshot."""
        for session in self.sessions:
            session.sharer.start()
        await wait_for(lambda: all(s.sharer.session_id for s in self.sessions), timeout, "sharers started",
                       lambda: self.describe_errors())
        for session in self.sessions:
            for viewer in session.viewers:
                if viewer.role == "agent":
                    viewer.start()
        await wait_for(lambda: all(v.joined.is_set() for s in self.sessions for v in s.viewers if v.role == "agent"),
                       timeout, "lead viewers joined", lambda: self.describe_errors())
        for session in self.sessions:
            for viewer in session.viewers:
                if viewer.role != "agent":
                    viewer.start()
        await wait_for(lambda: all(v.snapshot_event.is_set() for s in self.sessions for v in s.viewers), timeout,
                       "every viewer's first snapshot", lambda: self.describe_errors())

    def describe_errors(self):
        errors = [(s.index, p.side, p.errors[-3:]) for s in self.sessions for p in s.parties if p.errors]
        return f"errors: {errors[:6]}" if errors else "no errors"

    def stream(self, on=True):
        for session in self.sessions:
            if on:
                session.sharer.sending.set()
            else:
                session.sharer.sending.clear()

    def drained(self, session):
        sharer = session.sharer
        if sharer.finished or sharer.ended:
            return True
        epoch = sharer.epoch
        for viewer in session.viewers:
            if viewer.finished:
                continue
            socket = viewer.current
            if epoch is None or socket is None or socket.closed is not None or socket.needs_snapshot:
                return False
            if epoch.number not in socket.epochs or not set(epoch.sent) <= set(socket.epochs[epoch.number]):
                return False
        return True

    async def drain(self, timeout=20.0):
        """Stops sending and waits until every viewer holds everything its sharer sent in its
        current epoch; returns the sessions that did not get there."""
        self.stream(False)
        deadline = now() + timeout
        while now() < deadline:
            if all(self.drained(s) for s in self.sessions):
                return []
            await asyncio.sleep(0.05)
        return [s.index for s in self.sessions if not self.drained(s)]

    async def wait_resumed(self, since, timeout):
        """Until every session's viewers got a frame sent after `since`; the sessions that did not."""
        deadline = now() + timeout

        def pending():
            return [s.index for s in self.sessions
                    if any(v.delivered_after(since) is None for v in s.viewers if not v.finished)]

        while now() < deadline:
            if not pending():
                return []
            await asyncio.sleep(0.05)
        return pending()

    def resume_times(self, since):
        """Per session: the latest of its viewers' first delivery of a frame sent after `since`."""
        times = []
        for session in self.sessions:
            arrivals = [v.delivered_after(since) for v in session.viewers]
            times.append(None if any(a is None for a in arrivals) or not arrivals else max(arrivals) - since)
        return times

    async def end(self, timeout=20.0):
        """Ends every live session as its customer; returns the sessions whose parties were not all told."""
        self.ending = now()
        self.stream(False)
        live = [s for s in self.sessions if not s.sharer.finished and s.sharer.ended is None]
        await asyncio.gather(*(s.sharer.end(timeout) for s in live))
        await wait_for(lambda: all(p.ended or p.finished for s in live for p in s.parties), timeout, "ended",
                       raise_on_timeout=False)
        untold = [s.index for s in live if not all(p.ended for p in s.parties)]
        await self.close()
        return untold

    async def close(self):
        await asyncio.gather(*(p.close() for s in self.sessions for p in s.parties), return_exceptions=True)

    def analyze(self, windows=(), margin=2.0, latency_from=None, latency_to=None, sessions=None):
        """The figures. `windows`: (start, end) instants of faults; an epoch of a sharer that was
        current during one (or within `margin` seconds before it), or whose sharer or viewer
        socket dropped, may lose frames; every other epoch a viewer got the snapshot of must
        arrive whole. A frame missing before one that arrived is lost in any epoch."""
        sessions = self.sessions if sessions is None else sessions
        figures = dict(sessions=len(sessions), sent=0, delivered=0, lost=0, reordered=0, foreign=0, leaks=0,
                       gaps=0, garbage=0, ended=0, drops=0, leak_samples=[], ends=[], lost_by_session={},
                       lost_samples=[])
        latencies = []
        for session in sessions:
            sharer = session.sharer
            figures["sent"] += sum(len(e.sent) for e in sharer.epochs)
            figures["drops"] += len(sharer.drops)
            ended_here = False
            for party in session.parties:
                if party.ended and (self.ending is None or party.ended[0] < self.ending):
                    ended_here = True
                    figures["ends"].append((session.index, party.side, party.ended[1]))
                elif party.refused and self.ending is None:
                    ended_here = True
                    figures["ends"].append((session.index, party.side, f"refused:{party.refused}"))
                figures["garbage"] += party.garbage
            figures["ended"] += ended_here
            lost = 0
            for viewer in session.viewers:
                figures["foreign"] += viewer.foreign
                figures["leaks"] += viewer.leaks
                figures["leak_samples"] += viewer.leak_samples
                figures["gaps"] += viewer.gaps
                figures["reordered"] += viewer.reordered
                figures["drops"] += len(viewer.drops)
                for sent_at, latency in viewer.latencies:
                    if (latency_from is None or sent_at >= latency_from) and (latency_to is None or sent_at < latency_to):
                        latencies.append(latency)
                for socket in viewer.sockets:
                    for number, seqs in socket.epochs.items():
                        epoch = sharer.epoch_by_number(number)
                        if epoch is None:
                            continue
                        figures["delivered"] += len(seqs)
                        top = max(seqs, default=0)
                        if self._counted(epoch, socket, windows, margin):
                            missing = [q for q in epoch.sent if q not in seqs]
                        else:
                            missing = [q for q in epoch.sent if q < top and q not in seqs]
                        lost += len(missing)
                        for q in missing[:3]:
                            if len(figures["lost_samples"]) < 6:
                                figures["lost_samples"].append(
                                    f"s{session.index} {viewer.role}@{socket.relay} epoch {number} seq {q} "
                                    f"sent {epoch.sent[q] - epoch.started:.2f}s into it, last delivered {top}, "
                                    f"epoch {epoch.cause or 'current'}")
            if lost:
                figures["lost_by_session"][session.index] = lost
            figures["lost"] += lost
        figures["p50"] = percentile(latencies, 0.50)
        figures["p99"] = percentile(latencies, 0.99)
        figures["latency_samples"] = len(latencies)
        return figures

    @staticmethod
    def _counted(epoch, socket, windows, margin):
        if epoch.cause == "drop":
            return False
        end = epoch.ended if epoch.ended is not None else math.inf
        for start, stop in windows:
            if epoch.started <= stop and end >= start - margin:
                return False
        if socket.dropped and socket.closed is not None and socket.closed <= end:
            return False
        return True


async def wait_for(predicate, timeout, what, detail=None, raise_on_timeout=True, interval=0.05):
    """Polls `predicate` until true; the instant it was, or raises (or returns None)."""
    deadline = now() + timeout
    while True:
        if predicate():
            return now()
        if now() >= deadline:
            if raise_on_timeout:
                raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}"
                                     + (f" ({detail()})" if detail else ""))
            return None
        await asyncio.sleep(interval)


def summary(figures, keys=("sessions", "sent", "delivered", "ended", "lost", "reordered", "foreign", "leaks", "gaps")):
    parts = [f"{key}={figures[key]}" for key in keys if key in figures]
    if figures.get("p50") is not None:
        parts.append(f"p50={ms(figures['p50'])} p99={ms(figures['p99'])}")
    return " ".join(parts)
