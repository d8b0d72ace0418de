"""Shared paths and tools of the deployment checks (compose files, Prometheus rules, the Grafana
dashboard). They need no Docker engine and no running service: Debian's docker-compose 1.29 reads
the compose files (`config`), Debian's promtool (package `prometheus`) the rules and queries."""

import shutil
import subprocess
import sys
from pathlib import Path

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]


def run(*command, cwd=ROOT):
    """Runs a command with a fixed environment (a developer's variables, an LB_HTTP_PORT say,
    must not change what is checked) and returns the completed process, output captured."""
    environment = {"PATH": "/usr/bin:/bin", "HOME": "/tmp", "LANG": "C.UTF-8"}
    return subprocess.run(command, cwd=cwd, env=environment, capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="session")
def promtool():
    """The promtool executable (deploy/local/test installs Debian's `prometheus` for it)."""
    path = shutil.which("promtool", path="/usr/bin:/bin:/usr/local/bin")
    if path is None:
        pytest.fail("promtool is missing: apt-get install prometheus (deploy/local/test does)")
    return path
