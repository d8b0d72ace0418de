"""On the wire: with TLS=1 no captured loopback byte holds the customer's marker, the agent's
token or a service's broker password; with TLS=0 (the control) the same capture finds them, so
the search can fail. Flows of the test's own browser driving (chromedriver, DevTools) are left
out: they are the test harness, not the suite."""

from capture import where
from session import BROKER_PASSWORDS, SUITE_PORTS

EPMD_PORT = 4370  # Erlang's port mapper: node names and ports only, never TLS in RabbitMQ


def suite_flows(recording):
    """The TCP/UDP flows of the capture that are not the harness's."""
    return [flow for flow in recording.flows if not set(flow.ports) & recording.harness_ports]


def touches_suite(flow):
    return bool(set(flow.ports) & SUITE_PORTS)


def describe(flows):
    return ", ".join(sorted({str(flow) for flow in flows})) or "nowhere"


def test_the_control_without_tls_finds_every_secret(plain_session):
    flows = suite_flows(plain_session)
    marker, token = where(flows, plain_session.marker), where(flows, plain_session.token)
    # Locally a password is its user's name: the AMQP PLAIN login, "\0user\0password", is the password itself.
    passwords = {password: where(flows, f"\0{password}\0{password}") for password in BROKER_PASSWORDS}
    print(f"\ncontrol (TLS=0, {plain_session.seconds:.0f} s, {len(flows)} flows; tshark: {plain_session.capture_summary}):")
    print(f"  marker {plain_session.marker}: {describe(marker)}")
    print(f"  agent token: {describe(token)}")
    for password, found in passwords.items():
        print(f"  broker login (PLAIN) of {password}: {describe(found)}")
    assert marker, "the control capture holds no marker: the search (or the capture) cannot see plaintext"
    assert token, "the control capture holds no agent token: the search (or the capture) cannot see plaintext"
    assert any(passwords.values()), "the control capture holds no broker password: the search cannot see AMQP logins"
    # The marker crossed both relays and the broker in clear: the customer's socket (masked
    # client frames), the AMQP connections, the agent's socket.
    ports = {port for flow in marker for port in flow.ports}
    assert {8080, 8090, 5673} <= ports, f"the marker was seen only on ports {sorted(ports & SUITE_PORTS)}"


def test_with_tls_no_secret_crosses_the_loopback(tls_session):
    flows = suite_flows(tls_session)
    print(f"\nTLS=1 ({tls_session.seconds:.0f} s, {len(flows)} flows, {sum(len(flow.data) for flow in flows)} bytes; "
          f"tshark: {tls_session.capture_summary})")
    # The capture saw the session: the sockets of both relays and the broker's connections carried data.
    busy = {port for flow in flows if flow.protocol == "tcp" and len(flow.data) > 1000 for port in flow.ports}
    assert {8080, 8090, 5673} <= busy, f"the capture saw no sizeable traffic on {sorted({8080, 8090, 5673} - busy)}"
    leaks = {"marker": where(flows, tls_session.marker), "agent token": where(flows, tls_session.token)}
    for password in BROKER_PASSWORDS:
        found = where(flows, password)
        foreign = [flow for flow in found if not touches_suite(flow)]
        if foreign:
            print(f"  note: {password} seen outside the suite's ports (another process's traffic): {describe(foreign)}")
        leaks[f"broker password of {password}"] = [flow for flow in found if touches_suite(flow)]
    found = {what: describe(flows) for what, flows in leaks.items() if flows}
    assert not found, f"plaintext on the wire with TLS=1: {found}"


def test_with_tls_every_suite_connection_is_tls(tls_session):
    # Each direction of every TCP connection to a suite port opens with a TLS handshake record
    # (0x16 0x03), epmd's name lookups aside.
    plain = [flow for flow in suite_flows(tls_session)
             if flow.protocol == "tcp" and touches_suite(flow) and EPMD_PORT not in flow.ports
             and flow.data and not flow.data.startswith(b"\x16\x03")]
    assert not plain, "connections without TLS: " + "; ".join(f"{flow}: {flow.data[:24]!r}" for flow in plain[:10])
