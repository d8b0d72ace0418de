#!/usr/bin/python3
"""TCP proxies between the services and the broker, which the fault suite cuts and heals.

    /usr/bin/python3 Tests/faults/proxy.py '{"relay-a": [27704, 27672], ...}'

One process (so the proxies' work never shares a GIL with the load generator's clocks), one
listener per route on 127.0.0.1. Commands on standard input, one per line, each answered on
standard output with one line:

    cut NAME    every connection through NAME is reset (RST, both sides) and new ones are
                reset as soon as they arrive, until `heal NAME`: the service and the broker
                each see their connection drop, as on a network fault
    heal NAME   new connections pass again
    count NAME  how many connections pass through NAME now

It prints `ready` once every listener is bound. Real sockets and real bytes: the services and
the broker see a network fault, not a stand-in for either.
"""

import asyncio
import json
import sys

CHUNK = 256 * 1024


class Route:
    def __init__(self, name, listen_port, target_port):
        self.name = name
        self.listen_port = listen_port
        self.target_port = target_port
        self.cut = False
        self.pairs = set()

    async def serve(self, reader, writer):
        if self.cut:
            writer.transport.abort()
            return
        try:
            upstream_reader, upstream_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        if self.cut:  # cut while we connected
            upstream_writer.transport.abort()
            writer.transport.abort()
            return
        pair = (writer, upstream_writer)
        self.pairs.add(pair)
        try:
            await asyncio.gather(self.pump(reader, upstream_writer, pair), self.pump(upstream_reader, writer, pair))
        finally:
            self.pairs.discard(pair)

    async def pump(self, source, sink, pair):
        try:
            while True:
                data = await source.read(CHUNK)
                if not data:
                    break
                sink.write(data)
                await sink.drain()
        except (OSError, asyncio.CancelledError):
            pass
        # One side closed (or the connection was cut): close both, as a TCP connection would.
        for writer in pair:
            writer.transport.abort()

    def cut_all(self):
        self.cut = True
        for pair in list(self.pairs):
            for writer in pair:
                writer.transport.abort()
        self.pairs.clear()


async def main():
    routes = {name: Route(name, ports[0], ports[1]) for name, ports in json.loads(sys.argv[1]).items()}
    servers = []
    for route in routes.values():
        servers.append(await asyncio.start_server(route.serve, "127.0.0.1", route.listen_port, reuse_address=True,
                                                  backlog=256))
    print("ready", flush=True)
    loop = asyncio.get_running_loop()
    reader = asyncio.StreamReader()
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), sys.stdin)
    while True:
        line = await reader.readline()
        if not line:
            return  # the test runner went away
        words = line.decode().split()
        if len(words) != 2 or words[1] not in routes:
            print(f"error {line.decode().strip()!r}", flush=True)
            continue
        command, route = words[0], routes[words[1]]
        if command == "cut":
            route.cut_all()
            print(f"ok cut {route.name}", flush=True)
        elif command == "heal":
            route.cut = False
            print(f"ok heal {route.name}", flush=True)
        elif command == "count":
            print(f"ok {len(route.pairs)}", flush=True)
        else:
            print(f"error {command}", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
