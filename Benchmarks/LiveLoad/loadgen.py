"""The live-load generator's sessions: a sharer socket and a viewer socket per co-browse session,
for our suite (dom-relay sockets, docs/stream-protocol.md) or for rrweb-relay (Socket.IO), with the
frames of the same page in each one's format, and the bookkeeping of every frame sent and received.

A worker process (`worker_main`) runs some of the sessions of a run in one asyncio loop; the
orchestrator (live_load.py) tells every worker when to start, so all sessions run on one schedule.
"""

import asyncio
import collections
import json
import os
import random
import time
import urllib.request

from websockets.asyncio.client import connect as ws_connect

from socketio_client import SocketIOClient, event_frame

# ---------------------------------------------------------------------------------------------
# Frame accounting
# ---------------------------------------------------------------------------------------------

DOM, CURSOR = 0, 1


class Tally:
    """One session's frames: each numbered frame sent (when it was due, its kind, whether it
    falls in the measured window) and its latency once the session's viewer got it.

    A frame is delivered once: a second copy is counted as a duplicate, never as a delivery; a
    frame carrying another session's tag is counted as foreign and delivers nothing here; a frame
    never sent (a number this session did not use) is counted as unknown."""

    __slots__ = ("tag", "due", "kind", "in_window", "latency", "duplicates", "foreign", "unknown")

    def __init__(self, tag):
        self.tag = tag
        self.due = {}
        self.kind = {}
        self.in_window = {}
        self.latency = {}
        self.duplicates = 0
        self.foreign = 0
        self.unknown = 0

    def sent(self, number, due, kind, in_window):
        self.due[number] = due
        self.kind[number] = kind
        self.in_window[number] = in_window

    def received(self, tag, number, at):
        if tag != self.tag:
            self.foreign += 1
            return
        due = self.due.get(number)
        if due is None:
            self.unknown += 1
            return
        if number in self.latency:
            self.duplicates += 1
            return
        self.latency[number] = at - due

    def pending_in_window(self):
        """Frames of the window not delivered (yet)."""
        return sum(1 for n, w in self.in_window.items() if w and n not in self.latency)

    def lost(self):
        """Numbers of every frame sent and not delivered (window or not), in order."""
        return sorted(n for n in self.due if n not in self.latency)

    def summary(self):
        """What the orchestrator needs of the window: counts and latencies (seconds)."""
        window = [n for n, w in self.in_window.items() if w]
        dom = [n for n in window if self.kind[n] == DOM]
        return {
            "sent": len(window),
            "delivered": sum(1 for n in window if n in self.latency),
            "latencies": [self.latency[n] for n in window if n in self.latency],
            "dom_sent": len(dom),
            "dom_delivered": sum(1 for n in dom if n in self.latency),
            "dom_within_1s": sum(1 for n in dom if n in self.latency and self.latency[n] <= 1.0),
            "duplicates": self.duplicates,
            "foreign": self.foreign,
            "unknown": self.unknown,
        }


def marker(tag, number):
    """The text of the list item a DOM frame adds: it names the session and the frame."""
    return f"m {tag} {number} "


def parse_marker(text):
    """(tag, number) of a marker text, or None for any other text."""
    if not isinstance(text, str) or not text.startswith("m "):
        return None
    parts = text.split(" ", 3)
    try:
        return int(parts[1]), int(parts[2])
    except (IndexError, ValueError):
        return None


# ---------------------------------------------------------------------------------------------
# The page: a login form with a password field and a list; each DOM frame appends an item,
# removes the oldest and sets an attribute on the list, as a page's MutationObserver reports.
# ---------------------------------------------------------------------------------------------

LIST_ID = 10
BODY_ID = 3
PASSWORD_ID = 7
ITEMS = 20
FIRST_ITEM_ID = 100
SNAPSHOT_ATTRIBUTE = "data-bench-snapshot"
PAGE_URL = "https://shop.example/bench/catalog"
# What our sharer sends as the password field's value: a real value, as the SDK's
# testOnlyDisableMasking does, so that seeing `****` at the viewer proves the filter masked it.
CLEAR_PASSWORD = "bench-secret"
# What rrweb's recorder sends for a password field (maskInputOptions.password: one `*` per character).
RRWEB_MASKED_PASSWORD = "*" * len(CLEAR_PASSWORD)
# Padding of each item's text, so that one of our mutation frames is about 280-290 bytes.
FILLER = "Shirt, 29.90"


