"""On disk: after the TLS=1 session and the stack's stop, neither the customer's marker nor the
agent's token is in the broker's data folder, the registry's database files or any log; the
registry's SQLite file does not open without its key (SQLCipher) and does with it.

The token crosses the broker in the relay's requests to the registry, through a quorum queue
whose Raft log is on the broker's disk (mnesia/<node>/quorum/): it is there only sealed to the
registry process's key (docs/registry.md "Sealed requests"), so it must not be found in clear."""

import glob
import os
import sqlite3
import subprocess

from session import ROOT, RUN_DIR

REGISTRY_DATABASE = os.path.join(RUN_DIR, "session-registry.sqlite")  # deploy/local/run's default
REGISTRY_KEY = os.path.join(RUN_DIR, "registry-database.key")  # made by deploy/local/run when unset


def files_under(*roots):
    found = []
    for root in roots:
        if os.path.isfile(root):
            found.append(root)
        for folder, _, names in os.walk(root):
            found += [os.path.join(folder, name) for name in names]
    return sorted(set(found))


def holding(paths, secret):
    needle = secret.encode()
    hits = []
    for path in paths:
        try:
            with open(path, "rb") as handle:
                if needle in handle.read():
                    hits.append(os.path.relpath(path, ROOT))
        except OSError:
            pass  # a socket or a file removed meanwhile
    return hits


def test_no_secret_in_the_broker_data_the_registry_files_or_the_logs(tls_session):
    broker = files_under(os.path.join(RUN_DIR, "run-broker"))
    registry = glob.glob(REGISTRY_DATABASE + "*")
    logs = files_under(os.path.join(RUN_DIR, "logs"), tls_session.log)
    assert broker and registry and logs, f"nothing to search: broker {len(broker)}, registry {registry}, logs {len(logs)} files"
    print(f"\nsearched {len(broker)} broker files, {registry}, {len(logs)} logs")
    hits = {}
    for name, files in (("broker data", broker), ("registry database", registry), ("logs", logs)):
        for what, secret in (("marker", tls_session.marker), ("agent token", tls_session.token)):
            found = holding(files, secret)
            if found:
                hits[f"{what} in the {name}"] = found
    assert not hits, f"secrets on disk after the session: {hits}"


def test_the_registry_file_opens_only_with_its_key(tls_session):
    assert os.path.exists(REGISTRY_DATABASE) and os.path.exists(REGISTRY_KEY)
    assert oct(os.stat(REGISTRY_KEY).st_mode & 0o777) == "0o600", "the key file must be readable by its owner alone"
    try:
        with sqlite3.connect(f"file:{REGISTRY_DATABASE}?mode=ro", uri=True) as database:
            database.execute("SELECT count(*) FROM sqlite_master").fetchone()
        opened = True
    except sqlite3.DatabaseError as error:
        opened = False
        assert "file is not a database" in str(error), error
    assert not opened, "the registry's SQLite file opens without a key: it is not encrypted"
    key = open(REGISTRY_KEY).read().strip()
    dump = subprocess.run(["sqlcipher", "-batch", REGISTRY_DATABASE], input=f"PRAGMA key = \"x'{key}'\";\n.dump\n",
                          capture_output=True, text=True, timeout=60)
    assert dump.returncode == 0 and "CREATE TABLE" in dump.stdout, f"sqlcipher with the key: {dump.stderr[-500:]}"
    # The session just recorded is in it, with its agent: the file holds the data, only encrypted.
    assert tls_session.agent in dump.stdout, f"the decrypted registry has no record of agent {tls_session.agent}"
    assert tls_session.agent.encode() not in open(REGISTRY_DATABASE, "rb").read()
