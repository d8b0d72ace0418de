"""A real co-browse session on the stack, made the way the SDK and the console make one
(docs/stream-protocol.md): a customer socket starts it with a dev interaction token and sends a
snapshot with a password field (so the masking filter reports a masking record), and an agent
joins it as lead with a display name (so it has a visit). The sockets stay open until `close()`.
"""

import asyncio
import json
import urllib.parse

import websockets

OPEN_TIMEOUT = 30.0


class LiveSession:
    """One session: its id, its customer key and interaction, and its two open sockets."""

    def __init__(self, relay_url, interaction, agent):
        self.ws_base = "ws" + relay_url[len("http"):]
        self.relay_url = relay_url
        self.interaction = interaction
        self.agent = agent
        self.session_id = self.customer_key = None
        self.sharer = self.viewer = None

    async def open(self, interaction_token, agent_token=None):
        """Starts the session and sends a snapshot; with `agent_token`, the agent joins it too."""
        self.sharer = await websockets.connect(self.ws_base + "/ws/share", open_timeout=OPEN_TIMEOUT)
        await self.sharer.send(json.dumps({"t": "start", "interactionToken": interaction_token}))
        started = await self._reply(self.sharer, "started")
        self.session_id, self.customer_key = started["sessionId"], started["customerKey"]
        await self.sharer.send(json.dumps(self._snapshot()))
        if agent_token is not None:
            self.viewer = await websockets.connect(self.ws_base + "/ws/view", open_timeout=OPEN_TIMEOUT)
            await self.viewer.send(json.dumps({"t": "join", "agentToken": agent_token, "sessionId": self.session_id}))
            await self._reply(self.viewer, "joined")
        return self

    @staticmethod
    async def _reply(socket, wanted):
        """The first message of type `wanted` (others, e.g. frames, are skipped); fails on an error."""
        while True:
            message = json.loads(await asyncio.wait_for(socket.recv(), OPEN_TIMEOUT))
            if message.get("t") == wanted:
                return message
            if message.get("t") == "error":
                raise AssertionError(f"expected {wanted}, got {message}")

    def _snapshot(self):
        """A page with a password field: the filter masks its value and records that it did."""
        return {
            "t": "snapshot", "seq": 1, "url": "https://shop.example/openapi/" + urllib.parse.quote(self.interaction),
            "title": "openapi tests", "doctype": "html", "viewport": {"w": 1280, "h": 800}, "scroll": {"x": 0, "y": 0},
            "root": {"id": 1, "type": "element", "tag": "html", "children": [
                {"id": 2, "type": "element", "tag": "body", "children": [
                    {"id": 3, "type": "element", "tag": "input",
                     "attrs": {"type": "password", "name": "pw", "value": "hunter2"}, "value": "hunter2"}]}]}}

    async def close(self):
        for socket in (self.viewer, self.sharer):
            if socket is not None:
                await socket.close()