class Page:
    """The page's node ids as the sharer's mirror numbers them."""

    def __init__(self):
        self.items = collections.deque(FIRST_ITEM_ID + 2 * i for i in range(ITEMS))
        self.next_id = FIRST_ITEM_ID + 2 * ITEMS
        self.texts = {item: f"Item {i} of the catalog" for i, item in enumerate(self.items)}

    def change(self, text):
        """One DOM change: (added item id, its text node id, removed item id)."""
        added = self.next_id
        self.next_id += 2
        removed = self.items.popleft()
        self.texts.pop(removed, None)
        self.items.append(added)
        self.texts[added] = text
        return added, added + 1, removed


# --- ours: docs/stream-protocol.md -------------------------------------------------------------

def ours_snapshot(page, tag, number, seq, stream):
    def item(i):
        return {"id": i, "type": "element", "tag": "li", "attrs": {"class": "item"},
                "children": [{"id": i + 1, "type": "text", "text": page.texts[i]}]}

    root = {"id": 1, "type": "element", "tag": "html", "attrs": {"lang": "en"}, "children": [
        {"id": 2, "type": "element", "tag": "head", "attrs": {}, "children": [
            {"id": 4, "type": "element", "tag": "title", "attrs": {}, "children": [
                {"id": 5, "type": "text", "text": "Catalog"}]}]},
        {"id": BODY_ID, "type": "element", "tag": "body", "attrs": {SNAPSHOT_ATTRIBUTE: f"{tag}:{number}"}, "children": [
            {"id": 6, "type": "element", "tag": "form", "attrs": {"id": "login"}, "children": [
                {"id": PASSWORD_ID, "type": "element", "tag": "input", "attrs": {"type": "password", "name": "password"},
                 "value": CLEAR_PASSWORD}]},
            {"id": LIST_ID, "type": "element", "tag": "ul", "attrs": {"id": "catalog"},
             "children": [item(i) for i in page.items]}]}]}
    return json.dumps({"t": "snapshot", "seq": seq, "stream": stream, "url": PAGE_URL, "title": "Catalog",
                       "doctype": "html", "viewport": {"w": 1280, "h": 800}, "scroll": {"x": 0, "y": 0},
                       "root": root}, separators=(",", ":"))


def ours_mutation(page, tag, number, seq):
    text = marker(tag, number) + FILLER
    added, text_id, removed = page.change(text)
    return json.dumps({"t": "mutations", "seq": seq, "adds": [{"parent": LIST_ID, "node": {
        "id": added, "type": "element", "tag": "li", "attrs": {"class": "item"},
        "children": [{"id": text_id, "type": "text", "text": text}]}}],
        "removes": [{"id": removed}], "attrs": [{"id": LIST_ID, "name": "data-last", "value": str(number)}],
        "texts": []}, separators=(",", ":"))


def ours_cursor(tag, number, seq):
    # Page coordinates carry the frame (x) and the session (y): the filter passes them as they are.
    return json.dumps({"t": "cursor", "seq": seq, "x": number, "y": tag}, separators=(",", ":"))


def ours_view_frame(frame):
    """What a viewer frame of ours carries: [("frame", tag, number)] and/or ("snapshot", mark, password)."""
    t = frame.get("t")
    found = []
    if t == "mutations":
        for add in frame.get("adds") or ():
            for child in (add.get("node") or {}).get("children") or ():
                parsed = parse_marker(child.get("text"))
                if parsed:
                    found.append(("frame",) + parsed)
    elif t == "cursor":
        x, y = frame.get("x"), frame.get("y")
        if isinstance(x, (int, float)) and isinstance(y, (int, float)):
            found.append(("frame", int(y), int(x)))
    elif t == "snapshot":
        body, password = None, None
        for node in (frame.get("root") or {}).get("children") or ():
            if node.get("tag") == "body":
                body = node
        if body is not None:
            for node in body.get("children") or ():
                for child in node.get("children") or ():
                    if child.get("id") == PASSWORD_ID:
                        password = child.get("value")
            found.append(("snapshot", (body.get("attrs") or {}).get(SNAPSHOT_ATTRIBUTE), password))
    return found


