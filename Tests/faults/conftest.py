"""Fixtures of the fault suite: one stack for the whole run (its own broker node, the four
services, the proxies), put back to health before each scenario; and each scenario's
`FAULT …` line of figures, repeated at the end of the run."""

import sys

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import pytest  # noqa: E402

from harness import FAULT_LINES, Stack, StackError, running  # noqa: E402


@pytest.fixture(scope="session")
def stack():
    yield from running(Stack())


@pytest.fixture(autouse=True)
def healthy(request):
    """Every scenario on the stack starts with every proxy healed and every service running and
    ready. (The cluster scenarios, test_cluster.py, have a stack of their own and skip this.)"""
    if "stack" not in request.fixturenames:
        yield
        return
    stack = request.getfixturevalue("stack")
    for name in stack.services:
        stack.proxies.heal(name)
    for service in stack.services.values():
        if not service.alive():
            service.start()
    try:
        stack.wait_all_ready()
    except StackError as error:
        pytest.fail(f"the stack is not healthy before the scenario: {error}")
    yield


def pytest_terminal_summary(terminalreporter):
    if FAULT_LINES:
        terminalreporter.section("fault suite figures")
        for line in FAULT_LINES:
            terminalreporter.write_line(line)
