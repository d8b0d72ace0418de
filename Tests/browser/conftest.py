"""Browser end-to-end tests: a customer's Chromium shares a demo page, an agent's Chromium watches
it in the agent console, and everything in between is real (two relays, the masking filter, the
session registry, the interaction watch, RabbitMQ). One file per area, each test a
`test_<what it shows>(t)`:

    test_live_path.py            the page, its changes and typing reach the agent; relays A and B
    test_agent_actions.py        pointer and write mode, consent, what the agent may never do
    test_endings.py              every way a session ends, graces, the back-forward cache
    test_starting_and_signing_in.py  voice codes, the console signed in by a desktop or its
                                 address, a start that fails
    test_masking.py              masking rules (SDK and filter), rules that change, view markers
    test_personal_data.py        the PII detectors, private pages
    test_password_fields.py      password fields switched to text before and while sharing
    test_rules_editor.py         the rules editor's preview and save
    test_console_security.py     hostile pages and hand-written frames against the console
    test_frames.py               same-origin, masked and other-origin frames
    test_loading.py              the loading snippet's queue, a strict Content-Security-Policy
    test_languages.py            the English and Japanese catalogues
    test_accessibility.py        axe-core's WCAG 2.1 AA rules, keyboard-only use
    test_mobile.py               the SDK's UI on a phone, the agent's zoomed view
    test_presence.py             who the customer's bar says is watching
    test_supervision.py          the supervisor's list of live sessions, observing one from it

    /usr/bin/python3 -m pytest Tests/browser -q -p no:cacheprovider [-k NAME-SUBSTRING]

Needs COBROWSE_TEST_AMQP_URL, COBROWSE_TEST_MANAGEMENT_URL and COBROWSE_BIN_DIR (deploy/local/test
sets them after `swift build`). One stack serves the whole run (the `services` fixture); each
test gets a `TestContext` (`t`) whose browsers are closed when it ends. The masking tests that
must hold with a stale or bypassed SDK too run twice (`[sdk-masking]`, `[filter-only]`:
masked_view.sdk_masking_on_and_off); every scan of WebSocket frames for what must not be in
them goes through frame_leaks.py. A failed test's report ends with its evidence: screenshots,
the browsers' console messages and last frames, and the service logs written while it ran.
Service logs and screenshots are kept under .run/browser-tests/, wiped when a run starts.
"""

import os
import re
import shutil
import signal
import sys
import time

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

import pytest  # noqa: E402

import stack  # noqa: E402
from context import LOG_DIR, TestContext  # noqa: E402

# Where a test's context and the service logs' sizes at its start are kept, for its report.
CONTEXT_KEY = pytest.StashKey()


def pytest_configure(config):
    """SIGTERM (deploy/local/test's cleanup, CI) interrupts the run like Ctrl-C, so the stack
    is still stopped by its fixture's teardown."""
    def interrupt(signum, _frame):
        raise KeyboardInterrupt(f"signal {signum}")

    signal.signal(signal.SIGTERM, interrupt)


def _say(config, line):
    """A line on the terminal now, not in the first test's captured output."""
    reporter = config.pluginmanager.get_plugin("terminalreporter")
    capture = config.pluginmanager.get_plugin("capturemanager")
    if reporter and capture:
        with capture.global_and_fixture_disabled():
            reporter.write_line(line)


@pytest.fixture(scope="session")
def services(request):
    """The stack every test of the run shares (stack.Stack), stopped when the run ends."""
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    if stack.web_root():
        _say(request.config, f"note: COBROWSE_TEST_WEB_ROOT is set: the relays serve {stack.web_root()}, not their bundled copy")
    running = stack.Stack(LOG_DIR)
    began = time.monotonic()
    try:
        running.start()
        _say(request.config, f"stack ready: relay A {running.relay_a.base_url}, relay B {running.relay_b.base_url}, "
                             f"virtual host {running.vhost} ({time.monotonic() - began:.1f} s)")
        yield running
    finally:
        running.stop()


@pytest.fixture
def t(request, services):
    """This test's context: its name (the test's, parametrization included), the stack, and
    browsers that are closed when it ends."""
    name = re.sub(r"[^\w-]+", "-", request.node.name.removeprefix("test_")).strip("-")
    context = TestContext(name, services)
    request.node.stash[CONTEXT_KEY] = (context, services.log_marks())
    try:
        yield context
    finally:
        context.close()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    """A test that failed gets its evidence in its report, taken before its browsers close."""
    outcome = yield
    report = outcome.get_result()
    if report.when != "call" or not report.failed or CONTEXT_KEY not in item.stash:
        return
    context, marks = item.stash[CONTEXT_KEY]
    report.sections.append(("browsers (screenshots, console, last frames)", context.evidence()))
    report.sections.append(("service logs while the test ran", context.stack.log_tails(marks)))