# --- rrweb: rrweb's event format (rrweb-snapshot nodes), as @rrweb-live/sdk hands it to the relay ---

def rrweb_snapshot_events(page, tag, number, now_ms):
    def item(i):
        return {"type": 2, "tagName": "li", "attributes": {"class": "item"}, "childNodes": [
            {"type": 3, "textContent": page.texts[i], "id": i + 1}], "id": i}

    html = {"type": 2, "tagName": "html", "attributes": {"lang": "en"}, "id": 1, "childNodes": [
        {"type": 2, "tagName": "head", "attributes": {}, "id": 2, "childNodes": [
            {"type": 2, "tagName": "title", "attributes": {}, "id": 4, "childNodes": [
                {"type": 3, "textContent": "Catalog", "id": 5}]}]},
        {"type": 2, "tagName": "body", "attributes": {SNAPSHOT_ATTRIBUTE: f"{tag}:{number}"}, "id": BODY_ID, "childNodes": [
            {"type": 2, "tagName": "form", "attributes": {"id": "login"}, "id": 6, "childNodes": [
                {"type": 2, "tagName": "input", "attributes": {"type": "password", "name": "password",
                                                               "value": RRWEB_MASKED_PASSWORD},
                 "childNodes": [], "id": PASSWORD_ID}]},
            {"type": 2, "tagName": "ul", "attributes": {"id": "catalog"}, "id": LIST_ID,
             "childNodes": [item(i) for i in page.items]}]}]}
    document = {"type": 0, "id": 8, "childNodes": [
        {"type": 1, "name": "html", "publicId": "", "systemId": "", "id": 9}, html]}
    return [
        {"event": {"type": 4, "data": {"href": PAGE_URL, "width": 1280, "height": 800}, "timestamp": now_ms},
         "isCheckout": True},
        {"event": {"type": 2, "data": {"node": document, "initialOffset": {"left": 0, "top": 0}}, "timestamp": now_ms},
         "isCheckout": True},
    ]


def rrweb_mutation(page, tag, number, now_ms):
    text = marker(tag, number) + FILLER
    added, text_id, removed = page.change(text)
    event = {"type": 3, "data": {"source": 0, "texts": [],
                                 "attributes": [{"id": LIST_ID, "attributes": {"data-last": str(number)}}],
                                 "removes": [{"parentId": LIST_ID, "id": removed}],
                                 "adds": [{"parentId": LIST_ID, "nextId": None, "node": {
                                     "type": 2, "tagName": "li", "attributes": {"class": "item"}, "childNodes": [],
                                     "id": added}},
                                     {"parentId": added, "nextId": None, "node": {"type": 3, "textContent": text,
                                                                                  "id": text_id}}]},
             "timestamp": now_ms}
    return event_frame("tracker:events", {"events": [{"event": event, "isCheckout": False}]})


def rrweb_cursor(tag, number, now_ms):
    event = {"type": 3, "data": {"source": 1, "positions": [{"x": number, "y": tag, "id": BODY_ID, "timeOffset": 0}]},
             "timestamp": now_ms}
    return event_frame("tracker:events", {"events": [{"event": event, "isCheckout": False}]})


