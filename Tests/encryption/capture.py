"""Loopback traffic as the proofs read it: a tshark capture of `lo` into a pcap file, and that
file parsed here into TCP flows (each direction's payload put back in sequence order) and UDP
payloads, with the client frames of plain WebSockets unmasked (a browser XOR-masks what it
sends, which hides nothing but would hide a marker from a byte search)."""

import os
import secrets
import signal
import socket
import struct
import subprocess
import threading
import time


# Where `Capture.catch_up` sends its datagrams: the discard port, closed here (the kernel
# answers with an ICMP error, which the capture holds too).
DISCARD_PORT = 9


class Capture:
    """tshark on the loopback interface, writing every packet to `path` (libpcap format)."""

    def __init__(self, path):
        self.path = path
        self.stderr = []
        if os.path.exists(path):
            os.remove(path)
        # -B: a 64 MB kernel buffer, so a loaded machine drops no packet; -q: no per-packet output.
        self.process = subprocess.Popen(["tshark", "-i", "lo", "-B", "64", "-q", "-F", "pcap", "-w", path],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        self._capturing = threading.Event()
        self._reader = threading.Thread(target=self._read_stderr, daemon=True)
        self._reader.start()
        # "Capturing on 'Loopback: lo'" comes once dumpcap has opened the interface.
        if not self._capturing.wait(60):
            self.process.kill()
            raise AssertionError(f"tshark did not start capturing on lo within 60 s: {''.join(self.stderr)[-800:]}")

    def _read_stderr(self):
        for line in self.process.stderr:
            self.stderr.append(line)
            if "Capturing on" in line:
                self._capturing.set()

    def catch_up(self, within=60):
        """Waits until every packet sent on lo so far is in the file. dumpcap reads the kernel's
        buffer behind the traffic (seconds behind on a loaded machine), and SIGINT ends it without
        reading the rest: a datagram sent now is in the file only after everything before it, and
        padding after it pushes it through tshark's output buffer."""
        sentinel = f"capture-caught-up-{secrets.token_hex(8)}".encode()
        deadline = time.monotonic() + within
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as sender:
            sender.sendto(sentinel, ("127.0.0.1", DISCARD_PORT))
            while True:
                with open(self.path, "rb") as written:
                    if sentinel in written.read():
                        return
                if time.monotonic() > deadline:
                    raise AssertionError(f"the capture did not catch up with the traffic within {within} s")
                sender.sendto(b"\0" * 1024, ("127.0.0.1", DISCARD_PORT))
                time.sleep(0.05)

    def stop(self):
        """SIGINT (tshark then writes out what it holds), and waits for it to exit; returns
        tshark's closing words (packets captured, dropped)."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
                raise AssertionError("tshark did not exit within 60 s of SIGINT")
        self._reader.join(timeout=10)
        return "".join(line for line in self.stderr if "captured" in line or "dropped" in line).strip()


class Flow:
    """One direction of one TCP connection (or the datagrams of one UDP pair): its ports, its
    bytes in order, and the bytes its plain WebSocket frames carry, unmasked."""

    def __init__(self, protocol, source, destination, data):
        self.protocol = protocol
        self.source = source  # (address, port)
        self.destination = destination
        self.data = data
        self.websocket = b""

    @property
    def ports(self):
        return self.source[1], self.destination[1]

    def __str__(self):
        return f"{self.protocol} {self.source[0]}:{self.source[1]} -> {self.destination[0]}:{self.destination[1]}"


def _packets(path):
    """(linktype, packet bytes) of each packet of a libpcap file."""
    with open(path, "rb") as handle:
        header = handle.read(24)
        if len(header) < 24:
            return
        magic = header[:4]
        if magic in (b"\xd4\xc3\xb2\xa1", b"\x4d\x3c\xb2\xa1"):
            endian = "<"
        elif magic in (b"\xa1\xb2\xc3\xd4", b"\xa1\xb2\x3c\x4d"):
            endian = ">"
        else:
            raise AssertionError(f"{path} is not a libpcap file (magic {magic.hex()})")
        linktype = struct.unpack(endian + "I", header[20:24])[0] & 0x0FFFFFFF
        while True:
            record = handle.read(16)
            if len(record) < 16:
                return
            included = struct.unpack(endian + "IIII", record)[2]
            yield linktype, handle.read(included)


def _network_layer(linktype, packet):
    """The IP packet inside a link-layer frame (loopback captures: Ethernet, Linux cooked, BSD null)."""
    if linktype == 1:  # Ethernet (what Linux's lo gives)
        kind, offset = struct.unpack("!H", packet[12:14])[0], 14
        while kind == 0x8100:  # VLAN tag
            kind, offset = struct.unpack("!H", packet[offset + 2:offset + 4])[0], offset + 4
        return packet[offset:] if kind in (0x0800, 0x86DD) else None
    if linktype == 113:  # Linux cooked v1
        return packet[16:]
    if linktype == 276:  # Linux cooked v2
        return packet[20:]
    if linktype in (0, 108):  # BSD loopback
        return packet[4:]
    if linktype in (101, 12, 14):  # raw IP
        return packet
    raise AssertionError(f"unexpected link type {linktype} in the capture")


def _transport(ip):
    """(protocol number, source address, destination address, transport segment) of an IP packet."""
    if not ip:
        return None
    version = ip[0] >> 4
    if version == 4:
        header_length = (ip[0] & 0x0F) * 4
        total = struct.unpack("!H", ip[2:4])[0] or len(ip)
        source = ".".join(str(b) for b in ip[12:16])
        destination = ".".join(str(b) for b in ip[16:20])
        return ip[9], source, destination, ip[header_length:total]
    if version == 6:
        payload_length = struct.unpack("!H", ip[4:6])[0]
        next_header, offset = ip[6], 40
        # Skip the extension headers the loopback might carry (hop-by-hop, routing, destination).
        while next_header in (0, 43, 60):
            next_header, offset = ip[offset], offset + (ip[offset + 1] + 1) * 8
        source, destination = ip[8:24].hex(), ip[24:40].hex()
        return next_header, source, destination, ip[offset:40 + payload_length]
    return None


def read_flows(path):
    """Every TCP direction (bytes in sequence order) and UDP pair (datagrams concatenated) of a pcap file."""
    segments = {}  # (source, destination) -> {seq: payload}
    udp = {}
    for linktype, packet in _packets(path):
        found = _transport(_network_layer(linktype, packet))
        if not found:
            continue
        protocol, source_address, destination_address, segment = found
        if protocol == 6 and len(segment) >= 20:
            source_port, destination_port, seq = struct.unpack("!HHI", segment[:8])
            payload = segment[(segment[12] >> 4) * 4:]
            if payload:
                key = ((source_address, source_port), (destination_address, destination_port))
                # A retransmission keeps the longest payload seen at that sequence number.
                known = segments.setdefault(key, {})
                if len(payload) > len(known.get(seq, b"")):
                    known[seq] = payload
        elif protocol == 17 and len(segment) >= 8:
            source_port, destination_port = struct.unpack("!HH", segment[:4])
            key = ((source_address, source_port), (destination_address, destination_port))
            udp.setdefault(key, bytearray()).extend(segment[8:])
    flows = [Flow("tcp", source, destination, _in_order(parts)) for (source, destination), parts in segments.items()]
    flows += [Flow("udp", source, destination, bytes(data)) for (source, destination), data in udp.items()]
    for flow in flows:
        flow.websocket = unmasked_websocket_payloads(flow.data)
    return flows


def _in_order(parts):
    """A TCP direction's payloads joined in sequence order (32-bit wrap-around handled; bytes
    seen twice are kept once; a gap is simply skipped)."""
    first = min(parts, key=lambda seq: (seq - min(parts)) % 2**32)
    stream, end = bytearray(), None
    for seq in sorted(parts, key=lambda seq: (seq - first) % 2**32):
        offset = (seq - first) % 2**32
        payload = parts[seq]
        if end is not None and offset < end:
            payload = payload[end - offset:]  # overlap with what is there already
            offset = end
        stream.extend(payload)
        end = offset + len(payload)
    return bytes(stream)


def unmasked_websocket_payloads(data):
    """The payloads of the WebSocket frames a client sent (masked; RFC 6455) after its HTTP
    upgrade request, unmasked and concatenated; b"" if `data` is no plain WebSocket client."""
    if not data.startswith(b"GET "):
        return b""
    end = data.find(b"\r\n\r\n")
    if end < 0 or b"upgrade: websocket" not in data[:end].lower():
        return b""
    position, payloads = end + 4, bytearray()
    while position + 2 <= len(data):
        second = data[position + 1]
        length, position = second & 0x7F, position + 2
        if length == 126:
            length, position = struct.unpack("!H", data[position:position + 2])[0], position + 2
        elif length == 127:
            length, position = struct.unpack("!Q", data[position:position + 8])[0], position + 8
        key = b""
        if second & 0x80:
            key, position = data[position:position + 4], position + 4
        payload = data[position:position + length]
        position += length
        if key and payload:
            # XOR with the key repeated, as one big integer (a byte loop is slow on snapshots).
            mask = (key * (len(payload) // 4 + 1))[:len(payload)]
            payload = (int.from_bytes(payload, "big") ^ int.from_bytes(mask, "big")).to_bytes(len(payload), "big")
        payloads.extend(payload)
    return bytes(payloads)


def where(flows, secret):
    """The flows whose bytes (or unmasked WebSocket payloads) hold `secret` (a str)."""
    needle = secret.encode()
    return [flow for flow in flows if needle in flow.data or needle in flow.websocket]

