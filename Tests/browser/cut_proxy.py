"""A TCP proxy in front of a relay whose WebSockets a test can cut, as a network that drops
long-lived connections (or a relay going away behind a load balancer) would, while plain HTTP
requests still pass. Real sockets and real bytes: the relay and the browser see a network
fault, not a stand-in for either."""

import socket
import threading

# The end of an HTTP request head; a WebSocket handshake says `Upgrade: websocket` in it.
HEAD_END = b"\r\n\r\n"
MAX_HEAD = 64 * 1024


def _shut(sock):
    # shutdown() wakes a thread blocked in recv() on the socket; close() alone may not.
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()


class CutProxy:
    """Listens on 127.0.0.1 (`port`, `base_url`, like a stack service) and forwards every
    connection to `target_port`. `cut_sockets()` closes the WebSockets through it and refuses
    new ones until `restore()`. Chromium opens each WebSocket on a connection of its own, so
    a connection's first request says what it is."""

    def __init__(self, target_port):
        self.target_port = target_port
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self._listener.listen(64)
        self.port = self._listener.getsockname()[1]
        self._lock = threading.Lock()
        self._cut = False
        self._websockets = set()  # (client, upstream) pairs
        self._connections = set()
        threading.Thread(target=self._accept, name=f"cut-proxy-{self.port}", daemon=True).start()

    @property
    def base_url(self):
        return f"http://127.0.0.1:{self.port}"

    def cut_sockets(self):
        """Closes every WebSocket through the proxy; new ones are refused until `restore()`."""
        with self._lock:
            self._cut = True
            pairs, self._websockets = list(self._websockets), set()
        for pair in pairs:
            for sock in pair:
                _shut(sock)

    def restore(self):
        with self._lock:
            self._cut = False

    def close(self):
        _shut(self._listener)
        with self._lock:
            connections, self._connections = list(self._connections), set()
        for sock in connections:
            _shut(sock)

    def _accept(self):
        while True:
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            threading.Thread(target=self._serve, args=(client,), daemon=True).start()

    def _serve(self, client):
        head = b""
        try:
            client.settimeout(10)
            while HEAD_END not in head and len(head) < MAX_HEAD:
                chunk = client.recv(65536)
                if not chunk:
                    break
                head += chunk
            client.settimeout(None)
        except OSError:
            _shut(client)
            return
        websocket = b"upgrade: websocket" in head.lower()
        with self._lock:
            refused = websocket and self._cut
        if refused or not head:
            _shut(client)
            return
        try:
            upstream = socket.create_connection(("127.0.0.1", self.target_port), timeout=5)
            upstream.settimeout(None)
            upstream.sendall(head)
        except OSError:
            _shut(client)
            return
        pair = (client, upstream)
        with self._lock:
            self._connections.update(pair)
            if websocket:
                self._websockets.add(pair)
        threading.Thread(target=self._pump, args=(upstream, client, pair), daemon=True).start()
        self._pump(client, upstream, pair)

    def _pump(self, source, sink, pair):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                sink.sendall(data)
        except OSError:
            pass
        with self._lock:
            self._websockets.discard(pair)
            self._connections.difference_update(pair)
        for sock in pair:
            _shut(sock)