def rrweb_view_events(events):
    """What a list of rrweb events carries: ("frame", tag, number) and ("snapshot", mark, password)."""
    found = []
    for event in events or ():
        if not isinstance(event, dict):
            continue
        data = event.get("data") or {}
        if event.get("type") == 3 and data.get("source") == 0:
            for add in data.get("adds") or ():
                node = add.get("node") or {}
                if node.get("type") == 3:
                    parsed = parse_marker(node.get("textContent"))
                    if parsed:
                        found.append(("frame",) + parsed)
        elif event.get("type") == 3 and data.get("source") == 1:
            for position in data.get("positions") or ():
                x, y = position.get("x"), position.get("y")
                if isinstance(x, (int, float)) and isinstance(y, (int, float)):
                    found.append(("frame", int(y), int(x)))
        elif event.get("type") == 2:
            document = data.get("node") or {}
            for html in document.get("childNodes") or ():
                for body in html.get("childNodes") or ():
                    if body.get("tagName") == "body":
                        found.append(("snapshot", (body.get("attributes") or {}).get(SNAPSHOT_ATTRIBUTE), None))
    return found


# ---------------------------------------------------------------------------------------------
# Sessions
# ---------------------------------------------------------------------------------------------

WS_OPTIONS = dict(
    # A browser offers permessage-deflate; each server takes it or not (our relays do not,
    # rrweb-relay's uvicorn does). No client pings (browsers send none), no proxy, and a deep
    # inbound queue so the generator never holds a server back by reading late.
    compression="deflate", ping_interval=None, ping_timeout=None, proxy=None, max_size=64 << 20, max_queue=4096,
    open_timeout=30,
)


class Session:
    """Common state: the page, the tally, the snapshots sent and seen, and how the session went."""

    def __init__(self, tag, cursor_every):
        self.tag = tag
        self.cursor_every = cursor_every
        self.page = Page()
        self.tally = Tally(tag)
        self.number = 0  # the last frame number used
        self.snapshots_sent = {}  # snapshot number → when it was sent
        self.snapshots_seen = []  # snapshot numbers the viewer got, in order
        self.unmasked = 0  # snapshots the viewer got with the password in clear
        self.resync_requests = 0  # asked of the sharer by the system
        self.view_gaps = 0
        self.ended = None  # why the session ended while it should not have
        self.ready = asyncio.Event()
        self.closing = False
        self.tasks = []
        self.frame_bytes = [0, 0]  # total bytes and count of DOM frames sent
        self.deflate = False  # whether the viewer's socket negotiated permessage-deflate

    def _view(self, found, at):
        for item in found:
            if item[0] == "frame":
                self.tally.received(item[1], item[2], at)
            else:
                mark, password = item[1], item[2]
                if password is not None and password == CLEAR_PASSWORD:
                    self.unmasked += 1
                if isinstance(mark, str) and mark.startswith(f"{self.tag}:"):
                    self.snapshots_seen.append(int(mark.split(":", 1)[1]))
                    self.ready.set()

    def died(self, why):
        if not self.closing and self.ended is None:
            self.ended = why

    def report(self):
        summary = self.tally.summary()
        # Resynced: the viewer got a snapshot sent after the last DOM frame this session lost
        # (the snapshot holds the page as it was then, lost changes included). A lost cursor
        # frame leaves nothing to repair.
        lost = [n for n in self.tally.lost() if self.tally.kind[n] == DOM]
        summary["had_loss"] = bool(lost)
        if lost:
            last_lost_due = self.tally.due[lost[-1]]
            summary["resynced"] = any(self.snapshots_sent.get(n, -1.0) > last_lost_due for n in self.snapshots_seen)
        else:
            summary["resynced"] = True
        summary["snapshots_seen"] = len(self.snapshots_seen)
        summary["resync_requests"] = self.resync_requests
        summary["view_gaps"] = self.view_gaps
        summary["unmasked"] = self.unmasked
        summary["ended"] = self.ended
        summary["frame_bytes"] = self.frame_bytes
        summary["deflate"] = self.deflate
        return summary

    async def run_stream(self, start, window_start, end, rate, lags):
        """Sends frames at `rate`/s from `start` (plus a random phase) until `end`, on a schedule:
        a late frame does not shift the ones after it. Latency counts from when a frame was due."""
        interval = 1.0 / rate
        due = start + random.random() * interval
        loop_time = time.monotonic
        while due < end and self.ended is None:
            now = loop_time()
            if due > now:
                await asyncio.sleep(due - now)
            await self.before_frame()
            self.number += 1
            kind = CURSOR if self.cursor_every and self.number % self.cursor_every == 0 else DOM
            in_window = window_start <= due < end
            self.tally.sent(self.number, due, kind, in_window)
            if in_window:
                lags.append(loop_time() - due)
            try:
                await self.send_frame(kind, self.number)
            except Exception as error:  # the socket went away: the session ended
                self.died(f"sharer socket: {type(error).__name__}")
                return
            due += interval


