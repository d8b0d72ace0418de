#!/usr/bin/python3
"""A flooding client, in a process of its own so that its sending never delays the clocks of
the load generator that measures the bystanders.

    /usr/bin/python3 Tests/faults/flood.py '<json>'

with `mode` one of
- `sharer`: opens /ws/share with `token` (start), sends a snapshot, then mutation frames;
- `pointer`: joins /ws/view with `token` and `session` (the lead agent), sends pointer actions;
- `resync`: joins /ws/view with `token` and `session` (an observer), sends `{"t":"resync"}`;

as fast as it can, up to `rate` messages per second, for `seconds`. It reads whatever the relay
sends meanwhile (it is not a slow client). Prints one JSON line: messages sent, the time it took,
messages received, and whether and when the relay closed the socket (close code).
"""

import asyncio
import json
import sys
import time

import websockets

BATCH = 50


async def main(config):
    url = config["url"]
    mode = config["mode"]
    rate = float(config.get("rate", 10000))
    seconds = float(config["seconds"])
    result = {"mode": mode, "sent": 0, "received": 0, "errors": 0, "closed_by_relay": False, "close_code": None,
              "closed_after": None}
    ws = await websockets.connect(url, open_timeout=10, close_timeout=1, ping_interval=None, max_size=None)
    if mode == "sharer":
        await ws.send(json.dumps({"t": "start", "interactionToken": config["token"]}))
    else:
        await ws.send(json.dumps({"t": "join", "agentToken": config["token"], "sessionId": config["session"]}))
    reply = json.loads(await asyncio.wait_for(ws.recv(), 30))
    result["opened"] = reply.get("t")
    if reply.get("t") not in ("started", "joined"):
        result["refused"] = reply
        print(json.dumps(result), flush=True)
        return
    result["session"] = reply.get("sessionId")
    stream = "flood"

    async def read():
        try:
            async for text in ws:
                result["received"] += 1
                if '"t":"error"' in text:
                    result["errors"] += 1
        except websockets.ConnectionClosed:
            pass

    reader = asyncio.create_task(read())
    if mode == "sharer":
        await ws.send(json.dumps({
            "t": "snapshot", "seq": 1, "stream": stream, "url": "https://shop.example/flood", "title": "flood",
            "doctype": "html", "viewport": {"w": 800, "h": 600}, "scroll": {"x": 0, "y": 0},
            "root": {"id": 1, "type": "element", "tag": "html", "children": [
                {"id": 2, "type": "element", "tag": "body", "children": [{"id": 3, "type": "text", "text": "flood"}]}]}}))

    def message(n):
        if mode == "sharer":
            return ('{"t":"mutations","seq":%d,"adds":[],"removes":[],"attrs":[],"texts":[{"id":3,"text":"flood %d"}]}'
                    % (n + 1, n))
        if mode == "pointer":
            return '{"t":"pointer","x":%d,"y":%d}' % (n % 800, n % 600)
        return '{"t":"resync"}'

    started = time.monotonic()
    n = 1
    try:
        while True:
            elapsed = time.monotonic() - started
            if elapsed >= seconds:
                break
            ahead = n - elapsed * rate
            if ahead > 0:
                await asyncio.sleep(ahead / rate)
            for _ in range(BATCH):
                await ws.send(message(n))
                n += 1
            result["sent"] = n - 1
    except websockets.ConnectionClosed:
        result["closed_by_relay"] = True
        result["close_code"] = ws.close_code
        result["closed_after"] = round(time.monotonic() - started, 3)
    result["sent"] = n - 1
    result["seconds"] = round(time.monotonic() - started, 3)
    result["rate"] = round(result["sent"] / max(result["seconds"], 1e-6))
    if not result["closed_by_relay"]:
        await ws.close()
    reader.cancel()
    print(json.dumps(result), flush=True)


if __name__ == "__main__":
    asyncio.run(main(json.loads(sys.argv[1])))
