"""A Socket.IO 5 client over Engine.IO 4, WebSocket transport only, on the `websockets` library.

rrweb-relay is a python-socketio server. Its browser SDK speaks this protocol; the load generator
speaks it here on the same `websockets` library it uses for our relays, so both systems are driven
by the same client code and the comparison measures the servers, not two client stacks.

Only what the generator needs: the default namespace, text packets, events without acks.
"""

import json

from websockets.asyncio.client import connect as ws_connect

# Engine.IO packet types (first character of every text frame).
_EIO_OPEN, _EIO_CLOSE, _EIO_PING, _EIO_PONG, _EIO_MESSAGE = "0", "1", "2", "3", "4"
# Socket.IO packet types (the character after Engine.IO's "4").
_SIO_CONNECT, _SIO_DISCONNECT, _SIO_EVENT, _SIO_CONNECT_ERROR = "0", "1", "2", "4"


class SocketIOError(Exception):
    pass


def event_frame(name, data):
    """The text frame of one event, as the server reads it."""
    return _EIO_MESSAGE + _SIO_EVENT + json.dumps([name, data], separators=(",", ":"))


def parse_frame(text):
    """One received text frame → ("event", name, data) | ("ping",) | ("close",) | ("other",)."""
    kind = text[:1]
    if kind == _EIO_PING:
        return ("ping",)
    if kind == _EIO_CLOSE:
        return ("close",)
    if kind == _EIO_MESSAGE:
        sio = text[1:2]
        if sio == _SIO_EVENT:
            body = json.loads(text[2:])
            return ("event", body[0], body[1] if len(body) > 1 else None)
        if sio == _SIO_DISCONNECT:
            return ("close",)
    return ("other",)


class SocketIOClient:
    """One connection. `recv()` yields events and answers the server's pings itself."""

    def __init__(self, ws):
        self.ws = ws

    @classmethod
    async def connect(cls, base_url, auth, path="socket.io", **ws_options):
        url = base_url.replace("http://", "ws://", 1).rstrip("/") + f"/{path.strip('/')}/?EIO=4&transport=websocket"
        ws = await ws_connect(url, **ws_options)
        client = cls(ws)
        opening = await ws.recv()
        if not opening.startswith(_EIO_OPEN):
            await ws.close()
            raise SocketIOError(f"expected an Engine.IO open packet, got {opening[:80]!r}")
        await ws.send(_EIO_MESSAGE + _SIO_CONNECT + json.dumps(auth, separators=(",", ":")))
        while True:
            answer = await ws.recv()
            if answer == _EIO_PING:
                await ws.send(_EIO_PONG)
                continue
            if answer.startswith(_EIO_MESSAGE + _SIO_CONNECT):
                return client
            await ws.close()
            if answer.startswith(_EIO_MESSAGE + _SIO_CONNECT_ERROR):
                raise SocketIOError(f"connection refused: {answer[2:200]}")
            raise SocketIOError(f"unexpected answer to connect: {answer[:80]!r}")

    async def emit(self, name, data):
        await self.ws.send(event_frame(name, data))

    async def send_frame(self, text):
        """An already encoded event frame (see `event_frame`)."""
        await self.ws.send(text)

    async def recv(self):
        """The next event as (name, data); None once the connection is closed."""
        while True:
            try:
                text = await self.ws.recv()
            except Exception:
                return None
            if isinstance(text, bytes):
                continue
            parsed = parse_frame(text)
            if parsed[0] == "event":
                return parsed[1], parsed[2]
            if parsed[0] == "ping":
                await self.ws.send(_EIO_PONG)
            elif parsed[0] == "close":
                return None

    async def close(self):
        try:
            await self.ws.send(_EIO_MESSAGE + _SIO_DISCONNECT)
        except Exception:
            pass
        await self.ws.close()