class OursSession(Session):
    """A co-browse session of our suite: the sharer on relay A, the viewer (the lead agent) on relay B."""

    def __init__(self, tag, cursor_every, sharer_relay, viewer_relay):
        super().__init__(tag, cursor_every)
        self.sharer_relay = sharer_relay.rstrip("/")
        self.viewer_relay = viewer_relay.rstrip("/")
        self.seq = 0
        self.stream = None
        self.streaming = False
        self.snapshot_wanted = False
        self.view_seq = None
        self.view_needs_snapshot = True
        self.view_resync_at = 0.0
        self.sharer = self.viewer = None

    @staticmethod
    def _token(url):
        with urllib.request.urlopen(urllib.request.Request(url), timeout=30) as answer:
            return json.load(answer)["token"]

    @staticmethod
    async def _until(ws, t):
        while True:
            message = json.loads(await ws.recv())
            if message.get("t") == t:
                return message
            if message.get("t") == "error":
                raise RuntimeError(f"refused: {message}")

    async def open(self):
        interaction = await asyncio.to_thread(self._token, f"{self.sharer_relay}/dev/interaction-token")
        agent = await asyncio.to_thread(self._token, f"{self.viewer_relay}/dev/agent-token?agent=bench-{self.tag}")
        ws_a = self.sharer_relay.replace("http://", "ws://", 1)
        ws_b = self.viewer_relay.replace("http://", "ws://", 1)
        self.sharer = await ws_connect(ws_a + "/ws/share", origin=self.sharer_relay, **WS_OPTIONS)
        self.stream = "%010x" % random.getrandbits(40)  # a new one per socket, as the SDK makes
        await self.sharer.send(json.dumps({"t": "start", "interactionToken": interaction}))
        started = await self._until(self.sharer, "started")
        self.session_id = started["sessionId"]
        await self.send_snapshot()  # the SDK's first frame on a new socket
        self.tasks.append(asyncio.create_task(self.read_sharer()))
        self.viewer = await ws_connect(ws_b + "/ws/view", origin=self.viewer_relay, **WS_OPTIONS)
        self.deflate = bool(self.viewer.protocol.extensions)
        await self.viewer.send(json.dumps({"t": "join", "agentToken": agent, "sessionId": self.session_id}))
        await self._until(self.viewer, "joined")
        self.tasks.append(asyncio.create_task(self.read_viewer()))
        await self.ready.wait()  # the join's snapshot reached the viewer
        self.tasks.append(asyncio.create_task(self.view_watchdog()))

    async def run_stream(self, start, window_start, end, rate, lags):
        await super().run_stream(start, window_start, end, rate, lags)
        # Past the last frame a resync is answered at once again (during the drain too).
        self.streaming = False
        if self.snapshot_wanted and self.ended is None:
            self.snapshot_wanted = False
            try:
                await self.send_snapshot()
            except Exception:
                pass

    async def send_snapshot(self):
        self.seq = 1
        number = len(self.snapshots_sent) + 1
        self.snapshots_sent[number] = time.monotonic()
        await self.sharer.send(ours_snapshot(self.page, self.tag, number, 1, self.stream))

    async def before_frame(self):
        # A resync asked for while streaming goes out from the sending task, in order with the
        # frames (the SDK answers at once; here it waits for the next frame, at most one interval).
        if self.snapshot_wanted:
            self.snapshot_wanted = False
            await self.send_snapshot()

    async def send_frame(self, kind, number):
        self.seq += 1
        if kind == DOM:
            text = ours_mutation(self.page, self.tag, number, self.seq)
            self.frame_bytes[0] += len(text)
            self.frame_bytes[1] += 1
        else:
            text = ours_cursor(self.tag, number, self.seq)
        await self.sharer.send(text)

    async def read_sharer(self):
        try:
            async for text in self.sharer:
                message = json.loads(text)
                t = message.get("t")
                if t == "resync":
                    self.resync_requests += 1
                    if self.streaming:
                        self.snapshot_wanted = True
                    else:
                        await self.send_snapshot()
                elif t == "ended":
                    self.died(f"ended: {message.get('reason')}")
        except Exception:
            pass
        self.died("sharer socket closed")

    async def read_viewer(self):
        clock = time.monotonic
        try:
            async for text in self.viewer:
                at = clock()
                frame = json.loads(text)
                seq = frame.get("seq")
                if isinstance(seq, int):
                    self.follow_view_sequence(frame, seq, at)
                if frame.get("t") == "ended":
                    self.died(f"ended: {frame.get('reason')}")
                    continue
                self._view(ours_view_frame(frame), at)
        except Exception:
            pass
        self.died("viewer socket closed")

    def follow_view_sequence(self, frame, seq, at):
        # As the agent console does: a gap in the filter's sequence asks for a snapshot (and the
        # watchdog asks again every 5 s until one comes).
        if frame.get("t") == "snapshot":
            self.view_needs_snapshot = False
        elif self.view_seq is not None and seq != self.view_seq + 1 and not self.view_needs_snapshot:
            self.view_gaps += 1
            self.view_needs_snapshot = True
            self.ask_view_resync(at)
        self.view_seq = seq

    def ask_view_resync(self, at):
        self.view_resync_at = at
        asyncio.ensure_future(self._send_quietly(self.viewer, json.dumps({"t": "resync"})))

    async def view_watchdog(self):
        while True:
            await asyncio.sleep(1.0)
            now = time.monotonic()
            if self.view_needs_snapshot and self.ready.is_set() and now - self.view_resync_at >= 5.0:
                self.ask_view_resync(now)

    @staticmethod
    async def _send_quietly(ws, text):
        try:
            await ws.send(text)
        except Exception:
            pass

    async def close(self):
        self.closing = True
        try:
            await self.sharer.send(json.dumps({"t": "end", "seq": self.seq + 1}))  # the customer's Exit
            await asyncio.wait_for(self.sharer.wait_closed(), 10)
        except Exception:
            pass
        for ws in (self.sharer, self.viewer):
            if ws is not None:
                try:
                    await asyncio.wait_for(ws.close(), 5)
                except Exception:
                    pass
        for task in self.tasks:
            task.cancel()


class RrwebSession(Session):
    """An rrweb-relay session: a publisher socket (role customer) and a watcher (role admin)."""

    def __init__(self, tag, cursor_every, url, tokens):
        super().__init__(tag, cursor_every)
        self.url = url
        self.tokens = tokens  # {"customer": jwt, "admin": jwt}
        self.publisher = self.watcher = None
        self.session_id = f"bench-{tag}"

    async def open(self):
        self.publisher = await SocketIOClient.connect(self.url, {"token": self.tokens["customer"]}, **WS_OPTIONS)
        await self.publisher.emit("tracker:start", {"sessionId": self.session_id, "url": PAGE_URL, "site": "shop.example",
                                                    "userAgent": "live-load"})
        self.snapshots_sent[1] = time.monotonic()
        await self.publisher.emit("tracker:events", {"events": rrweb_snapshot_events(self.page, self.tag, 1,
                                                                                      int(time.time() * 1000))})
        self.tasks.append(asyncio.create_task(self.read_publisher()))
        self.watcher = await SocketIOClient.connect(self.url, {"token": self.tokens["admin"]}, **WS_OPTIONS)
        self.deflate = bool(self.watcher.ws.protocol.extensions)
        # The watcher asks for this one session only; it does not subscribe to the session list
        # (admin:hello), whose broadcasts would add work for the relay that ours does not do.
        await self.watcher.emit("admin:watch", self.session_id)
        self.tasks.append(asyncio.create_task(self.read_watcher()))
        await self.ready.wait()

    async def before_frame(self):
        pass

    async def send_frame(self, kind, number):
        now_ms = int(time.time() * 1000)
        if kind == DOM:
            text = rrweb_mutation(self.page, self.tag, number, now_ms)
            self.frame_bytes[0] += len(text)
            self.frame_bytes[1] += 1
        else:
            text = rrweb_cursor(self.tag, number, now_ms)
        await self.publisher.send_frame(text)

    async def read_publisher(self):
        while await self.publisher.recv() is not None:
            pass
        self.died("publisher socket closed")

    async def read_watcher(self):
        clock = time.monotonic
        while True:
            event = await self.watcher.recv()
            at = clock()
            if event is None:
                break
            name, data = event
            if name == "live:events":
                self._view(rrweb_view_events(data), at)
            elif name == "watch:init":
                self._view(rrweb_view_events((data or {}).get("events")), at)
            elif name == "live:end":
                self.died("live:end")
        self.died("watcher socket closed")

    async def close(self):
        self.closing = True
        for client in (self.publisher, self.watcher):
            if client is not None:
                try:
                    await asyncio.wait_for(client.close(), 5)
                except Exception:
                    pass
        for task in self.tasks:
            task.cancel()


# ---------------------------------------------------------------------------------------------
# Worker process
# ---------------------------------------------------------------------------------------------

async def _open_all(sessions, concurrency=16):
    gate = asyncio.Semaphore(concurrency)
    failures = []

    async def one(session):
        async with gate:
            try:
                await asyncio.wait_for(session.open(), 60)
            except Exception as error:
                failures.append(f"{type(error).__name__}: {error}")

    await asyncio.gather(*(one(s) for s in sessions))
    return failures


async def _run(conn, setup):
    """One run: open the sessions, stream on the orchestrator's schedule, drain, report, close."""
    system = setup["system"]
    cursor_every = setup["cursor_every"]
    if system == "ours":
        sessions = [OursSession(tag, cursor_every, setup["sharer_relay"], setup["viewer_relay"]) for tag in setup["tags"]]
    else:
        sessions = [RrwebSession(tag, cursor_every, setup["rrweb_url"], setup["tokens"]) for tag in setup["tags"]]
    failures = await _open_all(sessions)
    conn.send({"ready": len(sessions) - len(failures), "failures": failures[:5]})
    go = await asyncio.to_thread(conn.recv)
    start, window_start, end, drain = go["start"], go["window_start"], go["end"], go["drain"]
    rate = go["rate"]
    for session in sessions:
        if isinstance(session, OursSession):
            session.streaming = True
    lags = []
    live = [s for s in sessions if s.ready.is_set()]
    await asyncio.gather(*(s.run_stream(start, window_start, end, rate, lags) for s in live))
    # Drain: until every frame of the window is accounted for, or the drain time is up.
    deadline = end + drain
    while time.monotonic() < deadline and any(s.tally.pending_in_window() for s in live):
        await asyncio.sleep(0.1)
    drained_at = time.monotonic()
    reports = [s.report() for s in live]
    conn.send({"reports": reports, "lags": lags, "drained_at": drained_at})
    await asyncio.to_thread(conn.recv)  # close
    await asyncio.gather(*(s.close() for s in sessions), return_exceptions=True)
    conn.send({"closed": True})


async def _worker(conn):
    while True:
        command = await asyncio.to_thread(conn.recv)
        if command.get("quit"):
            return
        await _run(conn, command)


def worker_main(conn, use_uvloop=True):
    """Entry point of a worker process: runs the runs the orchestrator sends until told to quit."""
    conn.send({"pid": os.getpid()})
    if use_uvloop:
        try:
            import uvloop
        except ImportError:
            uvloop = None
        if uvloop is not None:
            uvloop.run(_worker(conn))
            return
    asyncio.run(_worker(conn))
