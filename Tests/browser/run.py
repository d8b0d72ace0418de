#!/usr/bin/python3
"""Browser end-to-end tests: a customer's Chromium shares the demo shop, an agent's Chromium
watches it in the agent console, and everything in between is real (relays, masking filter,
session registry, RabbitMQ). The masking tests use the demo's masking.html and statement.html
with the rules in masking-rules.json (masking_page.py says what they do), frames.html embeds
same-origin, masked and other-origin frames, and hostile.html
attacks the console. The agent-action tests drive the console with a real mouse and keyboard
(pointer, annotations, the customer's consent to write mode, clicks, typing, scrolling and
navigation), and check what the filter and the SDK refuse. The end tests (issue 6) end sessions
every way they can end (the customer, the agent, the contact center's interaction events, and
the interaction watch's inactivity, no-agent and absence timeouts, which the stack runs short)
and check that both sides say who or why and that the customer's page is left as it was. The
issue 11 tests switch password fields to text before and while sharing (show-password.html) and
leave the agent console in Chromium's back-forward cache, coming back within the agent's grace
or not. The issue 12 test counts the SDK's layout reads while it handles a burst of added nodes
(none: blocked elements, masked images and scroll positions follow after the callback). The
issue 15 tests sign the console in from a contact-center desktop that frames it (postMessage,
desktop.py; a page on another origin, or another frame, is ignored), from its address once
(kept for the tab, a reload rejoins), join another session after an end with the same token,
and check what the customer sees when CoBrowse.start fails (expired token, ended interaction,
unreachable relay). Loading the SDK (issue 15 too): calls made on the loading snippet's stub
before cobrowse.js has loaded are replayed (snippet.html), and a page of another origin
(csp_site.py) shares under exactly the Content-Security-Policy docs/sdk.md asks for, and fails
clearly without each part of it.

    /usr/bin/python3 Tests/browser/run.py [NAME-SUBSTRING ...]

Needs COBROWSE_TEST_AMQP_URL, COBROWSE_TEST_MANAGEMENT_URL and COBROWSE_BIN_DIR (deploy/local/test
sets them after `swift build`). Prints `PASS name (1.2 s)` or `FAIL name: reason` per test and a
summary; exits 0 only if every selected test passed. Service logs, and screenshots of failed
tests, are kept under .run/browser-tests/.
"""

import base64
import hashlib
import hmac
import json
import os
import re
import shutil
import signal
import sys
import time
import traceback
import urllib.parse
import urllib.request
import uuid

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import browsers
import csp_site
import cut_proxy
import desktop
import japanese_page
import languages
import masking_page
import phone
import stack
from browsers import Browser, wait_for

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LOG_DIR = os.path.join(ROOT, ".run", "browser-tests")

PASSWORD = "Hunter2-Secret!"
CARD_NUMBER = "4111 1111 1111 1111"

# In the agent's page: the document of the frame the customer's page is rebuilt in.
VIEW = "document.getElementById('cobrowse-view').contentDocument"

# How long the end notice stays in the sessions the tests start through CoBrowse.start
# (`endNoticeSeconds`); sessions started with the demo's button keep the SDK's default.
END_NOTICE_SECONDS = 2
DEFAULT_END_NOTICE_SECONDS = 8
# What the customer's end notice says (docs/sdk.md) and the agent console's #notice
# (docs/agent-console.md), by end reason. agent-exited names the agent in the console.
CUSTOMER_SENTENCES = {
    "customer-exited": "You ended co-browsing.",
    "agent-exited": "The agent ended co-browsing.",
    "interaction-ended": "Co-browsing ended because your conversation with us ended.",
    "interaction-transferred": "Co-browsing ended because your conversation was transferred to another agent.",
    "interaction-conferenced": "Co-browsing ended because more people joined your conversation.",
    "inactivity": "Co-browsing ended after a period of inactivity.",
    "no-agent-joined": "Co-browsing ended because no agent joined.",
    "agent-absent": "Co-browsing ended because the agent left.",
    "customer-absent": "Co-browsing ended because this page was closed.",
}
AGENT_SENTENCES = {
    "customer-exited": "The customer ended the session.",
    "interaction-ended": "The session ended because the contact-center interaction ended.",
    "interaction-transferred": "The session ended because the interaction was transferred to another agent.",
    "interaction-conferenced": "The session ended because the interaction became a conference.",
    "inactivity": "The session ended after a period of inactivity.",
    "agent-absent": "The session ended because the agent's console was gone for too long.",
    "customer-absent": "The session ended because the customer's page was gone for too long.",
}
# Who ends sessions for the contact center's events and the timeouts (`session.endedBy`).
WATCH = "system:interaction-watch"


def relay_sockets(relay):
    """The relay's open sockets by side ("sharer", "viewer"), from its /metrics."""
    _, body = relay.get("/metrics")
    counts = {}
    for line in body.splitlines():
        match = re.match(r'cobrowse_relay_sockets\{side="(\w+)"\}\s+([0-9.]+)', line)
        if match:
            counts[match.group(1)] = int(float(match.group(2)))
    return counts


def normalized(text):
    return " ".join((text or "").split())


def first_difference(expected, actual):
    """Where two texts part, with some context, for failure messages."""
    index = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    start = max(0, index - 60)
    return (f"texts differ at character {index} (lengths {len(expected)} and {len(actual)}):\n"
            f"  customer: …{expected[start:index + 80]!r}\n"
            f"  agent:    …{actual[start:index + 80]!r}")


# ---------------------------------------------------------------------------------------
# The two sides
# ---------------------------------------------------------------------------------------

class Customer:
    """A shopper's browser on the demo shop."""

    def __init__(self, browser):
        self.browser = browser

    def open(self, relay, path="/demo/?still", host="127.0.0.1"):
        self.browser.get(f"http://{host}:{relay.port}{path}")

    def start_session(self):
        """Clicks 'Start co-browse'; returns the session ID the SDK's bar shows."""
        self.baseline = self.page_state()
        button = self.browser.driver.find_element(By.ID, "start-cobrowse")
        button.click()
        session_id = wait_for("the SDK reports a session ID after 'Start co-browse'",
                              lambda: self.browser.js("return window.CoBrowse && window.CoBrowse.sessionId"))
        shown = self.wait_bar_session_id()
        assert shown == str(session_id), f"the bar shows session {shown!r}, CoBrowse.sessionId is {session_id!r}"
        wait_for("the 'Start co-browse' button is hidden while the session runs",
                 lambda: self.browser.js("return document.getElementById('start-cobrowse').hidden"))
        self.record_events()
        return shown

    def wait_bar_session_id(self):
        return wait_for("the SDK's bar (#cobrowse-bar, open shadow root) shows a nine-digit session ID",
                        lambda: self.bar_session_id(), check=lambda value: bool(re.fullmatch(r"\d{9}", value or "")))

    def bar_session_id(self):
        text = self.browser.js("""
            const bar = document.getElementById('cobrowse-bar');
            const label = bar && bar.shadowRoot && bar.shadowRoot.querySelector('.session-id');
            return label ? label.textContent : null;""")
        return re.sub(r"\D", "", text) if text else text

    def start_session_unmasked(self):
        """Starts co-browse with `testOnlyDisableMasking` (a stale SDK: the filter alone masks)."""
        return self.start_session_with(testOnlyDisableMasking=True)

    def start_session_with(self, channel=None, interaction=None, **options):
        """Starts co-browse by calling CoBrowse.start itself, with a dev token for `channel`
        (chat, messaging, voice; the relay's default: chat) and `interaction` (default: a new
        one), and CoBrowse.start `options` (endNoticeSeconds, testOnlyDisableMasking, …).
        Returns the session ID."""
        query = urllib.parse.urlencode({key: value for key, value in (("channel", channel), ("interaction", interaction)) if value})
        self.baseline = self.page_state()
        result = self.browser.driver.execute_async_script("""
            const done = arguments[arguments.length - 1];
            fetch('/dev/interaction-token?' + arguments[0], { cache: 'no-store' })
              .then((response) => response.json())
              .then((body) => CoBrowse.start(Object.assign({ interactionToken: body.token }, arguments[1])))
              .then(({ sessionId }) => done(sessionId), (error) => done('error: ' + error.message));""", query, options)
        assert re.fullmatch(r"\d{9}", str(result)), f"CoBrowse.start({options}) on channel {channel}: {result!r}"
        assert self.wait_bar_session_id() == result, "the bar shows another session ID than CoBrowse.start resolved"
        self.record_events()
        return result

    def text(self):
        return normalized(self.browser.js("return document.body.innerText"))

    def js(self, script, *args):
        return self.browser.js(script, *args)

    def js_async(self, script, *args):
        return self.browser.driver.execute_async_script(script, *args)

    def end(self):
        if self.browser.quit_done:
            return
        try:
            self.browser.js("if (window.CoBrowse && window.CoBrowse.sessionId) window.CoBrowse.end();")
        except Exception:
            pass

    # ---- the agent's side of things, as the customer's page sees it ---------------------

    def record_events(self):
        """Collects the SDK's events on this page in `window.__cobrowseEvents` ([name, detail]),
        from now on (the start of a session does it; again, it forgets what was collected)."""
        self.js("""
            if (!window.__cobrowseEvents)
                for (const name of ['controlRequested', 'modeChanged', 'ended', 'session', 'viewersChanged'])
                    CoBrowse.on(name, (detail) => window.__cobrowseEvents.push([name, JSON.parse(JSON.stringify(detail))]));
            window.__cobrowseEvents = [];""")

    def events(self, name):
        return self.js("return (window.__cobrowseEvents || []).filter((e) => e[0] === arguments[0]).map((e) => e[1]);", name)

    # ---- what the SDK leaves on the page -----------------------------------------------------

    def page_state(self):
        """What a session may change on the page and must put back when it ends: the SDK's
        elements (ids cobrowse-*), CoBrowse.sessionId, the stored session, adopted style sheets
        (the customer's mark), the value setters (wrapped while sharing), and the event
        listeners on window and document (DevTools' count)."""
        state = self.js("""
            const native = ([type, name]) =>
              /\[native code\]/.test(Function.prototype.toString.call(Object.getOwnPropertyDescriptor(type.prototype, name).set));
            return {
              hosts: Array.from(document.querySelectorAll('[id^="cobrowse-"]'), (element) => element.id).sort(),
              sessionId: window.CoBrowse ? CoBrowse.sessionId : null,
              stored: sessionStorage.getItem('cobrowse.session'),
              adoptedSheets: document.adoptedStyleSheets.length,
              nativeSetters: [[HTMLInputElement, 'value'], [HTMLInputElement, 'checked'], [HTMLTextAreaElement, 'value'],
                              [HTMLSelectElement, 'value'], [HTMLSelectElement, 'selectedIndex']].every(native),
            };""")
        state["window listeners"] = self.browser.event_listeners("window")
        state["document listeners"] = self.browser.event_listeners("document")
        return state

    def assert_as_before(self, when, notice=False):
        """The page is as it was before the session started (`baseline`), but for the end
        notice's host when `notice`."""
        expected = dict(self.baseline, hosts=sorted(self.baseline["hosts"] + (["cobrowse-ended"] if notice else [])))
        state = self.page_state()
        wrong = {key: f"{value!r}, before the session {expected.get(key)!r}" for key, value in state.items() if value != expected.get(key)}
        assert not wrong, f"{when}, the SDK left the page changed: {wrong}"

    def end_notice(self):
        """The SDK's end notice (#cobrowse-ended): {text, role, reason, by}, or None."""
        return self.js("""
            const host = document.getElementById('cobrowse-ended');
            const notice = host && host.shadowRoot && host.shadowRoot.querySelector('.notice');
            return notice ? { text: notice.querySelector('.text').textContent, role: notice.getAttribute('role'),
                              reason: notice.dataset.reason || null, by: notice.dataset.by || null } : null;""")

    def bar_status(self):
        """The status line of the SDK's bar ("An agent is viewing this page", …), or None without a bar."""
        return self.js("""
            const bar = document.getElementById('cobrowse-bar');
            const status = bar && bar.shadowRoot && bar.shadowRoot.querySelector('.status');
            return status ? status.textContent : null;""")

    def wait_bar_status(self, text, within=browsers.WAIT):
        return wait_for(f"the customer's bar says {text!r}", self.bar_status, check=lambda value: value == text, within=within)

    def bar_shows(self, selector):
        """Whether the SDK's bar shows the element (a button, say) matching `selector` in its shadow root."""
        return self.js("""
            const bar = document.getElementById('cobrowse-bar');
            const element = bar && bar.shadowRoot && bar.shadowRoot.querySelector(arguments[0]);
            return !!element && element.getClientRects().length > 0;""", selector)

    def click_bar(self, selector):
        """Clicks a button of the SDK's bar as the customer would (a real mouse click)."""
        wait_for(f"the SDK's bar shows {selector}", lambda: self.bar_shows(selector))
        host = self.browser.driver.find_element(By.ID, "cobrowse-bar")
        host.shadow_root.find_element(By.CSS_SELECTOR, selector).click()

    def center(self, selector):
        """The viewport position of an element's center on the customer's page."""
        return self.js("""
            const box = document.querySelector(arguments[0]).getBoundingClientRect();
            return [box.left + box.width / 2, box.top + box.height / 2];""", selector)

    def show(self, selector, *agents):
        """Scrolls the customer's page so the element is in the middle, and waits until the
        agents' views have followed (so that what they click is where they aim)."""
        self.js("document.querySelector(arguments[0]).scrollIntoView({ block: 'center' });", selector)
        position = self.js("return [Math.round(scrollX), Math.round(scrollY)]")
        for agent in agents:
            wait_for(f"{agent.name}'s view scrolls where the customer's page is ({position})",
                     lambda: agent.in_view("return [Math.round(doc.defaultView.scrollX), Math.round(doc.defaultView.scrollY)]"),
                     check=lambda value: value == position)

    def field(self, element_id):
        return self.js("return document.getElementById(arguments[0]).value;", element_id)

    def checked(self, element_id):
        return self.js("return document.getElementById(arguments[0]).checked;", element_id)


class Agent:
    """An agent's browser on the agent console."""

    def __init__(self, browser, name):
        self.browser = browser
        self.name = name

    def token(self, relay, role="agent", display_name=None):
        """A dev agent token for this agent, signed by `relay` as the contact center would; with
        `display_name`, the token's `name` claim (what the customer's bar shows)."""
        query = {"agent": self.name, "role": role, **({"name": display_name} if display_name else {})}
        status, body = relay.get("/dev/agent-token?" + urllib.parse.urlencode(query, quote_via=urllib.parse.quote))
        assert status == 200, f"{relay.name} /dev/agent-token answered {status}: {body[:200]}"
        return json.loads(body)["token"]

    def join(self, relay, session_id, role="agent", display_name=None):
        token = self.token(relay, role, display_name)
        fragment = urllib.parse.urlencode({"token": token, "session": session_id})
        self.browser.get(f"{relay.base_url}/agent/#{fragment}")
        self.wait_state("live")

    def state(self):
        return self.browser.js("return document.body.dataset.state")

    def wait_state(self, state, within=browsers.WAIT):
        return wait_for(f"the agent console's state becomes {state!r}", self.state,
                        check=lambda value: value == state, within=within)

    def in_view(self, body, *args):
        """Runs `body` (JS using `doc`, the rebuilt page's document) in the agent's page."""
        return self.browser.js(f"const doc = {VIEW}; if (!doc || !doc.body) return null;\n{body}", *args)

    def text(self):
        return normalized(self.in_view("return doc.body.innerText"))

    def element_text(self, selector):
        return self.in_view("const e = doc.querySelector(arguments[0]); return e ? e.innerText : null;", selector)

    def notice(self):
        """The console's #notice: {text, shown, kind, reason, by}."""
        return self.browser.js("""
            const n = document.getElementById('notice');
            return { text: n.textContent, shown: !n.hidden, kind: n.dataset.kind || null,
                     reason: n.dataset.reason || null, by: n.dataset.by || null };""")

    def header(self, element_id):
        return self.browser.js("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                               element_id)

    # ---- acting on the customer's page -------------------------------------------------

    def mode(self):
        return self.header("session-mode")

    def wait_mode(self, mode):
        return wait_for(f"the console's #session-mode says {mode!r}", self.mode, check=lambda value: value == mode)

    def shown(self, element_id):
        """Whether a console element is displayed (not hidden, laid out)."""
        return self.browser.js("const e = document.getElementById(arguments[0]); return !!e && !e.hidden && e.getClientRects().length > 0;",
                               element_id)

    def click(self, element_id):
        self.browser.driver.find_element(By.ID, element_id).click()

    def action_notice(self):
        """The action notice: {shown, reason, action, text}."""
        return self.browser.js("""
            const n = document.getElementById('action-notice');
            return { shown: !n.hidden, reason: n.dataset.reason || null, action: n.dataset.action || null, text: n.textContent };""")

    def clear_action_notice(self):
        self.browser.js("const n = document.getElementById('action-notice'); n.hidden = true; delete n.dataset.reason; delete n.dataset.action;")

    def wait_action_notice(self, reason, action=None, what=None):
        return wait_for(what or f"the console's #action-notice shows reason {reason!r}" + (f" for a {action}" if action else ""),
                        self.action_notice,
                        check=lambda notice: notice["shown"] and notice["reason"] == reason and (action is None or notice["action"] == action))

    def view_id(self, selector):
        """The customer's mirror id of the view element `selector`."""
        return self.in_view("return window.cobrowseConsole.mirror.idOf(doc.querySelector(arguments[0])) ?? null;", selector)

    def view_value(self, selector):
        return self.in_view("const e = doc.querySelector(arguments[0]); return e ? e.value : null;", selector)

    def send_raw(self, message):
        assert self.browser.js("return window.cobrowseConsole.sendRaw(arguments[0]);", message), "the console's socket is not open"

    def wait_in_view(self, selector):
        """Waits until the view element is inside the view's viewport (the view follows the customer's scroll)."""
        return wait_for(f"the view shows {selector} inside its viewport", lambda: self.in_view("""
            const box = doc.querySelector(arguments[0]).getBoundingClientRect();
            const view = doc.defaultView;
            return box.top >= 0 && box.bottom <= view.innerHeight && box.left >= 0 && box.right <= view.innerWidth;""", selector))

    def point(self, selector):
        """Where a view element's center is: in the console's window (x, y) and on the page (pageX, pageY)."""
        return self.browser.js("""
            const iframe = document.getElementById('cobrowse-view');
            const view = iframe.contentWindow;
            const box = iframe.contentDocument.querySelector(arguments[0]).getBoundingClientRect();
            const frame = iframe.getBoundingClientRect();
            const scale = frame.width / iframe.offsetWidth;
            const x = box.left + box.width / 2, y = box.top + box.height / 2;
            return { x: frame.left + x * scale, y: frame.top + y * scale, pageX: x + view.scrollX, pageY: y + view.scrollY };""",
                               selector)

    def mouse(self, x, y, click=False):
        """Moves the real mouse to (x, y) of the console's window, and clicks there."""
        actions = ActionBuilder(self.browser.driver)
        actions.pointer_action.move_to_location(int(round(x)), int(round(y)))
        if click:
            actions.pointer_action.click()
        actions.perform()

    def click_in_view(self, selector):
        self.wait_in_view(selector)
        point = self.point(selector)
        self.mouse(point["x"], point["y"], click=True)
        return point

    def type_in_view(self, selector, text):
        """Clicks into a view field and types, as the agent would."""
        self.click_in_view(selector)
        ActionChains(self.browser.driver).send_keys(text).perform()

    def received(self, kind):
        """The decoded frames of type `kind` this console received."""
        return [frame for frame in (f.json() for f in self.browser.frames("received")) if isinstance(frame, dict) and frame.get("t") == kind]

    def sent_types(self):
        return [frame.get("t") for frame in (f.json() for f in self.browser.frames("sent")) if isinstance(frame, dict)]

    def wait_same_text(self, customer, what="the agent's view shows the customer's page text"):
        last = {}

        def probe():
            last["customer"], last["agent"] = customer.text(), self.text()
            return last["customer"] == last["agent"]

        try:
            wait_for(what, probe)
        except browsers.WaitTimeout:
            raise AssertionError(f"{what} (waited {browsers.WAIT:.0f} s): "
                                 f"{first_difference(last.get('customer', ''), last.get('agent') or '')}") from None
        return last["customer"]


# ---------------------------------------------------------------------------------------
# The runner
# ---------------------------------------------------------------------------------------

class TestContext:
    """What one test gets: the stack, and browsers that are closed when it ends."""

    def __init__(self, name, services):
        self.name = name
        self.stack = services
        self.browsers = []
        self.customers = []
        self.agent_count = 0
        self.proxies = []

    @property
    def relay_a(self):
        return self.stack.relay_a

    @property
    def relay_b(self):
        return self.stack.relay_b

    def cut_proxy(self, relay):
        """A path to `relay` whose WebSockets the test can cut (cut_proxy.CutProxy); pass it
        where a relay goes (`shared_session(sharer_relay=…)`)."""
        proxy = cut_proxy.CutProxy(relay.port)
        self.proxies.append(proxy)
        return proxy

    def browser(self, role):
        browser = Browser(f"{role}-{len(self.browsers) + 1}")
        self.browsers.append(browser)
        return browser

    def customer(self):
        customer = Customer(self.browser("customer"))
        self.customers.append(customer)
        return customer

    def agent(self):
        self.agent_count += 1
        # An agent may hold one live session: every test (and agent) its own name.
        name = f"agent-{self.name}-{self.agent_count}-{os.getpid()}"
        return Agent(self.browser("agent"), name)

    def shared_session(self, sharer_relay=None, agent_relay=None, path=None, channel=None, interaction=None, **options):
        """A customer on a demo page (the shop by default) who started co-browse, and an agent
        watching it live. With a `channel`, an `interaction` or CoBrowse.start `options`
        (endNoticeSeconds, …) the session is started through CoBrowse.start, else with the
        demo's button."""
        customer = self.customer()
        if path:
            customer.open(sharer_relay or self.relay_a, path)
        else:
            customer.open(sharer_relay or self.relay_a)
        if channel or interaction or options:
            session_id = customer.start_session_with(channel, interaction, **options)
        else:
            session_id = customer.start_session()
        agent = self.agent()
        agent.join(agent_relay or self.relay_b, session_id)
        return customer, agent, session_id

    def evidence(self):
        """Screenshots and console messages of this test's browsers (for a failure report). It
        never raises: a browser that cannot answer (quit, crashed) says so and the report goes on."""
        lines = []
        for browser in self.browsers:
            try:
                lines.extend(self._browser_evidence(browser))
            except Exception as error:
                lines.append(f"--- browser {browser.role}: no evidence ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")
        return "\n".join(lines)

    def _browser_evidence(self, browser):
        lines = []
        shot = browser.screenshot(os.path.join(LOG_DIR, f"{self.name}-{browser.role}.png"))
        if browser.quit_done:
            url = "(quit by the test)"
        else:
            try:
                url = browser.driver.current_url
            except Exception:
                url = "?"
        lines.append(f"--- browser {browser.role} at {url}" + (f" (screenshot {shot})" if shot else ""))
        lines.extend("    console " + message for message in browser.console()[-15:])
        direction = "sent" if browser.role.startswith("customer") else "received"
        frames = browser.frames(direction)
        summary = []
        for frame in frames[-12:]:
            decoded = frame.json()
            summary.append(f"{decoded.get('t')}#{decoded.get('seq')}" if isinstance(decoded, dict) else "?")
        lines.append(f"    last WebSocket frames {direction} ({len(frames)} in all): {' '.join(summary)}")
        return lines

    def close(self):
        for customer in self.customers:
            customer.end()
        for browser in self.browsers:
            browser.quit()
        for proxy in self.proxies:
            proxy.close()


TESTS = []


def test(function):
    TESTS.append(function)
    return function


def run(selected):
    shutil.rmtree(LOG_DIR, ignore_errors=True)
    os.makedirs(LOG_DIR, exist_ok=True)
    if stack.web_root():
        print(f"note: COBROWSE_TEST_WEB_ROOT is set: the relays serve {stack.web_root()}, not their bundled copy")
    services = stack.Stack(LOG_DIR)
    results = []
    began = time.monotonic()
    try:
        services.start()
        print(f"stack ready: relay A {services.relay_a.base_url}, relay B {services.relay_b.base_url}, "
              f"virtual host {services.vhost} ({time.monotonic() - began:.1f} s)", flush=True)
        for function in selected:
            name = function.__name__
            context = TestContext(name, services)
            marks = services.log_marks()
            started = time.monotonic()
            try:
                function(context)
                elapsed = time.monotonic() - started
                print(f"PASS {name} ({elapsed:.1f} s)", flush=True)
                results.append((name, True))
            except Exception as error:  # AssertionError, WebDriver errors, anything: the test failed
                elapsed = time.monotonic() - started
                reason = str(error).strip() or type(error).__name__
                first_line, _, rest = reason.partition("\n")
                print(f"FAIL {name}: {first_line} ({elapsed:.1f} s)", flush=True)
                # An assertion's message says it all; anything else (a WebDriver error, a bug
                # in the test) gets its traceback.
                details = rest if isinstance(error, AssertionError) else "".join(traceback.format_exception(error))
                if details.strip():
                    print("    " + details.rstrip().replace("\n", "\n    "))
                print(context.evidence())
                print(services.log_tails(marks))
                results.append((name, False))
            finally:
                context.close()
    except stack.StackError as error:
        print(f"FAIL stack: {error}")
        results.append(("stack", False))
    finally:
        services.stop()
    failed = [name for name, ok in results if not ok]
    total = time.monotonic() - began
    print(f"{len(results) - len(failed)} passed, {len(failed)} failed ({total:.1f} s)"
          + (f": {', '.join(failed)}" if failed else ""))
    return 0 if results and not failed else 1


# ---------------------------------------------------------------------------------------
# The tests
# ---------------------------------------------------------------------------------------

@test
def agent_sees_the_customers_page_text_on_join(t):
    customer, agent, session_id = t.shared_session()
    text = agent.wait_same_text(customer)
    assert "Small things for calm homes" in text, f"the shop's headline is not in the shared text: {text[:200]!r}"
    label = agent.header("session-label") or ""
    assert re.sub(r"\D", "", label) == session_id, f"#session-label shows {label!r}, not session {session_id}"


@test
def customer_page_mutations_appear_in_the_agents_view(t):
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)

    # A cart item added.
    customer.js("""
        const li = document.createElement('li');
        li.id = 'added-item';
        li.setAttribute('data-price', '5'); li.setAttribute('data-qty', '3');
        li.innerHTML = '<span class="name">Beeswax candle</span><span class="qty">× 3</span><span class="price">€15.00</span>';
        document.getElementById('cart').appendChild(li);
        document.getElementById('cart-total').textContent = '€64.00';""")
    wait_for("an item added to the customer's cart appears in the agent's view",
             lambda: agent.element_text("#cart #added-item"), check=lambda text: "Beeswax candle" in (text or ""))
    wait_for("the cart total the customer's page changed shows on the agent's side",
             lambda: agent.element_text("#cart-total"), check=lambda text: text == "€64.00")

    # A text edited in place (a characterData mutation of the existing text node).
    customer.js("document.querySelector('.hero h1').firstChild.data = 'Edited headline for the agent';")
    wait_for("a text node edited on the customer's page changes in the agent's view",
             lambda: agent.element_text(".hero h1"), check=lambda text: text == "Edited headline for the agent")

    # An element removed.
    removed = customer.js("""
        const product = document.querySelectorAll('.product')[1];
        const name = product.querySelector('h3').textContent;
        product.remove();
        return name;""")
    wait_for(f"the product {removed!r} removed from the customer's page disappears from the agent's view",
             lambda: agent.in_view("return Array.from(doc.querySelectorAll('.product h3')).map(h => h.textContent)"),
             check=lambda names: names is not None and len(names) == 3 and removed not in names)

    # Attributes set, changed and removed.
    customer.js("""
        document.getElementById('cart').setAttribute('data-test-attr', 'changed-42');
        document.querySelector('.hero').classList.add('edited');
        document.querySelector('#cart li').removeAttribute('data-qty');""")
    wait_for("attributes changed on the customer's page change in the agent's view",
             lambda: agent.in_view("""
                 return [doc.getElementById('cart').getAttribute('data-test-attr'),
                         doc.querySelector('.hero').classList.contains('edited'),
                         doc.querySelector('#cart li').hasAttribute('data-qty')];"""),
             check=lambda values: values == ["changed-42", True, False])
    agent.wait_same_text(customer, "after all the mutations, the agent's view shows the customer's page text")


@test
def typed_values_reach_the_agent_but_passwords_never_leave_the_customers_browser(t):
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)
    driver = customer.browser.driver

    driver.find_element(By.ID, "full-name").send_keys("Ada Lovelace")
    wait_for("what the customer typed into #full-name shows in the agent's #full-name",
             lambda: agent.in_view("return doc.getElementById('full-name').value"),
             check=lambda value: value == "Ada Lovelace")

    driver.find_element(By.ID, "username").send_keys("ada.lovelace")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "card-number").send_keys(CARD_NUMBER)
    driver.find_element(By.ID, "card-cvc").send_keys("737")
    driver.find_element(By.ID, "note").send_keys("Leave it with the neighbours")
    Select(driver.find_element(By.ID, "shipping")).select_by_value("express")
    driver.find_element(By.ID, "gift").click()
    # Typed last: once it shows, every earlier keystroke's frame has been through the pipeline.
    driver.find_element(By.ID, "street").send_keys("12 Analytical Row")
    expected = ["ada.lovelace", "Leave it with the neighbours", 1, True, "12 Analytical Row"]
    wait_for("the username, note, shipping choice, gift box and street reach the agent's form",
             lambda: agent.in_view("""
                 return [doc.getElementById('username').value, doc.getElementById('note').value,
                         doc.getElementById('shipping').selectedIndex, doc.getElementById('gift').checked,
                         doc.getElementById('street').value];"""),
             check=lambda values: values == expected)

    assert customer.js("return document.getElementById('password').value") == PASSWORD, \
        "the customer's own password field lost what was typed"
    shown = agent.in_view("return doc.getElementById('password').value")
    assert shown in ("", "****"), f"the agent's #password shows {shown!r}, not '****' or nothing"

    secrets = [PASSWORD, PASSWORD[:7]]  # the whole password, and the prefix a keystroke frame would carry

    def leaks(frames):
        found = []
        for frame in frames:
            texts = [frame.payload]
            decoded = frame.json()
            if decoded is not None:
                texts.append(json.dumps(decoded, ensure_ascii=False))
            if any(secret in text for text in texts for secret in secrets):
                found.append(frame.payload[:300])
        return found

    received = agent.browser.frames("received")
    assert received, "the agent browser's performance log shows no WebSocket frames at all"
    leaked = leaks(received)
    assert not leaked, f"the password reached the agent console in {len(leaked)} frame(s), e.g. {leaked[0]}"
    sent = customer.browser.frames("sent")
    assert any('"input"' in frame.payload for frame in sent), "the customer browser sent no input frames"
    leaked = leaks(sent)
    assert not leaked, f"the customer's SDK sent the password in {len(leaked)} frame(s), e.g. {leaked[0]}"
    in_view = agent.in_view("""
        const secrets = arguments[0];
        const found = [];
        if (secrets.some(s => doc.documentElement.outerHTML.includes(s))) found.push('outerHTML');
        for (const element of doc.querySelectorAll('input, textarea, select'))
            if (secrets.some(s => String(element.value).includes(s))) found.push('#' + element.id + '.value');
        return found;""", secrets)
    assert in_view == [], f"the password is in the agent's view: {in_view}"

    # The demo's checkout stays on the page and says so, on both sides.
    url = customer.js("return location.href")
    driver.find_element(By.ID, "pay").click()
    wait_for("the customer's page says 'Order placed (demo)' after #pay",
             lambda: customer.js("return document.querySelector('#checkout .message').innerText"),
             check=lambda text: text == "Order placed (demo)")
    assert customer.js("return location.href") == url, "submitting the checkout form navigated away"
    wait_for("the agent's view shows 'Order placed (demo)'", lambda: agent.element_text("#checkout .message"),
             check=lambda text: text == "Order placed (demo)")
    # Card fields are always masked, by their autocomplete tokens (cc-number, cc-csc).
    card_seen = agent.in_view("return [doc.getElementById('card-number').value, doc.getElementById('card-cvc').value]")
    assert card_seen == ["****", "****"], f"the agent's card number and security code show {card_seen}, not '****'"
    received = agent.browser.frames("received")
    leaked = [frame.payload[:300] for frame in received if "4111" in frame.payload]
    assert not leaked, f"the card number reached the agent console in {len(leaked)} frame(s), e.g. {leaked[0]}"


@test
def shift_jis_page_text_arrives_intact(t):
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)
    customer.browser.driver.find_element(By.ID, "to-japanese").click()
    wait_for("the customer is on the Shift_JIS page",
             lambda: customer.js("return document.characterSet"), check=lambda value: value == "Shift_JIS")
    expected = "\n\n".join(japanese_page.PRODUCT_LINES)
    actual = customer.js("return document.getElementById('jp-text').innerText")
    assert normalized(actual) == normalized(expected), \
        f"the customer's browser does not read the Shift_JIS page as written: {actual!r}"
    wait_for("the agent's view shows #jp-text exactly as the customer's page has it",
             lambda: agent.element_text("#jp-text"), check=lambda text: text == actual)
    agent.wait_same_text(customer, "the agent's view shows the whole Japanese page's text")


@test
def navigating_to_another_page_keeps_the_session(t):
    customer, agent, session_id = t.shared_session()
    agent.wait_same_text(customer)
    customer.browser.driver.find_element(By.ID, "to-second").click()
    wait_for("the customer is on second.html", lambda: customer.js("return location.pathname"),
             check=lambda path: path.endswith("/second.html"))
    assert customer.wait_bar_session_id() == session_id, "the session ID in the bar changed with the page"
    assert customer.js("return document.getElementById('start-cobrowse').hidden"), \
        "the second page offers 'Start co-browse' although its session carries on"
    text = agent.wait_same_text(customer, "the agent's view shows the second page's text")
    assert "Your orders" in text and "DS-10482" in text, f"not the orders page: {text[:200]!r}"
    wait_for("the console's #customer-url names second.html", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda url: url.endswith("second.html"))
    assert agent.state() == "live", f"the agent console is {agent.state()!r} after the customer's navigation"


@test
def sharer_and_agent_on_different_relays(t):
    # Sharer on relay A, agent console served by and connected to relay B.
    customer, agent, _ = t.shared_session(sharer_relay=t.relay_a, agent_relay=t.relay_b)
    agent.wait_same_text(customer)
    customer.js("document.querySelector('.hero h1').textContent = 'Seen from relay B';")
    wait_for("a change made on relay A's sharer shows in relay B's console",
             lambda: agent.element_text(".hero h1"), check=lambda text: text == "Seen from relay B")
    # And the other way round, for another session: sharer on B, agent on A.
    other_customer, other_agent, _ = t.shared_session(sharer_relay=t.relay_b, agent_relay=t.relay_a)
    other_agent.wait_same_text(other_customer)
    other_customer.js("document.querySelector('.hero h1').textContent = 'Seen from relay A';")
    wait_for("a change made on relay B's sharer shows in relay A's console",
             lambda: other_agent.element_text(".hero h1"), check=lambda text: text == "Seen from relay A")
    assert agent.element_text(".hero h1") == "Seen from relay B", "the first session's view changed with the second"


@test
def a_thousand_rapid_mutations_arrive_complete_and_in_order(t):
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)
    # 1,000 appends, each its own DOM operation, spread over microtasks and timeouts so they
    # land in many MutationObserver callbacks.
    customer.js("""
        const list = document.createElement('ol');
        list.id = 'burst';
        document.querySelector('main').appendChild(list);
        let n = 0;
        function some(count) {
            for (let i = 0; i < count && n < 1000; i++) {
                const li = document.createElement('li');
                li.dataset.n = String(n);
                li.textContent = 'item ' + n;
                list.appendChild(li);
                n++;
            }
        }
        function chunk() {
            some(50);
            Promise.resolve().then(() => some(50));
            if (n < 1000) setTimeout(chunk, 0);
        }
        chunk();""")
    wait_for("the customer's page has its 1,000 items", lambda: customer.js(
        "return document.querySelectorAll('#burst li').length"), check=lambda count: count == 1000)

    def agent_items():
        return agent.in_view("return Array.from(doc.querySelectorAll('#burst li')).map(li => li.dataset.n)")

    items = wait_for("the agent's view has all 1,000 items", agent_items,
                     check=lambda values: values is not None and len(values) >= 1000,
                     within=30)
    expected = [str(n) for n in range(1000)]
    if items != expected:
        wrong = next(i for i, (a, b) in enumerate(zip(items, expected)) if a != b) if len(items) == 1000 else None
        raise AssertionError(f"the agent's list has {len(items)} items, not 0..999 in order"
                             + (f" (first wrong at index {wrong}: {items[wrong]!r})" if wrong is not None else ""))


# The layout reads a page can be made to do, counted while `window.__countLayout` is on; where
# each came from is kept (first lines of its stack) for the failure message.
COUNT_LAYOUT_READS = r"""
if (!window.__layoutReads) {
  window.__layoutReads = [];
  window.__countLayout = false;
  const note = (name) => {
    if (window.__countLayout) window.__layoutReads.push(name + ' ' + (new Error().stack || '').split('\n').slice(2, 4).join(' <- ').trim());
  };
  const getters = [[Element.prototype, ['scrollTop', 'scrollLeft', 'scrollWidth', 'scrollHeight', 'clientTop', 'clientLeft',
                                        'clientWidth', 'clientHeight']],
                   [HTMLElement.prototype, ['offsetTop', 'offsetLeft', 'offsetWidth', 'offsetHeight', 'offsetParent', 'innerText']],
                   [window, ['scrollX', 'scrollY', 'pageXOffset', 'pageYOffset', 'innerWidth', 'innerHeight']]];
  for (const [target, names] of getters) {
    for (const name of names) {
      const owner = Object.getOwnPropertyDescriptor(target, name) ? target : Object.getPrototypeOf(target);
      const original = Object.getOwnPropertyDescriptor(owner, name);
      if (!original || !original.get) throw new Error('no getter to count: ' + name);
      Object.defineProperty(owner, name, { ...original, get() { note(name); return original.get.call(this); } });
    }
  }
  for (const [target, names] of [[Element.prototype, ['getBoundingClientRect', 'getClientRects', 'checkVisibility', 'computedStyleMap']],
                                 [window, ['getComputedStyle']]]) {
    for (const name of names) {
      const original = target[name];
      if (typeof original !== 'function') continue;
      target[name] = function (...args) { note(name); return original.apply(this, args); };
    }
  }
}
"""


@test
def added_nodes_are_sent_without_reading_layout_and_still_arrive_whole(t):
    """Adds are serialized in the MutationObserver callback, where a layout read would force a
    layout of the whole page (docs/sdk.md: layout is read only in throttled timers and
    snapshots). A burst of adds, with a scrolled box, a blocked element and a masked image among
    them, is handled without one layout read; the scroll position still reaches the agent (as a
    scroll frame), and the blocked box and the masked image arrive at their size, without their
    content, from the layout pass after the callback."""
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)
    customer.js(COUNT_LAYOUT_READS)
    # The counter counts (or zero would prove nothing).
    assert customer.js("window.__countLayout = true; void document.body.scrollTop; window.__countLayout = false;"
                       "const n = window.__layoutReads.length; window.__layoutReads = []; return n;") == 1, \
        "the layout read counter does not count"
    # One task: the page's own changes (its scrollTop assignment lays out, before counting
    # starts), then counting until an observer created after the SDK's runs: observers are
    # called in the order they were made, so the SDK's callback runs in between.
    customer.js("""
        window.__layoutReads = [];
        window.__burstHandled = false;
        window.__sentInWindow = [];
        const send = WebSocket.prototype.send;
        WebSocket.prototype.send = function (data) {
          if (window.__countLayout && typeof data === 'string') window.__sentInWindow.push(JSON.parse(data).t);
          return send.call(this, data);
        };
        const after = new MutationObserver(() => {
          window.__countLayout = false;
          window.__burstHandled = true;
          after.disconnect();
        });
        after.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
        const section = document.createElement('section');
        section.id = 'layout-burst';
        const list = document.createElement('ul');
        for (let i = 0; i < 300; i++) {
          const item = document.createElement('li');
          item.className = 'burst-item';
          item.innerHTML = '<b>item</b> ' + i;
          list.append(item);
        }
        const box = document.createElement('div');
        box.id = 'burst-scroller';
        box.style.cssText = 'height: 60px; overflow: auto';
        box.innerHTML = '<div style="height: 600px">tall content</div>';
        const blocked = document.createElement('div');
        blocked.id = 'burst-blocked';
        blocked.className = 'cobrowse-block';
        blocked.style.cssText = 'width: 123px; height: 45px';
        blocked.textContent = 'BURST-BLOCKED-SECRET';
        const masked = document.createElement('div');
        masked.setAttribute('data-cobrowse-mask', '');
        masked.innerHTML = '<img id="burst-image" width="64" height="48" src="/demo/id-photo.svg?burst">';
        section.append(list, box, blocked, masked);
        document.querySelector('main').append(section);
        box.scrollTop = 150;
        window.__countLayout = true;""")
    wait_for("the SDK's callback and the observer after it ran", lambda: customer.js("return window.__burstHandled"))
    handled = customer.js("return { reads: window.__layoutReads, sent: window.__sentInWindow };")
    assert "mutations" in handled["sent"], \
        f"the SDK sent no mutations frame between the burst and the observer after its own (sent {handled['sent']}): the test proves nothing"
    reads = handled["reads"]
    assert not reads, f"the SDK read layout {len(reads)} times while handling the adds, e.g.: " + "; ".join(reads[:5])

    wait_for("the agent's view has the 300 added items", lambda: agent.in_view(
        "return doc.querySelectorAll('#layout-burst .burst-item').length"), check=lambda count: count == 300)
    wait_for("the added box's scroll position (150) reaches the agent's view", lambda: agent.in_view(
        "const box = doc.getElementById('burst-scroller'); return box ? Math.round(box.scrollTop) : null;"),
        check=lambda top: top == 150)
    blocked = wait_for("the added blocked element arrives as a box of its size (123 × 45)", lambda: agent.in_view("""
        const element = doc.getElementById('burst-blocked');
        if (!element) return null;
        const box = element.getBoundingClientRect();
        return { w: Math.round(box.width), h: Math.round(box.height), text: element.textContent,
                 marked: element.hasAttribute('data-cb-blocked') };"""),
        check=lambda value: value is not None and value["w"] == 123 and value["h"] == 45)
    assert blocked["marked"] and "BURST-BLOCKED-SECRET" not in blocked["text"], f"the blocked element arrived with its content: {blocked}"
    image = wait_for("the added masked image arrives at its size (64 × 48) without its source", lambda: agent.in_view("""
        const image = doc.getElementById('burst-image');
        if (!image) return null;
        const box = image.getBoundingClientRect();
        return { w: Math.round(box.width), h: Math.round(box.height), src: image.getAttribute('src') || '' };"""),
        check=lambda value: value is not None and value["w"] == 64 and value["h"] == 48)
    assert image["src"].startswith("data:image/gif") and "id-photo" not in image["src"], \
        f"the masked image's source reached the agent: {image['src'][:80]!r}"
    sent = [frame.json() for frame in customer.browser.frames("sent")]
    leaked = [secret for secret in ("BURST-BLOCKED-SECRET", "id-photo.svg?burst")
              if any(isinstance(frame, dict) and secret in json.dumps(frame) for frame in sent)]
    assert not leaked, f"{leaked} left the customer's browser"


@test
def leaving_the_site_pauses_and_coming_back_resumes(t):
    customer, agent, session_id = t.shared_session()
    agent.wait_same_text(customer)
    # localhost is another origin than 127.0.0.1: no session there.
    customer.open(t.relay_a, "/demo/second.html", host="localhost")
    try:
        agent.wait_state("paused", within=30)
    except browsers.WaitTimeout as error:
        sharers = relay_sockets(t.relay_a).get("sharer")
        raise AssertionError(f"{error}. Relay A still counts {sharers} sharer socket(s) open"
                             + (": the customer's page left for the back/forward cache with its socket open"
                                if sharers else "")) from None
    notice = wait_for("the console's #notice is visible and says the session is paused",
                      lambda: agent.browser.js("""
                          const n = document.getElementById('notice');
                          return n && !n.hidden && n.offsetParent !== null ? n.textContent : null;"""),
                      check=lambda text: bool(text) and "paus" in text.lower())
    customer.browser.driver.back()
    wait_for("the customer is back on the shop at 127.0.0.1", lambda: customer.js("return location.host"),
             check=lambda host: host.startswith("127.0.0.1:"))
    agent.wait_state("live", within=30)
    assert customer.wait_bar_session_id() == session_id, "coming back showed another session ID"
    agent.wait_same_text(customer, "after coming back, the agent's view shows the customer's page text again")
    hidden = agent.browser.js("const n = document.getElementById('notice'); return !n || n.hidden || !n.textContent;")
    assert hidden, f"the pause notice ({notice!r}) is still shown after the customer came back"


@test
def dev_endpoints_exist_only_in_dev_mode(t):
    relay = t.stack.start_relay("dom-relay-production", dev_mode=False, wait=True)
    try:
        for path in ("/demo/", "/demo/index.html", "/dev/agent-token?agent=x", "/dev/interaction-token"):
            status, _ = relay.get(path)
            assert status == 404, f"without DEV_MODE, {path} answered {status}, not 404"
        for path in ("/cobrowse.js", "/agent/"):
            status, _ = relay.get(path)
            assert status == 200, f"without DEV_MODE, {path} answered {status}, not 200"
        for path in ("/demo/", "/dev/agent-token?agent=x", "/cobrowse.js", "/agent/"):
            status, _ = t.relay_a.get(path)
            assert status == 200, f"with DEV_MODE=1, {path} answered {status}, not 200"
    finally:
        t.stack.stop_service(relay)


# ---------------------------------------------------------------------------------------
# Agent actions (docs/stream-protocol.md "Agent actions"): pointer mode, the customer's
# consent to write mode, and what the filter and the SDK never let an agent do.
# ---------------------------------------------------------------------------------------

CUSTOMER_POINTER = """
const host = document.getElementById('cobrowse-agent-pointer');
const arrow = host && host.shadowRoot && host.shadowRoot.querySelector('.pointer');
if (!arrow || arrow.hidden) return null;
const box = arrow.getBoundingClientRect();
return { x: box.left, y: box.top, events: getComputedStyle(host).pointerEvents };
"""

CUSTOMER_ANNOTATIONS = """
const host = document.getElementById('cobrowse-agent-annotations');
return host && host.shadowRoot ? host.shadowRoot.querySelectorAll('.cobrowse-annotation').length : 0;
"""

# Counts the `input` and `change` events a field gets (what a framework listens to).
COUNT_FIELD_EVENTS = """
const field = document.getElementById(arguments[0]);
field.__events = { input: 0, change: 0 };
field.addEventListener('input', () => field.__events.input++);
field.addEventListener('change', () => field.__events.change++);
"""


def _near(point, expected, tolerance=30):
    return point is not None and abs(point["x"] - expected[0]) <= tolerance and abs(point["y"] - expected[1]) <= tolerance


def _grant_control(customer, agent):
    """The agent asks for control and the customer allows it: write mode on both sides."""
    agent.click("request-control")
    customer.click_bar("button.allow-control")
    agent.wait_mode("write")
    wait_for("the customer's bar offers 'Stop control'", lambda: customer.bar_shows("button.revoke-control"))
    wait_for("the SDK says it is in write mode", lambda: customer.js("return CoBrowse.mode"), check=lambda mode: mode == "write")


@test
def pointer_mode_lets_the_agent_point_and_annotate_but_not_act(t):
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)
    assert agent.mode() == "pointer", f"the session starts in {agent.mode()!r} mode, not pointer"
    assert agent.shown("request-control") and agent.shown("end-session"), "the lead agent has no Request control or End session"
    assert not agent.shown("nav-bar"), "the navigation bar shows in pointer mode"

    # The agent's pointer: where the agent's mouse is over the view, on the customer's page.
    agent.wait_in_view(".hero h1")
    point = agent.point(".hero h1")
    agent.mouse(point["x"] - 5, point["y"])
    agent.mouse(point["x"], point["y"])
    expected = customer.center(".hero h1")
    seen = wait_for("the customer's page shows the agent's pointer (#cobrowse-agent-pointer) where the agent points",
                    lambda: customer.js(CUSTOMER_POINTER), check=lambda value: _near(value, expected))
    assert seen["events"] == "none", f"the agent's pointer takes the customer's clicks (pointer-events {seen['events']!r})"

    # A click is an annotation on both sides; the link does not navigate anyone.
    agent.click_in_view("#to-second")
    assert agent.browser.js("return document.querySelectorAll('#view-overlay .agent-annotation').length") >= 1, \
        "the console drew no annotation (.agent-annotation) where the agent clicked"
    wait_for("the customer's page shows the agent's annotation (.cobrowse-annotation)",
             lambda: customer.js(CUSTOMER_ANNOTATIONS), check=lambda count: count >= 1)
    assert customer.js("return location.pathname") == "/demo/", "the agent's click in pointer mode navigated the customer"
    for marker in ("cobrowse-agent-pointer", "cobrowse-agent-annotations"):
        assert agent.in_view("return doc.getElementById(arguments[0]) !== null", marker) is False, \
            f"#{marker} was shared with the agent"

    # Typing does nothing in pointer mode, and the console says why.
    customer.show("#full-name", agent)
    agent.clear_action_notice()
    agent.type_in_view("#full-name", "Nope")
    agent.wait_action_notice("pointer-mode")
    assert agent.view_value("#full-name") == "", f"the view's #full-name took {agent.view_value('#full-name')!r} in pointer mode"

    # An action sent anyway (not through the view): the filter drops it and tells the console,
    # in its sequence, without the console taking it for a gap.
    seq_before = int(agent.browser.js("return document.body.dataset.seq"))
    agent.clear_action_notice()
    agent.send_raw({"t": "click", "id": agent.view_id("#gift")})
    notice = agent.wait_action_notice("pointer-mode", "click")
    assert "pointer mode" in notice["text"], f"the pointer-mode notice says {notice['text']!r}"
    dropped = [frame for frame in agent.received("action-dropped") if frame.get("reason") == "pointer-mode"]
    assert dropped, "the console got no action-dropped frame for the click"
    wait_for("the console counts the action-dropped frame in its sequence",
             lambda: int(agent.browser.js("return document.body.dataset.seq")), check=lambda seq: seq >= dropped[-1]["seq"] > seq_before)
    assert "resync" not in agent.sent_types(), "the console took the action-dropped frame for a gap and asked for a resync"
    assert customer.field("full-name") == "" and customer.checked("gift") is False, \
        "the agent's typing or click in pointer mode changed the customer's page"
    assert agent.state() == "live", f"the console is {agent.state()!r}"


@test
def write_mode_needs_the_customers_consent_and_can_be_revoked(t):
    customer, agent, _ = t.shared_session()
    agent.wait_same_text(customer)
    customer.record_events()

    # Asked, and declined.
    agent.click("request-control")
    wait_for("Request control is disabled and says it waits for the customer", lambda: agent.browser.js(
        "const b = document.getElementById('request-control'); return [b.disabled, b.textContent];"),
        check=lambda value: value == [True, "Waiting for the customer…"])
    wait_for("the customer's bar asks 'The agent asks to control this page'",
             lambda: customer.bar_shows("button.allow-control") and customer.bar_shows("button.deny-control"))
    assert "The agent asks to control this page" in customer.js(
        "return document.getElementById('cobrowse-bar').shadowRoot.textContent"), "the bar does not say what the agent asks"
    assert customer.events("controlRequested"), "the SDK emitted no controlRequested event"
    customer.click_bar("button.deny-control")
    notice = agent.wait_action_notice("declined")
    assert "The customer declined" in notice["text"], f"the decline notice says {notice['text']!r}"
    wait_for("Request control is enabled again", lambda: agent.browser.js("return document.getElementById('request-control').disabled"),
             check=lambda disabled: disabled is False)
    assert agent.mode() == "pointer", f"after the decline the mode is {agent.mode()!r}"
    wait_for("the consent buttons leave the customer's bar", lambda: not customer.bar_shows("button.allow-control"))

    # Asked again, and allowed.
    _grant_control(customer, agent)
    assert agent.shown("nav-bar"), "write mode shows no navigation bar"
    assert {"mode": "write"} in customer.events("modeChanged"), f"modeChanged events: {customer.events('modeChanged')}"

    # Typing in the view fills the customer's field (and fires the events frameworks listen to).
    customer.js(COUNT_FIELD_EVENTS, "full-name")
    customer.show("#full-name", agent)
    agent.type_in_view("#full-name", "Grace Hopper")
    wait_for("what the agent typed is in the customer's #full-name", lambda: customer.field("full-name"),
             check=lambda value: value == "Grace Hopper")
    counts = customer.js("return document.getElementById('full-name').__events")
    assert counts["input"] >= 1 and counts["change"] >= 1, f"the customer's field got these events: {counts}"
    wait_for("the view's #full-name keeps what the agent typed", lambda: agent.view_value("#full-name"),
             check=lambda value: value == "Grace Hopper")

    # A click on a control the agent may use.
    customer.show("#gift", agent)
    agent.click_in_view("#gift")
    wait_for("the agent's click checks the customer's #gift", lambda: customer.checked("gift"), check=lambda value: value is True)
    wait_for("the view's #gift follows", lambda: agent.in_view("return doc.getElementById('gift').checked"),
             check=lambda value: value is True)

    # Scrolling the view scrolls the customer's page.
    before = customer.js("return Math.round(scrollY)")
    view = agent.browser.driver.find_element(By.ID, "cobrowse-view")
    ActionChains(agent.browser.driver).scroll_from_origin(ScrollOrigin.from_element(view), 0, -400).perform()
    page_scroll = "return Math.round(scrollY)"
    wait_for("the customer's page scrolls with the agent's view",
             lambda: [customer.js(page_scroll), agent.in_view("return Math.round(doc.defaultView.scrollY)")],
             check=lambda both: both[0] == both[1] and both[0] < before)

    # The customer takes control back: the next action is dropped.
    customer.click_bar("button.revoke-control")
    agent.wait_mode("pointer")
    agent.wait_action_notice("revoked")
    assert customer.js("return CoBrowse.mode") == "pointer", "the SDK is not back in pointer mode"
    assert not agent.shown("nav-bar"), "the navigation bar stays after the customer took control back"
    agent.clear_action_notice()
    agent.send_raw({"t": "click", "id": agent.view_id("#gift")})
    agent.wait_action_notice("pointer-mode", "click")
    assert customer.checked("gift") is True, "a click after Stop control reached the customer's page"


@test
def the_agent_can_never_submit_type_into_masked_fields_or_leave_the_site(t):
    customer, agent, session_id = t.shared_session()
    agent.wait_same_text(customer)
    _grant_control(customer, agent)

    # Submit controls are the customer's alone.
    customer.show("#pay", agent)
    agent.clear_action_notice()
    agent.click_in_view("#pay")
    agent.wait_action_notice("disabled-element", "click")
    assert customer.js("return document.querySelector('#checkout .message').hidden") is True, \
        "the agent's click on #pay placed the order"

    # Masked fields are the customer's alone.
    customer.show("#card-number", agent)
    agent.clear_action_notice()
    agent.type_in_view("#card-number", "4242")
    agent.wait_action_notice("masked-field", "type")
    assert customer.field("card-number") == "", f"the customer's #card-number holds {customer.field('card-number')!r}"
    wait_for("the view's #card-number is put back", lambda: agent.view_value("#card-number"), check=lambda value: value == "")

    # Another origin (localhost is not 127.0.0.1): refused.
    agent.clear_action_notice()
    url = agent.browser.driver.find_element(By.ID, "nav-url")
    url.clear()
    url.send_keys(f"http://localhost:{t.relay_a.port}/demo/")
    agent.click("nav-go")
    agent.wait_action_notice("off-site", "navigate")
    assert customer.js("return location.host + location.pathname") == f"127.0.0.1:{t.relay_a.port}/demo/", \
        "the agent navigated the customer off the site"

    # A page of the same site: the customer goes there, and the session goes on in write mode.
    url.clear()
    url.send_keys("second.html")
    agent.click("nav-go")
    wait_for("the customer is on second.html", lambda: customer.js("return location.pathname"),
             check=lambda path: path == "/demo/second.html")
    wait_for("the console names second.html", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda address: address.endswith("/demo/second.html"))
    agent.wait_state("live")
    assert customer.wait_bar_session_id() == session_id, "the session changed with the page"
    assert agent.mode() == "write", f"the mode is {agent.mode()!r} after the navigation"
    wait_for("the customer's bar on second.html offers 'Stop control'", lambda: customer.bar_shows("button.revoke-control"))

    # Back, in the customer's own history.
    agent.click("nav-back")
    wait_for("Back takes the customer back to the shop", lambda: customer.js("return location.pathname"),
             check=lambda path: path == "/demo/")
    wait_for("the console names the shop again", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda address: address.endswith("/demo/?still"))


@test
def an_observer_cannot_act(t):
    customer, agent, session_id = t.shared_session(sharer_relay=t.relay_a, agent_relay=t.relay_b)
    agent.wait_same_text(customer)
    _grant_control(customer, agent)
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    supervisor.wait_same_text(customer, "the supervisor's view shows the customer's page")
    wait_for("the supervisor's console says observer and write mode",
             lambda: supervisor.browser.js("return [document.body.dataset.role, document.getElementById('session-mode').textContent]"),
             check=lambda value: value == ["observer", "write"])
    for control in ("request-control", "end-session", "nav-bar"):
        assert not supervisor.shown(control), f"the supervisor's console offers #{control}"

    # Clicks and typing in the observer's view do nothing, and send nothing.
    customer.show("#gift", agent, supervisor)
    supervisor.click_in_view("#gift")
    customer.show("#full-name", agent, supervisor)
    supervisor.type_in_view("#full-name", "Not mine")
    assert supervisor.view_value("#full-name") == "", "the supervisor's view took typing"
    acted = [kind for kind in supervisor.sent_types() if kind not in ("join", "resync")]
    assert not acted, f"the supervisor's console sent {acted}"

    # Sent anyway: the relay refuses.
    supervisor.send_raw({"t": "click", "id": supervisor.view_id("#gift")})
    supervisor.send_raw({"t": "end"})
    wait_for("the relay refuses the observer's action and end (not-allowed)",
             lambda: [frame.get("code") for frame in supervisor.received("error")],
             check=lambda codes: codes.count("not-allowed") >= 2)
    assert customer.checked("gift") is False and customer.field("full-name") == "", \
        "the supervisor's clicks or typing changed the customer's page"
    assert customer.js("return CoBrowse.sessionId") == session_id, "the supervisor ended the session"
    # The same click by the lead agent does reach the page: the observer's were refused, not lost.
    customer.show("#gift", agent)
    agent.click_in_view("#gift")
    wait_for("the lead agent's click checks the customer's #gift", lambda: customer.checked("gift"), check=lambda value: value is True)


# ---------------------------------------------------------------------------------------
# The end (issue 6): every way a session ends, and what each side is told. The watch runs
# with stack.WATCH_ENV: messaging times out in seconds, chat (the demo's button) does not,
# voice never; the agent's and the customer's graces are seconds.
# ---------------------------------------------------------------------------------------

def _watch_seconds(name):
    return float(stack.WATCH_ENV[name])


def _customer_sees_the_end(customer, reason, by, notice_seconds=END_NOTICE_SECONDS, close=False):
    """The customer's SDK ended the session with `reason`, ended by `by`: its end notice says
    why (no notice if `notice_seconds` is 0), nothing else of the session is left on the page,
    its socket is closed and `ended` said who; then the notice goes, after `notice_seconds` or
    when its close button is clicked, and the page is as before the session. Returns when the
    end showed (time.monotonic())."""
    sentence = CUSTOMER_SENTENCES[reason]
    if notice_seconds:
        notice = wait_for(f"the customer's page shows the end notice {sentence!r}", customer.end_notice,
                          check=lambda notice: bool(notice) and notice["text"] == sentence)
        ended_at = time.monotonic()
        assert notice["role"] == "status" and notice["reason"] == reason, f"the end notice is {notice}"
    else:
        wait_for("the customer's SDK ends the session (CoBrowse.sessionId null)", lambda: customer.js("return CoBrowse.sessionId"),
                 check=lambda value: value is None)
        ended_at = time.monotonic()
    wait_for("the customer's socket to the relay (/ws/share) is closed", lambda: customer.browser.open_sockets("/ws/share"),
             check=lambda sockets: not sockets, within=5)
    events = customer.events("ended")
    assert events == [{"reason": reason, "by": by}], f"the SDK's ended events are {events}, not [{{reason: {reason}, by: {by}}}]"
    customer.assert_as_before("as the session ended", notice=bool(notice_seconds))
    if close:
        host = customer.browser.driver.find_element(By.ID, "cobrowse-ended")
        host.shadow_root.find_element(By.CSS_SELECTOR, "button.close").click()
        assert customer.end_notice() is None, "the end notice stays after its close button was clicked"
    elif notice_seconds:
        wait_for(f"the end notice goes away after {notice_seconds} s", customer.end_notice,
                 check=lambda notice: notice is None, within=notice_seconds + 3)
        shown = time.monotonic() - ended_at
        assert shown >= notice_seconds - 0.5, f"the end notice went away after {shown:.1f} s, not {notice_seconds} s"
    else:
        time.sleep(0.5)
        assert customer.end_notice() is None, "an end notice shows with endNoticeSeconds 0"
    customer.assert_as_before("after the end notice" if notice_seconds else "after the end")
    return ended_at


def _console_says_ended(agent, reason, sentence=None, by=WATCH):
    """The agent's console shows that the session ended with `reason`, ended by `by`: state
    ended, #notice with the sentence, no controls, its socket closed. Returns when
    (time.monotonic())."""
    sentence = sentence or AGENT_SENTENCES[reason]
    agent.wait_state("ended")
    ended_at = time.monotonic()
    notice = agent.notice()
    assert notice == {"text": sentence, "shown": True, "kind": "ended", "reason": reason, "by": by}, \
        f"{agent.name}'s console's #notice is {notice}, not {sentence!r} (reason {reason}, by {by})"
    assert not agent.shown("request-control") and not agent.shown("end-session"), "the controls stay after the end"
    wait_for(f"{agent.name}'s socket to the relay (/ws/view) is closed", lambda: agent.browser.open_sockets("/ws/view"),
             check=lambda sockets: not sockets, within=5)
    return ended_at


def _ended_after_the_grace(ended_at, closing, grace, what):
    """The session ended no earlier than the grace allows. `closing` is when the test began to
    close `what` (its socket closes somewhere inside quit(), which can take a second on a busy
    machine). The watch counts the grace from the first relay report after the socket closed
    (docs/interactions.md), so the full grace, less a clock tick, must have passed."""
    earliest = grace - 0.25
    assert ended_at - closing >= earliest, \
        f"the session ended {ended_at - closing:.1f} s after {what} began to close (grace {grace:.1f} s)"


def _still_live(customer, session_id, agents, since, seconds):
    """Waits until `seconds` (and one more) have passed `since`, then checks that the session
    is still live on every side."""
    time.sleep(max(0.0, since + seconds + 1 - time.monotonic()))
    assert customer.js("return CoBrowse.sessionId") == session_id and customer.bar_session_id() == session_id, \
        f"the customer's session ended: CoBrowse.sessionId is {customer.js('return CoBrowse.sessionId')!r}, notice {customer.end_notice()}"
    for agent in agents:
        assert agent.state() == "live", f"{agent.name}'s console is {agent.state()!r}: {agent.header('notice')!r}"


@test
def the_customer_exits(t):
    customer, agent, _ = t.shared_session(endNoticeSeconds=60)
    customer.click_bar("button.exit")
    _customer_sees_the_end(customer, "customer-exited", "customer", notice_seconds=60, close=True)
    _console_says_ended(agent, "customer-exited", by="customer")


@test
def the_customer_can_exit_while_reconnecting(t):
    """Exit pressed while the SDK has no socket (the network dropped it; or its relay went away)
    still reaches the registry, over HTTP: the agent is told the customer ended the session,
    at once, not a grace later that the customer was gone."""
    proxy = t.cut_proxy(t.relay_a)
    customer, agent, session_id = t.shared_session(sharer_relay=proxy, endNoticeSeconds=60)
    proxy.cut_sockets()
    agent.wait_state("paused")
    wait_for("the customer's bar says it is reconnecting", lambda: customer.js("""
        const bar = document.getElementById('cobrowse-bar');
        return bar.shadowRoot.querySelector('.status').textContent;"""), check=lambda text: "Reconnecting" in (text or ""))
    customer.click_bar("button.exit")
    _customer_sees_the_end(customer, "customer-exited", "customer", notice_seconds=60, close=True)
    _console_says_ended(agent, "customer-exited", by="customer")
    # And the SDK stays ended: sockets allowed again, nothing reconnects.
    proxy.restore()
    time.sleep(1.5)
    assert not customer.browser.open_sockets("/ws/share"), "the SDK opened a socket after the session ended"


@test
def the_agent_ends_the_session(t):
    # Started with the demo's button: the end notice stays the SDK's default time.
    customer, agent, session_id = t.shared_session()
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    agent.click("end-session")
    by = f"agent:{agent.name}"
    _customer_sees_the_end(customer, "agent-exited", by, notice_seconds=DEFAULT_END_NOTICE_SECONDS)
    _console_says_ended(agent, "agent-exited", "You ended the session.", by=by)
    _console_says_ended(supervisor, "agent-exited", f"The agent {agent.name} ended the session.", by=by)


# The SDK's code prompt (CoBrowse.startWithCode() without a code), in the customer's page.
CODE_PROMPT = "document.querySelector('cobrowse-code-prompt')"


def _code_prompt(customer):
    """The code prompt: {error, refusal} or None when it is not open."""
    return customer.browser.js(f"""const host = {CODE_PROMPT}; if (!host) return null;
        return {{ error: host.shadowRoot.getElementById('error').textContent, refusal: host.dataset.refusal || null }};""")


def _type_code(customer, code):
    customer.browser.js(f"""const root = {CODE_PROMPT}.shadowRoot; const input = root.getElementById('code');
        input.value = arguments[0]; root.querySelector('button.start').click();""", code)


@test
def a_voice_call_starts_with_the_code_the_agent_reads_out_and_ends_with_the_call(t):
    # The agent on the call asks for a code in the console; the customer opens the demo's
    # "on the phone" prompt and types it; the console joins at once; the call ending ends it.
    call = f"call-{uuid.uuid4().hex[:10]}"
    status, body = t.relay_b.get("/dev/interaction-token?" + urllib.parse.urlencode({"interaction": call, "channel": "voice"}))
    assert status == 200, f"/dev/interaction-token answered {status}"
    call_token = json.loads(body)["token"]
    agent = t.agent()
    fragment = urllib.parse.urlencode({"token": agent.token(t.relay_b), "voice": call_token})
    agent.browser.get(f"{t.relay_b.base_url}/agent/#{fragment}")
    code = wait_for("the console shows a six-digit code for the call",
                    lambda: agent.browser.js("return document.getElementById('voice-code').dataset.code || null"),
                    check=lambda value: bool(value) and len(value) == 6 and value.isdigit())
    assert "token" not in agent.browser.driver.current_url, "the call's token stays in the address"

    customer = t.customer()
    customer.open(t.relay_a)
    customer.baseline = customer.page_state()
    customer.browser.driver.find_element(By.ID, "start-with-code").click()
    wait_for("the SDK's code prompt opens", lambda: _code_prompt(customer), check=lambda prompt: prompt is not None)
    _type_code(customer, "000000" if code != "000000" else "000001")
    prompt = wait_for("a wrong code is refused in the prompt", lambda: _code_prompt(customer),
                      check=lambda prompt: bool(prompt) and prompt["refusal"] == "code-unknown")
    assert "not right" in prompt["error"], prompt
    _type_code(customer, code)
    wait_for("the prompt closes and the session starts", lambda: customer.browser.js(
        f"return {CODE_PROMPT} === null && window.CoBrowse.sessionId"), check=bool)
    session_id = customer.wait_bar_session_id()
    customer.record_events()

    # The console saw the code used and joined on its own, as the lead.
    agent.wait_state("live")
    assert agent.browser.js("return window.cobrowseConsole.sessionId") == session_id
    wait_for("the agent sees the customer's page", agent.text, check=lambda text: "calm homes" in text)

    # Single use: the same code again is refused.
    second = t.customer()
    second.open(t.relay_a)
    refused = second.browser.driver.execute_async_script(
        """const done = arguments[arguments.length - 1];
        window.CoBrowse.startWithCode(arguments[0], { failureNoticeSeconds: 0 }).then(() => done('started'), (e) => done(e.code));""", code)
    assert refused == "code-used", f"a used code started again: {refused}"

    # The call ends: so does its session, as for a chat.
    t.stack.publish_interaction("ended", call, "voice")
    # The demo's button starts with the SDK's defaults: the end notice stays 8 s.
    _customer_sees_the_end(customer, "interaction-ended", WATCH, notice_seconds=DEFAULT_END_NOTICE_SECONDS)
    _console_says_ended(agent, "interaction-ended")


def _an_interaction_event_ends_its_session(t, kind, reason, **fields):
    interaction = f"ix-{uuid.uuid4().hex[:12]}"
    customer, agent, _ = t.shared_session(interaction=interaction, endNoticeSeconds=END_NOTICE_SECONDS)
    t.stack.publish_interaction(kind, interaction, "chat", **fields)
    _customer_sees_the_end(customer, reason, WATCH)
    _console_says_ended(agent, reason)


@test
def an_ended_interaction_ends_its_session(t):
    _an_interaction_event_ends_its_session(t, "ended", "interaction-ended")


@test
def a_transferred_interaction_ends_its_session(t):
    _an_interaction_event_ends_its_session(t, "transferred", "interaction-transferred", agentId="agent-after-transfer")


@test
def a_conferenced_interaction_ends_its_session(t):
    _an_interaction_event_ends_its_session(t, "conferenced", "interaction-conferenced")


@test
def inactivity_ends_an_idle_messaging_session_but_never_a_voice_one(t):
    timeout = _watch_seconds("INACTIVITY_TIMEOUT_MESSAGING")
    voice_began = time.monotonic()
    voice_customer, voice_agent, voice_session = t.shared_session(channel="voice", endNoticeSeconds=0)
    began = time.monotonic()
    customer, agent, _ = t.shared_session(channel="messaging", endNoticeSeconds=END_NOTICE_SECONDS)
    # Nobody does anything on either.
    ended_at = _customer_sees_the_end(customer, "inactivity", WATCH)
    assert ended_at - began >= timeout - 0.5, f"the messaging session ended {ended_at - began:.1f} s after it began"
    _console_says_ended(agent, "inactivity")
    # The voice session, idle since before the other began, outlives three of its timeouts.
    _still_live(voice_customer, voice_session, [voice_agent], voice_began, 3 * timeout)
    assert t.stack.watch.process.poll() is None, "the interaction watch exited"
    # And ends when the customer exits; with endNoticeSeconds 0, without a notice.
    voice_customer.click_bar("button.exit")
    _customer_sees_the_end(voice_customer, "customer-exited", "customer", notice_seconds=0)
    _console_says_ended(voice_agent, "customer-exited", by="customer")


@test
def a_busy_customer_keeps_a_messaging_session_alive(t):
    timeout = _watch_seconds("INACTIVITY_TIMEOUT_MESSAGING")
    customer, agent, session_id = t.shared_session(channel="messaging", endNoticeSeconds=END_NOTICE_SECONDS)
    driver = customer.browser.driver
    # Each kind of activity alone, for longer than the timeout: first the mouse, then typing.
    for kind in ("mouse", "typing"):
        since = time.monotonic()
        step = 0
        while time.monotonic() < since + 1.5 * timeout:
            last_action = time.monotonic()
            if kind == "mouse":
                actions = ActionBuilder(driver)
                actions.pointer_action.move_to_location(200 + 40 * (step % 8), 300)
                actions.perform()
            else:
                driver.find_element(By.ID, "full-name").send_keys("a")
            step += 1
            time.sleep(1)
        _still_live(customer, session_id, [agent], since, 0)
    # The relay saw the last action after `last_action`: the full timeout must pass from there.
    ended_at = _customer_sees_the_end(customer, "inactivity", WATCH)
    assert ended_at - last_action >= timeout - 0.25, f"the session ended {ended_at - last_action:.1f} s after the customer's last action"
    _console_says_ended(agent, "inactivity")


@test
def a_session_no_agent_joins_ends(t):
    timeout = 3
    t.stack.restart_watch(NO_AGENT_TIMEOUT=str(timeout))
    try:
        customer = t.customer()
        customer.open(t.relay_a)
        began = time.monotonic()
        customer.start_session_with(endNoticeSeconds=END_NOTICE_SECONDS)
        ended_at = _customer_sees_the_end(customer, "no-agent-joined", WATCH)
        assert ended_at - began >= timeout - 0.5, f"the session ended {ended_at - began:.1f} s after it began"
    finally:
        t.stack.restart_watch()


@test
def the_agent_console_may_reload_but_not_stay_away(t):
    grace = _watch_seconds("AGENT_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    # A reload: the console is gone for a moment, and joins again by itself with the token it
    # keeps for the tab (signing in again as well would race that rejoin with a second one).
    gone = time.monotonic()
    agent.browser.driver.refresh()
    agent.wait_state("live")
    _still_live(customer, session_id, [agent, supervisor], gone, grace)
    # Closed for good: after the grace, the session ends (a supervisor is no lead agent).
    closing = time.monotonic()
    agent.browser.quit()
    ended_at = _customer_sees_the_end(customer, "agent-absent", WATCH)
    _ended_after_the_grace(ended_at, closing, grace, "the agent's console")
    _console_says_ended(supervisor, "agent-absent")


@test
def the_customer_may_leave_the_page_briefly_but_not_close_it(t):
    grace = _watch_seconds("CUSTOMER_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    # A reload, a page of the site, and a trip to another site and back: all within the grace.
    gone = time.monotonic()
    customer.browser.driver.refresh()
    customer.open(t.relay_a, "/demo/second.html")
    customer.open(t.relay_a, "/demo/second.html", host="localhost")  # another origin: no session there
    agent.wait_state("paused")
    customer.browser.driver.back()
    agent.wait_state("live")
    _still_live(customer, session_id, [agent], gone, grace)
    # The tab closed for good: after the grace, the session ends.
    closing = time.monotonic()
    customer.browser.quit()
    ended_at = _console_says_ended(agent, "customer-absent")
    _ended_after_the_grace(ended_at, closing, grace, "the customer's tab")


# What the customer's bar says about the agent (docs/sdk.md, "What the customer sees").
BAR_WATCHED = "An agent is viewing this page"
BAR_AGENT_RECONNECTING = "The agent is reconnecting…"

# In the agent's page: whether it is the very document that left (the back-forward cache gave it
# back) or a new one, and what the browser says about it.
CONSOLE_RESTORED = """
const entry = performance.getEntriesByType('navigation')[0] || {};
return { path: location.pathname, kept: window.__leftForTheCache === arguments[0], shows: window.__pageshows || null,
         navigation: entry.type || null, notRestored: entry.notRestoredReasons ? JSON.stringify(entry.notRestoredReasons) : null };
"""


def _console_leaves_for_another_page(agent, relay):
    """The agent's console goes to another page of its relay's site (the demo's orders page),
    which leaves the console in the browser's back-forward cache. Returns a token naming the
    document that left, and when it began to leave (time.monotonic())."""
    token = uuid.uuid4().hex
    agent.browser.js("""
        window.__leftForTheCache = arguments[0];
        window.__pageshows = [];
        addEventListener('pageshow', (event) => window.__pageshows.push(event.persisted));""", token)
    leaving = time.monotonic()
    agent.browser.get(f"{relay.base_url}/demo/second.html?still")
    wait_for("the agent's browser shows the other page", lambda: agent.browser.js("return location.pathname"),
             check=lambda path: path == "/demo/second.html")
    return token, leaving


def _console_comes_back_from_the_cache(agent, token):
    """history.back() to the console; fails loudly unless Chromium restored the very console
    page from its back-forward cache (this is what the test is about: a console loaded anew
    is what the_agent_console_may_reload_but_not_stay_away covers)."""
    agent.browser.js("history.back()")

    def probe():
        try:
            return agent.browser.js(CONSOLE_RESTORED, token)
        except WebDriverException:  # between the two documents
            return None

    state = wait_for("history.back() takes the agent's browser back to the console", probe,
                     check=lambda value: bool(value) and value["path"] == "/agent/")
    if not state["kept"] or state["shows"] != [True]:
        raise AssertionError("Chromium did not restore the agent console from the back-forward cache, so this test proves "
                             f"nothing: navigation type {state['navigation']!r}, pageshow persisted {state['shows']}, "
                             f"not restored because {state['notRestored']}")
    return state


@test
def an_agent_console_in_the_back_forward_cache_is_away_until_it_comes_back(t):
    """A console navigated away stays alive in the back-forward cache: it must leave the session
    (close its socket) so the customer is told the agent is reconnecting, and rejoin the same
    session when shown again within the grace."""
    grace = _watch_seconds("AGENT_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    agent.wait_same_text(customer)
    customer.wait_bar_status(BAR_WATCHED)
    token, gone = _console_leaves_for_another_page(agent, t.relay_b)
    try:
        customer.wait_bar_status(BAR_AGENT_RECONNECTING, within=grace)
    except browsers.WaitTimeout as error:
        viewers = relay_sockets(t.relay_b).get("viewer")
        raise AssertionError(f"{error}. Relay B counts {viewers} viewer socket(s) open"
                             + (": the console went into the back-forward cache with its socket open" if viewers else "")) from None
    assert time.monotonic() - gone < grace - 1, \
        f"the customer was told only {time.monotonic() - gone:.1f} s after the console left: no time left to come back within the grace"
    _console_comes_back_from_the_cache(agent, token)
    agent.wait_state("live")
    customer.wait_bar_status(BAR_WATCHED)
    label = re.sub(r"\D", "", agent.header("session-label") or "")
    assert label == session_id, f"the console came back to session {label!r}, not {session_id}"
    # The grace that began when the console left passes: the session goes on, and the view follows the page.
    _still_live(customer, session_id, [agent], gone, grace)
    customer.js("document.querySelector('.hero h1').textContent = 'Seen after the back-forward cache';")
    wait_for("a change on the customer's page shows in the console that came back", lambda: agent.element_text(".hero h1"),
             check=lambda text: text == "Seen after the back-forward cache")
    assert customer.bar_status() == BAR_WATCHED, f"the customer's bar says {customer.bar_status()!r}"


@test
def an_agent_console_left_in_the_back_forward_cache_ends_the_session_after_the_grace(t):
    grace = _watch_seconds("AGENT_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    # The lead and the supervisor: the bar counts both (presence).
    customer.wait_bar_status(_viewer_sentences(customer)["count"](2))
    token, leaving = _console_leaves_for_another_page(agent, t.relay_b)
    customer.wait_bar_status(BAR_AGENT_RECONNECTING, within=grace)
    # Away for good: after the grace, the session ends (a supervisor is no lead agent).
    ended_at = _customer_sees_the_end(customer, "agent-absent", WATCH)
    _ended_after_the_grace(ended_at, leaving, grace, "the agent's console")
    _console_says_ended(supervisor, "agent-absent")
    # Shown again, the lead's console learns that the session is over (its rejoin is refused).
    _console_comes_back_from_the_cache(agent, token)
    agent.wait_state("ended")
    notice = agent.notice()
    assert notice["shown"] and notice["kind"] == "ended" and notice["text"] == "The session has ended.", \
        f"the console that came back after the end shows {notice}"
    assert not agent.shown("request-control") and not agent.shown("end-session"), "the controls stay after the end"
    # Counted by the relay: Chromium's DevTools log may miss the close of a socket closed as its
    # page went into the cache.
    wait_for("relay B, where the console that came back connects, has no viewer socket open",
             lambda: relay_sockets(t.relay_b).get("viewer"), check=lambda count: count == 0, within=5)


# ---------------------------------------------------------------------------------------
# Masking (docs/masking.md): the rules of Tests/browser/masking-rules.json on masking.html
# and statement.html. Run twice: the SDK and the filter masking, and the filter alone (the
# SDK started with testOnlyDisableMasking, as a stale or bypassed SDK would send).
# ---------------------------------------------------------------------------------------

def _type_secrets(customer):
    driver = customer.browser.driver
    for element_id, text in masking_page.TYPED_SECRETS.items():
        driver.find_element(By.ID, element_id).send_keys(text)
    editable = driver.find_element(By.ID, "masked-editable")
    editable.click()
    editable.send_keys(" ZZSECRET-editable-typed")
    driver.find_element(By.ID, "masked-check").click()
    Select(driver.find_element(By.ID, "masked-select")).select_by_index(0)
    shadow_input = driver.find_element(By.ID, "shadow-masked-host").shadow_root.find_element(By.CSS_SELECTOR, "#shadow-input")
    shadow_input.send_keys("ZZSECRET-shadow-typed")
    # Typed last: once it shows on the agent's side, every earlier keystroke went through.
    driver.find_element(By.ID, "public-input").send_keys(masking_page.PUBLIC_TYPED)


def _wait_view(agent, what, probe_js, expected):
    return wait_for(what, lambda: agent.in_view(probe_js), check=lambda value: value == expected, within=30)


def _assert_no_secrets_in_agent(agent, where):
    leaks = masking_page.leaks_in_frames(agent.browser.frames("received"))
    assert not leaks, f"{where}: secrets reached the agent console: {masking_page.describe_leaks(leaks)}"
    found = masking_page.secrets_in(agent.browser.js(masking_page.AGENT_DOM_DUMP))
    assert not found, f"{where}: secrets are in the agent's view or console: {', '.join(found[:10])}"


def _masking_conformance(t, sdk_masks):
    customer = t.customer()
    customer.open(t.relay_a, "/demo/masking.html")
    assert masking_page.secrets_in(customer.text()), "the customer's masking page shows no secrets: wrong page?"
    session_id = customer.start_session() if sdk_masks else customer.start_session_unmasked()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    wait_for("the agent's view shows the masking page's heading", lambda: agent.element_text("#visible-heading"),
             check=lambda text: text == "Your account")

    _type_secrets(customer)
    result = customer.js_async(masking_page.LATER_SECRETS)
    assert result is True, f"the customer's page could not add its later secrets: {result}"
    _wait_view(agent, "the agent's view shows the public text and '****' for every masked thing on masking.html",
               masking_page.MASKING_PAGE_PROBE, masking_page.MASKING_PAGE_EXPECTED)
    assert customer.js("return document.getElementById('masked-check').checked"), "the customer's checkbox did not check"
    _assert_no_secrets_in_agent(agent, "masking.html")

    # The whole-page rule: the next page of the session, masked entirely.
    customer.browser.driver.find_element(By.ID, "to-statement").click()
    wait_for("the agent console names statement.html", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda url: url.endswith("/demo/statement.html"))
    customer.js(masking_page.STATEMENT_LATER)
    _wait_view(agent, "the agent's view shows statement.html's layout with every text and value '****'",
               masking_page.STATEMENT_PROBE, masking_page.STATEMENT_EXPECTED)
    assert "ZZSECRET-statement-late" in customer.text(), "the statement page did not add its later secret"
    _assert_no_secrets_in_agent(agent, "statement.html")

    sent = customer.browser.frames("sent")
    assert any((frame.json() or {}).get("t") == "snapshot" for frame in sent), "the customer browser sent no snapshot"
    leaks = masking_page.leaks_in_frames(sent)
    if sdk_masks:
        assert not leaks, f"the SDK sent secrets (they must never leave the page): {masking_page.describe_leaks(leaks)}"
    else:
        # Otherwise this run would prove nothing about the filter.
        sent_secrets = {secret for _, found in leaks for secret in found}
        for secret in ("ZZSECRET-ssn-edited", "ZZSECRET-password-typed", "ZZSECRET-statement-late"):
            assert secret in sent_secrets, f"with testOnlyDisableMasking the SDK still masked {secret} (on both pages it must not)"


@test
def masking_rules_keep_every_secret_from_the_agent(t):
    _masking_conformance(t, sdk_masks=True)


@test
def masking_filter_alone_keeps_every_secret_from_the_agent(t):
    _masking_conformance(t, sdk_masks=False)


@test
def a_single_page_navigation_gets_the_rules_of_its_new_address(t):
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")
    wait_for("the agent's view shows the masking page's public text", lambda: agent.element_text("#visible-heading"),
             check=lambda text: text == "Your account")
    # The address becomes statement.html without a page load: its rules mask the whole page.
    customer.js("""
        history.pushState({}, '', 'statement.html');
        document.getElementById('visible-heading').textContent = 'ZZSECRET-after-push-state';""")
    wait_for("the agent's view masks the whole page under statement.html's rules",
             lambda: [agent.element_text("#visible-heading"), agent.element_text("#visible-text")],
             check=lambda texts: texts == ["****", "****"])
    assert (agent.header("customer-url") or "").endswith("/demo/statement.html"), \
        f"the console names {agent.header('customer-url')!r}, not statement.html"
    _assert_no_secrets_in_agent(agent, "after history.pushState")


@test
def changed_masking_rules_apply_to_a_live_session(t):
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")
    wait_for("the agent's view shows the public greeting", lambda: agent.element_text("#visible-text"),
             check=lambda text: (text or "").startswith("PUBLIC-greeting"))
    original = t.stack.read_rules()
    changed = json.loads(json.dumps(original))
    changed["rules"][0]["mask"].append("#visible-text")
    sent_before = len(customer.browser.frames("sent"))
    t.stack.write_rules(changed)
    try:
        # The relays and the filter reload the file; the filter asks the SDK for a snapshot,
        # and the SDK fetches the page's rules again before taking it.
        wait_for("the agent's view masks #visible-text once the rules file says so",
                 lambda: agent.element_text("#visible-text"), check=lambda text: text == "****", within=30)
        snapshots = [frame for frame in customer.browser.frames("sent")[sent_before:]
                     if (frame.json() or {}).get("t") == "snapshot"]
        assert snapshots, "the SDK sent no snapshot after the rules changed"
        assert "PUBLIC-greeting" not in snapshots[-1].payload, \
            "the SDK's snapshot after the change still sends #visible-text: it did not fetch the new rules"
        mark = customer.js("return getComputedStyle(document.getElementById('visible-text')).outlineStyle")
        assert mark == "dashed", f"the customer's #visible-text is not marked after the change (outline {mark!r})"
    finally:
        t.stack.write_rules(original)
    wait_for("the agent's view shows #visible-text again once the rules are back",
             lambda: agent.element_text("#visible-text"), check=lambda text: (text or "").startswith("PUBLIC-greeting"),
             within=30)


def _comparable(node):
    """A serialized node as both sides must agree on it: attribute names lower case (the filter
    lowers them), without the filter's own view markers (data-cb-*), empty lists as none."""
    out = {"id": node.get("id"), "type": node.get("type")}
    for key in ("tag", "text", "value", "checked", "scroll", "rect", "adoptedStyles"):
        if node.get(key) is not None:
            out[key] = node[key]
    if node.get("type") == "element":
        out["attrs"] = {name.lower(): value for name, value in (node.get("attrs") or {}).items()
                        if not name.lower().startswith("data-cb-")}
    out["children"] = [_comparable(child) for child in node.get("children") or []]
    for key in ("shadow", "frame"):
        if node.get(key):
            out[key] = [_comparable(child) for child in node[key]]
    return out


def _differences(sdk, filtered, path="", found=None):
    """Where the SDK's node and the filter's differ (at most 10 places)."""
    found = [] if found is None else found
    if len(found) >= 10:
        return found
    here = f"{path}/{sdk.get('tag') or sdk.get('type')}#{sdk.get('id')}"
    nested = ("children", "shadow", "frame")
    for key in sorted((set(sdk) | set(filtered)) - set(nested)):
        if sdk.get(key) != filtered.get(key):
            found.append(f"{here} {key}: SDK {sdk.get(key)!r}, filter {filtered.get(key)!r}")
    for key in nested:
        mine, theirs = sdk.get(key) or [], filtered.get(key) or []
        if [child["id"] for child in mine] != [child["id"] for child in theirs]:
            found.append(f"{here} {key}: SDK ids {[c['id'] for c in mine]}, filter ids {[c['id'] for c in theirs]}")
            continue
        for a, b in zip(mine, theirs):
            _differences(a, b, here, found)
    return found


def _assert_sdk_equals_filter(customer, agent, where):
    """The SDK's last snapshot, and the filter's masking of it, are the same page."""
    def pair():
        sent = [f.json() for f in customer.browser.frames("sent")]
        sent = [frame for frame in sent if isinstance(frame, dict) and frame.get("t") == "snapshot"]
        received = {frame["root"]["id"]: frame for frame in agent.received("snapshot") if frame.get("root")}
        matched = [(mine, received[mine["root"]["id"]]) for mine in sent if mine.get("root") and mine["root"]["id"] in received]
        return matched[-1] if matched else None

    sdk, filtered = wait_for(f"{where}: the agent got the filter's copy of one of the SDK's snapshots", pair)
    problems = _differences(_comparable(sdk["root"]), _comparable(filtered["root"]))
    if sdk.get("title") != filtered.get("title"):
        problems.insert(0, f"title: SDK {sdk.get('title')!r}, filter {filtered.get('title')!r}")
    assert not problems, f"{where}: the filter changed what the SDK sent:\n  " + "\n  ".join(problems)


@test
def the_sdks_masking_equals_the_filters(t):
    # Masked in the browser, masked again by the filter: the filter has nothing left to change.
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")
    _assert_sdk_equals_filter(customer, agent, "masking.html")
    customer.browser.driver.find_element(By.ID, "to-statement").click()
    wait_for("the agent console names statement.html", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda url: url.endswith("/demo/statement.html"))
    _assert_sdk_equals_filter(customer, agent, "statement.html (maskPage)")
    _assert_no_secrets_in_agent(agent, "statement.html")


# The PII detectors' shared samples (Tests/fixtures/pii-samples.json): the Swift tests run them
# through the filter's detectors, these through the SDK's and the filter's in a real session.
PII_SAMPLES = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pii-samples.json"),
                             encoding="utf-8"))["samples"]
# What pii.html and the typing below hold that no rule names; none may reach the agent.
PII_RAW = ["4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "078-05-1120", "jane.doe@example.com", "+1 415 555 0100",
           "(415) 555-0199", "bob@example.org"] + [sample["text"] for sample in PII_SAMPLES if sample["hits"]]
PII_TYPED = "call me on (415) 555-0199 or mail bob@example.org"
PII_PROBE = r"""
const q = (selector) => doc.querySelector(selector);
const text = (selector) => (q(selector) ? q(selector).textContent : null);
return {
  card: text('#pii-card'), iban: text('#pii-iban'), ibanTitle: q('#pii-iban') && q('#pii-iban').getAttribute('title'),
  ssn: text('#pii-ssn'), mail: text('#pii-mail'), href: q('#pii-mail') && q('#pii-mail').getAttribute('href'),
  contact: text('#pii-contact'), order: text('#pii-order'), note: q('#pii-note') && q('#pii-note').value,
  samples: Array.from(doc.querySelectorAll('#pii-samples p')).map((p) => p.textContent),
};
"""
PII_EXPECTED = {
    "card": "Card on file: **** (expires 12/29)", "iban": "Refund account: ****", "ibanTitle": "Refunds go to ****",
    "ssn": "Tax id: ****", "mail": "****", "href": "mailto:****", "contact": "****, ****",
    "order": "Order 2026-12-06, total 1 234 567 points", "note": "call me on **** or mail ****",
    "samples": [sample["masked"] for sample in PII_SAMPLES],
}


def _pii_in(frames):
    """The raw personal data found in WebSocket frames: [(frame index, [what])]."""
    found = []
    for index, frame in enumerate(frames):
        payload = frame.payload if isinstance(frame.payload, str) else str(frame.payload)
        hits = [raw for raw in PII_RAW if raw and raw in payload]
        if hits:
            found.append((index, hits))
    return found


def _pii_detectors(t, sdk_masks):
    customer = t.customer()
    customer.open(t.relay_a, "/demo/pii.html")
    session_id = customer.start_session() if sdk_masks else customer.start_session_unmasked()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    wait_for("the agent's view shows pii.html's heading", lambda: agent.element_text("#pii-heading"),
             check=lambda text: text == "Your details")
    # The samples arrive as added nodes (mutations), the note as typed input frames.
    customer.js("""
        const area = document.getElementById('pii-samples');
        for (const text of arguments[0]) { const p = document.createElement('p'); p.textContent = text; area.appendChild(p); }""",
                [sample["text"] for sample in PII_SAMPLES])
    customer.browser.driver.find_element(By.ID, "pii-note").send_keys(PII_TYPED)
    seen = _wait_view(agent, "the agent's view shows pii.html with every piece of personal data as '****'", PII_PROBE,
                      PII_EXPECTED)
    assert seen == PII_EXPECTED
    # Read-only and disabled controls take no agent action: the console frames them green.
    framed = agent.in_view("""return ['#pii-member', '#pii-update'].map((s) => {
        const e = doc.querySelector(s); return e && e.hasAttribute('data-cb-noagent') && doc.defaultView.getComputedStyle(e).outlineColor; });""")
    assert framed == ["rgb(22, 163, 74)", "rgb(22, 163, 74)"], f"read-only and disabled controls are not framed green: {framed}"
    leaks = _pii_in(agent.browser.frames("received"))
    assert not leaks, f"personal data reached the agent console in frames {leaks[:5]}"
    dump = str(agent.browser.js(masking_page.AGENT_DOM_DUMP))
    shown = [raw for raw in PII_RAW if raw in dump]
    assert not shown, f"personal data is in the agent's view or console: {shown}"
    sent = _pii_in(customer.browser.frames("sent"))
    if sdk_masks:
        assert not sent, f"the SDK sent personal data (its detectors must mask it first): frames {sent[:5]}"
    else:
        # Otherwise this run would prove nothing about the filter.
        assert sent, "with testOnlyDisableMasking the SDK still masked the personal data: the filter was not tested"
    # The session's masking record counts what each detector masked: the SDK's (it reports
    # them in `detected` frames) or, when the SDK masked nothing, the filter's.
    field = "sdkDetectorHits" if sdk_masks else "detectorHits"
    detectors = {"card", "iban", "ssn", "email", "phone"}
    record = wait_for(f"the session's masking record counts every detector in {field}",
                      lambda: (t.stack.session_history(session_id) or {}).get("masking") or {},
                      check=lambda masking: detectors <= {name for name, hits in masking.get(field, {}).items() if hits > 0},
                      within=30)
    if sdk_masks:
        assert not record.get("detectorHits"), f"the filter found personal data the SDK had masked: {record}"


@test
def personal_data_no_rule_names_never_reaches_the_agent(t):
    _pii_detectors(t, sdk_masks=True)


@test
def the_filters_detectors_alone_keep_personal_data_from_the_agent(t):
    _pii_detectors(t, sdk_masks=False)


PRIVATE_PROBE = r"""
const q = (selector) => doc.querySelector(selector);
const text = (selector) => (q(selector) ? q(selector).textContent : null);
return {
  nav: text('#private-header nav'), heading: text('#private-heading'), rate: text('#private-rate'),
  rateTitle: q('#private-rate') && q('#private-rate').getAttribute('title'),
  income: q('#private-income') && q('#private-income').value,
  photo: q('#private-photo') ? q('#private-photo').hasAttribute('data-cb-masked-image') : null,
  helpHeading: text('#private-help-heading'), helpText: text('#private-help-text'),
  adviserCode: text('#private-adviser-code'), question: q('#private-question') && q('#private-question').value,
  late: text('#private-late'),
};
"""
PRIVATE_EXPECTED = {
    "nav": None,  # filled in from the customer's page: the header is unmasked
    "heading": "****", "rate": "****", "rateTitle": "****", "income": "****", "photo": True,
    "helpHeading": "PUBLIC-help-heading", "helpText": "PUBLIC-help-text: ask your adviser about the offer.",
    "adviserCode": "****", "question": "PUBLIC-question-value", "late": "****",
}


def _private_mode(t, sdk_masks):
    customer = t.customer()
    customer.open(t.relay_a, "/demo/private.html")
    session_id = customer.start_session() if sdk_masks else customer.start_session_unmasked()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    expected = dict(PRIVATE_EXPECTED, nav=customer.js("return document.querySelector('#private-header nav').textContent"))
    customer.js("""const p = document.createElement('p'); p.id = 'private-late'; p.textContent = 'ZZSECRET-private-late';
                   document.getElementById('private-area').appendChild(p);""")
    _wait_view(agent, "the agent's view masks private.html but its header and help box", PRIVATE_PROBE, expected)
    # The console's own document (its header shows the page's title) is scanned too.
    _assert_no_secrets_in_agent(agent, "private.html")
    if sdk_masks:
        _assert_sdk_equals_filter(customer, agent, "private.html")
        leaks = masking_page.leaks_in_frames(customer.browser.frames("sent"))
        assert not leaks, f"the SDK sent secrets of the private page: {masking_page.describe_leaks(leaks)}"


@test
def a_private_page_shows_the_agent_only_what_unmask_allows(t):
    _private_mode(t, sdk_masks=True)


@test
def the_filter_alone_keeps_a_private_page_private(t):
    _private_mode(t, sdk_masks=False)


# The rules editor's preview frame, in the administrator's page.
PREVIEW = "document.getElementById('preview-frame').contentDocument"
# The shop's hero paragraph: public under the test rules until the editor masks it.
HERO_TEXT = "Hand-picked everyday goods"


def _preview_hero(editor):
    return editor.js(f"""const doc = {PREVIEW}; const p = doc && doc.querySelector('.hero p');
        const h = doc && doc.querySelector('.hero h1');
        return p && h ? {{p: p.textContent, masked: p.hasAttribute('data-cb-masked'), h1: h.textContent}} : null;""")


def _rules_in_force_at_the_filter(relay, text):
    """Waits until a masking filter answers previews saying it enforces the rules file `text`
    (its SHA-256), as the editor does after a save."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    body = json.dumps({"t": "snapshot", "seq": 0, "url": "http://127.0.0.1/", "viewport": {"w": 1, "h": 1},
                       "scroll": {"x": 0, "y": 0}, "root": {"id": 1, "type": "element", "tag": "html"},
                       "rules": '{"rules": []}'}).encode()

    def in_force():
        request = urllib.request.Request(f"{relay.base_url}/cobrowse/editor/preview", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers.get("X-Rules-In-Force")
    wait_for("a masking filter enforces the rules file", in_force, check=lambda found: found == digest, within=60, interval=0.5)


@test
def the_rules_editor_previews_through_the_filter_and_what_it_saves_reaches_the_agent(t):
    original = t.stack.read_rules()
    editor = t.browser("administrator")
    try:
        editor.get(f"{t.relay_a.base_url}/editor/?page=/demo/%3Fstill")
        wait_for("the editor shows the first preview of the shop", lambda: _preview_hero(editor),
                 check=lambda hero: hero and HERO_TEXT in hero["p"])
        # Pick the hero paragraph in the live page.
        site = editor.driver.find_element(By.ID, "site-frame")
        editor.driver.switch_to.frame(site)
        editor.driver.find_element(By.CSS_SELECTOR, ".hero p").click()
        editor.driver.switch_to.default_content()
        selector = wait_for("the editor proposes a selector for the picked paragraph",
                            lambda: editor.js("return document.getElementById('selector').value"))
        editor.driver.switch_to.frame(site)
        matched = editor.js("return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent.trim().slice(0, 26))", selector)
        editor.driver.switch_to.default_content()
        assert matched == [HERO_TEXT], f"the proposed selector {selector!r} matches {matched!r}, not the paragraph alone"
        wait_for("the editor says how many elements the selector matches",
                 lambda: editor.js("return document.getElementById('selector-count').textContent"),
                 check=lambda text: "Matches 1 element" in text)

        # Mask it: a masking filter's preview shows it masked, the rest of the page as it was.
        seq = int(editor.js("return document.body.dataset.previewSeq"))
        editor.driver.find_element(By.CSS_SELECTOR, "button[data-kind=mask]").click()
        hero = wait_for("the preview shows the paragraph masked", lambda: _preview_hero(editor),
                        check=lambda hero: hero and hero["masked"] and HERO_TEXT not in hero["p"])
        assert hero["h1"] == "Small things for calm homes", f"the heading is masked too: {hero!r}"
        assert int(editor.js("return document.body.dataset.previewSeq")) > seq
        status = editor.js("return document.getElementById('preview-status').textContent")
        assert "Masked by a masking filter" in status, status
        errors = editor.js("return [...document.querySelectorAll('#findings li[data-severity=error]')].map((li) => li.textContent)")
        assert not errors, f"the relay's check refuses the proposed selector: {errors}"
        diff = editor.js("return document.getElementById('diff').textContent")
        assert f'+     "{selector}"' in diff or selector in diff, f"the diff does not show the new rule: {diff!r}"

        # Whole-page masking is a tick away, and goes again.
        editor.driver.find_element(By.ID, "mask-page").click()
        wait_for("the preview masks the whole page", lambda: _preview_hero(editor),
                 check=lambda hero: hero and "calm homes" not in hero["h1"])
        editor.driver.find_element(By.ID, "mask-page").click()
        wait_for("the preview shows the heading again", lambda: _preview_hero(editor),
                 check=lambda hero: hero and hero["h1"] == "Small things for calm homes" and hero["masked"])

        # Save: the relay writes the file, a filter says it enforces it.
        editor.driver.find_element(By.ID, "save").click()
        wait_for("the editor says a masking filter enforces the saved rules",
                 lambda: editor.js("return document.getElementById('in-force').dataset.filterConfirmed"),
                 check=lambda confirmed: confirmed == "true", within=90)
        saved = t.stack.read_rules()
        assert any(selector in rule_set.get("mask", []) for rule_set in saved["rules"]), f"the file lacks the rule: {saved!r}"

        # A real session: the agent sees the paragraph masked, and no frame carried it.
        customer, agent, _ = t.shared_session()
        wait_for("the agent's view masks the hero paragraph",
                 lambda: agent.in_view("const p = doc.querySelector('.hero p'); return p ? p.hasAttribute('data-cb-masked') : null;"),
                 check=lambda masked: masked is True)
        carried = [frame for frame in agent.browser.frames("received") if HERO_TEXT in frame.payload]
        assert not carried, f"{len(carried)} frames the agent received hold the masked paragraph"
    finally:
        t.stack.write_rules(original)
        with open(t.stack.rules_path, encoding="utf-8") as handle:
            _rules_in_force_at_the_filter(t.relay_a, handle.read())


@test
def the_rules_editor_edits_a_page_in_a_window_of_its_own(t):
    # For sites that may not be framed: the page opens in a window the editor opened, and the
    # SDK there answers the editor as it answers a parent frame.
    editor = t.browser("administrator")
    editor.get(f"{t.relay_a.base_url}/editor/")
    wait_for("the editor is ready", lambda: editor.js("return document.body.dataset.state"), check=lambda state: state == "ready")
    address = editor.driver.find_element(By.ID, "page-url")
    address.send_keys(f"{t.relay_a.base_url}/demo/masking.html")
    editor_window = editor.driver.current_window_handle
    editor.driver.find_element(By.ID, "open-window").click()
    wait_for("the page opens in a window of its own", lambda: len(editor.driver.window_handles), check=lambda count: count == 2)
    wait_for("the editor previews the page in the window, #ssn masked by the rules in force",
             lambda: editor.js(f"const doc = {PREVIEW}; const e = doc && doc.querySelector('#ssn'); return e ? [e.textContent, e.hasAttribute('data-cb-masked')] : null;"),
             check=lambda seen: seen == ["****", True])
    assert editor.js("return document.body.dataset.pageIn") == "window"
    page_window = next(handle for handle in editor.driver.window_handles if handle != editor_window)
    editor.driver.switch_to.window(page_window)
    editor.driver.find_element(By.ID, "visible-heading").click()
    editor.driver.switch_to.window(editor_window)
    wait_for("the editor proposes the heading's id", lambda: editor.js("return document.getElementById('selector').value"),
             check=lambda selector: selector == "#visible-heading")


@test
def the_sdk_refuses_what_the_rules_forbid_even_if_the_filter_lets_it_through(t):
    # A click on a masked element arrives at the customer's relay as if a filter had let it
    # through (published straight onto cobrowse.sharer, standing in for a stale or broken filter):
    # the SDK, the second gate, acts on nothing masked.
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")
    wait_for("the agent's view shows the masking page", lambda: agent.element_text("#visible-heading"),
             check=lambda text: text == "Your account")
    _grant_control(customer, agent)
    customer.show("#masked-check", agent)
    element_id = agent.browser.js("return window.cobrowseConsole.mirror.idOf("
                                  "document.getElementById('cobrowse-view').contentDocument.getElementById('masked-check'))")
    assert isinstance(element_id, int), f"the agent's view has no mirror id for #masked-check ({element_id!r})"
    t.stack.management.publish(t.stack.vhost, "cobrowse.sharer", f"s.{session_id}",
                               json.dumps({"t": "action", "action": {"t": "click", "id": element_id}}))
    wait_for("the customer's SDK logs that it did not perform the agent's click on a masked element",
             lambda: [line for line in customer.browser.console() if "click was not performed (masked)" in line])
    assert customer.checked("masked-check") is False, "the agent's click checked the customer's masked checkbox"
    # An allowed element on the same page is clicked: the refusal was the SDK's, not a broken path.
    customer.show("#public-input", agent)
    agent.type_in_view("#public-input", "PUBLIC-by-the-agent")
    wait_for("the agent's typing reaches the customer's #public-input", lambda: customer.field("public-input"),
             check=lambda value: value == "PUBLIC-by-the-agent")


# Computed styles of view elements, from the agent's page.
VIEW_STYLES = r"""
const result = {};
for (const selector of arguments[0]) {
  let element;
  if (selector.startsWith('shadow:')) {
    const host = doc.querySelector('#shadow-open-host');
    element = host && host.shadowRoot && host.shadowRoot.querySelector(selector.slice(7));
  } else {
    element = doc.querySelector(selector);
  }
  if (!element) { result[selector] = null; continue; }
  const style = element.ownerDocument.defaultView.getComputedStyle(element);
  const box = element.getBoundingClientRect();
  result[selector] = { outlineColor: style.outlineColor, outlineStyle: style.outlineStyle,
    background: style.backgroundColor, w: box.width, h: box.height,
    src: element.getAttribute('src'), children: element.childNodes.length };
}
return result;
"""

PURPLE = "rgb(139, 92, 246)"
GREEN = "rgb(22, 163, 74)"
GREY = "rgb(212, 212, 216)"
CUSTOMER_MARK = "rgba(124, 58, 237, 0.55)"


@test
def masked_and_no_agent_elements_are_framed_and_blocked_ones_are_grey_boxes(t):
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")

    # The customer's page marks what the agent does not see, from the SDK's adopted sheet.
    marks = customer.js("""
        const style = (id) => { const s = getComputedStyle(document.getElementById(id)); return [s.outlineStyle, s.outlineColor]; };
        return { ssn: style('ssn'), form: style('masked-form'), password: style('password'), photo: style('id-photo'),
                 chat: style('chat-history'), pin: style('member-pin'), plain: style('visible-text'),
                 sheets: document.adoptedStyleSheets.length };""")
    for name in ("ssn", "form", "password", "photo", "chat", "pin"):
        assert marks[name] == ["dashed", CUSTOMER_MARK], \
            f"the customer's #{name} is not marked as hidden from the agent: outline {marks[name]}"
    assert marks["plain"][0] == "none", f"an unmasked paragraph is marked too: {marks['plain']}"

    selectors = ["#ssn", "#masked-form", "#password", "#id-photo", "#chat-history", "#delete-account", "#save-profile",
                 "#visible-text", "shadow:#shadow-inner-mask"]
    expected_outline = {"#ssn": PURPLE, "#masked-form": PURPLE, "#password": PURPLE, "#id-photo": PURPLE,
                        "#chat-history": PURPLE, "#delete-account": GREEN, "#save-profile": GREEN,
                        "shadow:#shadow-inner-mask": PURPLE}

    def framed(styles):
        return styles and all(styles.get(s) and styles[s]["outlineColor"] == color and styles[s]["outlineStyle"] == "solid"
                              for s, color in expected_outline.items())

    styles = wait_for("the agent's view frames masked elements purple and no-agent elements green",
                      lambda: agent.in_view(VIEW_STYLES, selectors), check=framed)
    assert styles["#visible-text"]["outlineStyle"] == "none", f"an unmasked paragraph is framed: {styles['#visible-text']}"

    customer_boxes = customer.js("""
        const size = (id) => { const box = document.getElementById(id).getBoundingClientRect(); return [box.width, box.height]; };
        return { chat: size('chat-history'), photo: size('id-photo') };""")
    for selector, key in (("#chat-history", "chat"), ("#id-photo", "photo")):
        shown = styles[selector]
        want_w, want_h = customer_boxes[key]
        assert abs(shown["w"] - want_w) <= 2 and abs(shown["h"] - want_h) <= 2, \
            f"the agent's {selector} is {shown['w']}×{shown['h']} px, the customer's {want_w}×{want_h}"
        assert shown["background"] == GREY, f"the agent's {selector} is not a grey box: background {shown['background']}"
    assert styles["#chat-history"]["children"] == 0, "the blocked #chat-history has content in the agent's view"
    assert (styles["#id-photo"]["src"] or "").startswith("data:image/gif"), \
        f"the masked image's src in the agent's view is {styles['#id-photo']['src']!r}, not a blank image"

    # The marks go away with the session.
    customer.end()
    wait_for("the customer's marks are removed when the session ends", lambda: customer.js(
        "return [getComputedStyle(document.getElementById('ssn')).outlineStyle, document.adoptedStyleSheets.length]"),
        check=lambda value: value == ["none", marks["sheets"] - 1])


# ---------------------------------------------------------------------------------------
# "Show password" toggles (show-password.html): a field that is or ever was a password field
# stays masked, whatever its type becomes and whenever it changed (before sharing, in the task
# that created the field, before a later snapshot). Its ids avoid the secret-sounding hints, so
# nothing but its history masks it.
# ---------------------------------------------------------------------------------------

SHOW_PASSWORD_PAGE = "/demo/show-password.html"
# Every secret typed on that page starts with this, and nothing else there does: a frame or view
# holding it holds a secret, or the first keystrokes of one.
TYPED_PREFIX = "ZZS"
SHOWN_FIELDS_PROBE = r"""
const values = {};
for (const field of doc.querySelectorAll('input[id$="-word"], input[id^="shown-word-"]')) values[field.id] = [field.type, field.value];
values.email = doc.getElementById('email') ? doc.getElementById('email').value : null;
return values;
"""


def _type(customer, element_id, text):
    customer.browser.driver.find_element(By.ID, element_id).send_keys(text)


def _toggle(customer, button_id, field_id, to):
    customer.browser.driver.find_element(By.ID, button_id).click()
    shown = customer.js("return document.getElementById(arguments[0]).type", field_id)
    assert shown == to, f"the customer's toggle made #{field_id} {shown!r}, not {to!r}"


def _assert_shown_fields_masked(agent, customer, fields, public, where):
    """The agent's view has the password fields, ever so, as `fields` says ({id: [type, value]}:
    the customer's type, and `****`, or nothing while empty), and `public` in #email (typed last:
    everything before it went through); no frame the agent got, none the customer's SDK sent and
    nothing in the agent's page holds a typed secret."""
    expected = dict(fields, email=public)

    def probe():
        values = agent.in_view(SHOWN_FIELDS_PROBE) or {}
        return {key: values.get(key) for key in expected}

    wait_for(f"{where}: {agent.name}'s view shows #email {public!r} and '****' in every password field, ever so",
             probe, check=lambda values: values == expected, within=30)
    for side, frames in (("the agent console got", agent.browser.frames("received")),
                         ("the customer's SDK sent", customer.browser.frames("sent"))):
        leaked = [frame.payload[:200] for frame in frames if TYPED_PREFIX in frame.payload]
        assert not leaked, f"{where}: {side} a typed secret in {len(leaked)} frame(s), e.g. {leaked[0]}"
    dump = agent.browser.js(masking_page.AGENT_DOM_DUMP)
    assert TYPED_PREFIX not in dump, f"{where}: a typed secret is in {agent.name}'s view: …{dump[dump.index(TYPED_PREFIX) - 80:][:160]}…"


def _resync_from_the_console(agent, customer, fields, public, where):
    """The console asks for a snapshot (as after a gap): a fresh one arrives, still masked."""
    before = len(agent.received("snapshot"))
    agent.send_raw({"t": "resync"})
    wait_for(f"{where}: a new snapshot reaches the console after its resync", lambda: len(agent.received("snapshot")),
             check=lambda count: count > before)
    _assert_shown_fields_masked(agent, customer, fields, public, f"{where}, after the console's resync")


@test
def password_fields_shown_before_sharing_stay_masked(t):
    customer = t.customer()
    customer.open(t.relay_a, SHOW_PASSWORD_PAGE)
    # Typed while hidden, shown, typed into again: all before Start co-browse.
    _type(customer, "early-word", "ZZSECRET-early-hidden")
    _toggle(customer, "show-early", "early-word", "text")
    _type(customer, "early-word", "-ZZSECRET-early-shown")
    # A field created as a password field and shown in the same task.
    customer.browser.driver.find_element(By.ID, "add-shown-field").click()
    _type(customer, "shown-word-1", "ZZSECRET-created-shown")
    assert TYPED_PREFIX in customer.js("return document.getElementById('early-word').value"), "the customer's typing went nowhere"
    session_id = customer.start_session()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    fields = {"early-word": ["text", "****"], "later-word": ["password", ""], "shown-word-1": ["text", "****"]}
    # Public text, not an e-mail address (the e-mail detector would mask one: pii tests).
    _type(customer, "email", "PUBLIC-ada")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada", "shown before sharing")
    # Typed into while shared, and shown again after a fresh snapshot.
    _type(customer, "early-word", "-ZZSECRET-early-while-shared")
    _type(customer, "shown-word-1", "-ZZSECRET-created-while-shared")
    _type(customer, "email", "-uk")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada-uk", "typed into while shared")
    _resync_from_the_console(agent, customer, fields, "PUBLIC-ada-uk", "shown before sharing")


@test
def password_fields_shown_while_sharing_stay_masked_in_every_later_snapshot(t):
    customer, agent, session_id = t.shared_session(path=SHOW_PASSWORD_PAGE)
    wait_for("the agent's view shows the sign-in page", lambda: agent.element_text("#sign-in-heading"),
             check=lambda text: text == "Sign in")
    # A field shown by its toggle while shared.
    _type(customer, "later-word", "ZZSECRET-later-hidden")
    _toggle(customer, "show-later", "later-word", "text")
    _type(customer, "later-word", "-ZZSECRET-later-shown")
    # A field created as a password field and shown in the same task, while shared: its
    # mutation records carry the type's old value.
    customer.browser.driver.find_element(By.ID, "add-shown-field").click()
    _type(customer, "shown-word-1", "ZZSECRET-created-while-shared")
    fields = {"early-word": ["password", ""], "later-word": ["text", "****"], "shown-word-1": ["text", "****"]}
    _type(customer, "email", "PUBLIC-ada")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada", "shown while shared")
    # An observer joining asks the sharer for a snapshot: masked for both consoles.
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    _assert_shown_fields_masked(supervisor, customer, fields, "PUBLIC-ada", "after a supervisor joined")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada", "after a supervisor joined")
    # Hidden and shown again, typed into after the new snapshots, and one more snapshot.
    _toggle(customer, "show-later", "later-word", "password")
    _toggle(customer, "show-later", "later-word", "text")
    _type(customer, "later-word", "-ZZSECRET-later-after-snapshot")
    _type(customer, "shown-word-1", "-ZZSECRET-created-after-snapshot")
    _type(customer, "email", "-lovelace")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada-lovelace", "typed into after the snapshots")
    _resync_from_the_console(agent, customer, fields, "PUBLIC-ada-lovelace", "shown while shared")
    _assert_shown_fields_masked(supervisor, customer, fields, "PUBLIC-ada-lovelace", "the supervisor, after the resync")


# ---------------------------------------------------------------------------------------
# A hostile page: nothing from the customer's page may run in, or navigate, the console.
# ---------------------------------------------------------------------------------------

HOSTILE_LATER = r"""
const area = document.getElementById('hostile-area');
area.innerHTML = '<img id="late-img" src="nope.png" onerror="top.__pwned=\'late-img\'">' +
  '<iframe id="late-srcdoc" srcdoc="<script>top.__pwned=\'late-srcdoc\'</script>"></iframe>' +
  '<a id="late-link" href="javascript:top.__pwned=\'late-link\'">late link</a>' +
  '<object data="data:text/html,<script>top.__pwned=\'late-object\'</script>"></object>' +
  '<svg><a id="late-svg-link"><text y="10">x</text><set attributeName="href" to="javascript:top.__pwned=\'late-set\'"/></a></svg>' +
  '<form id="late-form" action="jav&#x09;ascript:top.__pwned=\'late-form\'"><button>go</button></form>';
const link = document.getElementById('link-top');
link.setAttribute('href', 'javascript:top.__pwned="late-href"');
link.setAttribute('onclick', "top.__pwned='late-onclick'");
document.getElementById('hostile-heading').setAttribute('onmouseover', "top.__pwned='late-onmouseover'");
document.getElementById('link-data').setAttribute('href', ' DATA:text/html;base64,PHNjcmlwdD50b3AuX19wd25lZD0xPC9zY3JpcHQ+');
const meta = document.createElement('meta');
meta.setAttribute('content', "0; url=data:text/html,<script>top.__pwned='late-meta'</script>");
document.head.appendChild(meta);
meta.setAttribute('http-equiv', 'refresh');
const script = document.createElement('script');
script.textContent = "top.__pwned = 'late-script'";
area.appendChild(script);
setTimeout(() => area.insertAdjacentHTML('beforeend', '<p id="hostile-sentinel">PUBLIC-hostile-sentinel</p>'), 50);
"""

# In the agent's page: click, submit, hover and focus everything in the view.
ATTACK_THE_VIEW = r"""
const doc = document.getElementById('cobrowse-view').contentDocument;
const all = [...doc.querySelectorAll('*')];
for (const host of all) if (host.shadowRoot) all.push(...host.shadowRoot.querySelectorAll('*'));
for (const element of all) {
  for (const type of ['mouseover', 'focus', 'toggle', 'load', 'error']) element.dispatchEvent(new Event(type));
  try { element.click(); } catch (error) {}
  if (element.localName === 'form') { try { element.requestSubmit(); } catch (error) {} try { element.submit(); } catch (error) {} }
}
return all.length;
"""

CONSOLE_SAFETY = r"""
const iframe = document.getElementById('cobrowse-view');
let view = null, viewPwned = null, viewProblem = null;
try {
  view = iframe.contentDocument;
  viewPwned = iframe.contentWindow.__pwned ?? null;
  if (!view) viewProblem = 'no document of the console\'s origin';
  else if (!view.getElementById(arguments[0])) viewProblem = 'no #' + arguments[0] + ' (at ' + iframe.contentWindow.location.href + ')';
} catch (error) { viewProblem = 'not readable: ' + error.message; }
const squeeze = (value) => value.replace(/[\u0000-\u0020\u007f]+/g, '').toLowerCase();
const found = [];
if (view) {
  const all = [...view.querySelectorAll('*')];
  for (const host of all) if (host.shadowRoot) all.push(...host.shadowRoot.querySelectorAll('*'));
  for (const element of all) {
    const tag = element.localName.toLowerCase();
    if (['script', 'object', 'embed', 'applet', 'portal', 'set', 'animate', 'animatemotion', 'animatetransform'].includes(tag)) found.push('<' + tag + '>');
    if (tag === 'iframe' && (element.hasAttribute('srcdoc') || element.hasAttribute('src'))) found.push('iframe with ' + (element.hasAttribute('srcdoc') ? 'srcdoc' : 'src'));
    if (tag === 'base' && element.getAttribute('href') !== view.querySelector('base').getAttribute('href')) found.push('a second <base>');
    if (tag === 'base' && element.hasAttribute('target')) found.push('<base target>');
    if (tag === 'meta' && element.hasAttribute('http-equiv')) found.push('meta http-equiv');
    for (const attribute of element.attributes) {
      const value = squeeze(attribute.value);
      if (attribute.name.toLowerCase().startsWith('on')) found.push(tag + ' ' + attribute.name);
      if (value.startsWith('javascript:') || value.startsWith('vbscript:') || value.startsWith('data:text')) found.push(tag + ' ' + attribute.name + '=' + attribute.value.slice(0, 30));
    }
  }
}
return {
  pwned: window.__pwned ?? null,
  viewPwned,
  viewProblem,
  path: location.pathname + location.search,
  sandbox: iframe.getAttribute('sandbox'),
  consoleScripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
  found,
};
"""


def _assert_console_safe(agent, where, heading_id):
    state = agent.browser.js(CONSOLE_SAFETY, heading_id)
    problems = []
    if state["pwned"] is not None:
        problems.append(f"the console's window has __pwned = {state['pwned']!r}")
    if state["viewPwned"] is not None:
        problems.append(f"the view's window has __pwned = {state['viewPwned']!r}")
    if state["viewProblem"]:
        problems.append(f"the view frame lost the rebuilt page (navigated?): {state['viewProblem']}")
    if state["path"] != "/agent/":
        problems.append(f"the console navigated to {state['path']!r}")
    if (state["sandbox"] or "").split() != ["allow-same-origin"]:
        problems.append(f"the view's sandbox is {state['sandbox']!r}, not 'allow-same-origin'")
    if state["consoleScripts"] != ["console.js"]:
        problems.append(f"the console's scripts are {state['consoleScripts']}")
    if state["found"]:
        problems.append("the view holds " + ", ".join(sorted(set(state["found"]))[:12]))
    assert not problems, f"{where}: " + "; ".join(problems)


@test
def a_hostile_page_cannot_run_code_in_or_navigate_the_agent_console(t):
    customer, agent, session_id = t.shared_session(path="/demo/hostile.html")
    wait_for("the agent's view shows the hostile page's markup as text", lambda: agent.element_text("#markup-text"),
             check=lambda text: text and text.startswith("<img src=x onerror="))
    customer.js(HOSTILE_LATER)
    wait_for("the agent's view shows the hostile page's later changes", lambda: agent.element_text("#hostile-sentinel"),
             check=lambda text: text == "PUBLIC-hostile-sentinel")
    assert customer.js("return location.pathname") == "/demo/hostile.html", "the hostile page navigated the customer away"
    attacked = agent.browser.js(ATTACK_THE_VIEW)
    assert attacked > 20, f"only {attacked} elements in the agent's view to attack"
    time.sleep(1.5)  # the 1 s meta refresh, late loads and error events
    _assert_console_safe(agent, "after the hostile page and every click, submit and event in the view", "hostile-heading")
    assert agent.state() == "live", f"the agent console is {agent.state()!r}, not live"


# A snapshot no SDK or filter would pass: the console must still build it without running any
# of it (its own defence, behind the filter).
def _hostile_snapshot():
    def element(tag, attrs=None, children=None, **extra):
        _hostile_snapshot.next_id += 1
        node = {"id": _hostile_snapshot.next_id, "type": "element", "tag": tag, "attrs": attrs or {}}
        if children:
            node["children"] = children
        node.update(extra)
        return node

    def text(value):
        _hostile_snapshot.next_id += 1
        return {"id": _hostile_snapshot.next_id, "type": "text", "text": value}

    _hostile_snapshot.next_id = 0
    pwn = "top.__pwned='{}';parent.__pwned='{}'"
    body = element("body", {"onload": pwn.format("body-onload", "body-onload")}, [
        element("h1", {"id": "hand-heading"}, [text("Hand-written frames")]),
        element("script", {}, [text(pwn.format("script", "script"))]),
        element("img", {"src": "nope.png", "onerror": pwn.format("onerror", "onerror"), "OnLoad": "top.__pwned='OnLoad'"}),
        element("iframe", {"srcdoc": "<script>top.__pwned='srcdoc'</script>"}),
        element("iframe", {"src": "data:text/html,<script>top.__pwned='iframe-data'</script>"}),
        element("iframe", {"src": "javascript:top.__pwned='iframe-js'"}),
        element("object", {"data": "data:text/html,<script>top.__pwned='object'</script>"}),
        element("embed", {"src": "data:text/html,<script>top.__pwned='embed'</script>"}),
        element("a", {"id": "js-link", "href": "java\tscript:top.__pwned='link'", "target": "_top"}, [text("link")]),
        element("a", {"href": "data:text/html,<script>top.__pwned='data-link'</script>"}, [text("data link")]),
        element("a", {"href": "/agent/?navigated", "target": "_top"}, [text("top link")]),
        element("form", {"action": "javascript:top.__pwned='form'"}, [element("button", {}, [text("go")])]),
        element("form", {"action": "/agent/?form", "target": "_top"}, [element("button", {"formaction": " javascript:top.__pwned='fa'"}, [text("go")])]),
        element("svg", {}, [element("a", {"xlink:href": "javascript:top.__pwned='xlink'"}, [
            element("text", {"y": "10"}, [text("svg")]),
            element("animate", {"attributename": "href", "to": "javascript:top.__pwned='animate'", "dur": "0.01s"}),
            element("set", {"attributename": "onclick", "to": "top.__pwned='set'"}),
        ])]),
        element("div", {"style": "width: expression(top.__pwned='expression'); background: url(javascript:top.__pwned='css')"},
                [text("<img src=x onerror=top.__pwned='markup'>")]),
        element("details", {"open": "", "ontoggle": pwn.format("ontoggle", "ontoggle")}, [text("details")]),
        element("div", {"id": "shadow-host"}, shadow=[element("img", {"src": "x", "onerror": pwn.format("shadow", "shadow")}),
                                                      element("script", {}, [text("top.__pwned='shadow-script'")])]),
        element("noscript", {}, [text("<img src=x onerror=top.__pwned='noscript'>")]),
        element("portal", {"src": "/agent/?portal"}),
        element("div", {"id": "hand-area"}),
    ])
    head = element("head", {}, [
        element("meta", {"http-equiv": "refresh", "content": "0; url=data:text/html,<script>top.__pwned='refresh'</script>"}),
        element("meta", {"http-equiv": "Content-Security-Policy", "content": "default-src 'none'"}),
        element("base", {"href": "javascript:top.__pwned='base'//", "target": "_top"}),
        element("link", {"rel": "stylesheet", "href": "javascript:top.__pwned='link-css'"}),
        element("style", {}, [text("</style><script>top.__pwned='style'</script>")]),
    ])
    root = element("html", {}, [head, body])
    return {"t": "snapshot", "seq": 1, "stream": "hand", "url": "http://127.0.0.1:1/hostile", "title": "hostile",
            "doctype": "html", "viewport": {"w": 1000, "h": 700}, "scroll": {"x": 0, "y": 0}, "root": root}


HAND_FED_HOSTILE_MUTATIONS = {
    "t": "mutations", "seq": 2, "removes": [], "texts": [],
    "adds": [{"parent": None, "node": {"id": 9001, "type": "element", "tag": "div", "attrs": {"onmouseover": "top.__pwned='add'"},
                                       "children": [{"id": 9002, "type": "element", "tag": "script", "attrs": {},
                                                     "children": [{"id": 9003, "type": "text", "text": "top.__pwned='added-script'"}]},
                                                    {"id": 9004, "type": "element", "tag": "iframe", "attrs": {"srcdoc": "<script>top.__pwned=1</script>"}}]}}],
    "attrs": [{"id": 1, "name": "onclick", "value": "top.__pwned='attr'"}],
}


@test
def the_agent_console_defends_itself_against_hand_written_hostile_frames(t):
    agent = t.agent()
    agent.browser.get(f"{t.relay_b.base_url}/agent/")
    agent.wait_state("signed-out")
    snapshot = _hostile_snapshot()
    mutations = json.loads(json.dumps(HAND_FED_HOSTILE_MUTATIONS))
    area_id = _id_of(snapshot["root"], "hand-area")
    mutations["adds"][0]["parent"] = area_id
    mutations["attrs"].append({"id": area_id, "name": "href", "value": "javascript:top.__pwned='attr-href'"})
    _show_hand_written_snapshot(agent, snapshot)
    agent.browser.js("window.cobrowseConsole.mirror.applyMutations(arguments[0]);", mutations)
    heading = agent.element_text("#hand-heading")
    assert heading == "Hand-written frames", f"the console did not build the hand-written snapshot: {heading!r}"
    assert agent.element_text("#hand-area") is not None, "the hand-written add's parent is missing"
    agent.browser.js(ATTACK_THE_VIEW)
    time.sleep(1.0)
    _assert_console_safe(agent, "after hand-written hostile frames", "hand-heading")


def _show_hand_written_snapshot(agent, snapshot):
    """Applies a snapshot to a signed-out console's view as a live session would (no socket)."""
    agent.browser.js("""
        const { mirror, overlay } = window.cobrowseConsole;
        document.body.dataset.state = 'live';
        overlay.setViewport(arguments[0].viewport.w, arguments[0].viewport.h);
        mirror.loadSnapshot(arguments[0]);""", snapshot)


def _id_of(node, element_id):
    """The mirror id of the serialized element whose `id` attribute is `element_id`."""
    if (node.get("attrs") or {}).get("id") == element_id:
        return node["id"]
    for child in (node.get("children") or []) + (node.get("shadow") or []):
        found = _id_of(child, element_id)
        if found is not None:
            return found
    return None


@test
def the_agent_console_draws_the_filters_view_markers(t):
    # Hand-written frames as the filter sends them (data-cb-* markers, rect): the console's part alone.
    agent = t.agent()
    agent.browser.get(f"{t.relay_b.base_url}/agent/")
    agent.wait_state("signed-out")
    snapshot = {
        "t": "snapshot", "seq": 1, "stream": "hand", "url": "http://127.0.0.1:1/marked", "title": "marked", "doctype": "html",
        "viewport": {"w": 1000, "h": 700}, "scroll": {"x": 0, "y": 0},
        "root": {"id": 1, "type": "element", "tag": "html", "attrs": {}, "children": [
            {"id": 2, "type": "element", "tag": "head", "attrs": {}, "children": [
                {"id": 3, "type": "element", "tag": "style", "attrs": {},
                 "children": [{"id": 4, "type": "text", "text": "#blocked { width: 10px; height: 10px; background: red }"}]}]},
            {"id": 5, "type": "element", "tag": "body", "attrs": {}, "children": [
                {"id": 6, "type": "element", "tag": "p", "attrs": {"id": "masked", "data-cb-masked": ""},
                 "children": [{"id": 7, "type": "text", "text": "****"}]},
                {"id": 8, "type": "element", "tag": "div", "attrs": {"id": "blocked", "data-cb-blocked": "", "style": "color: red"},
                 "rect": {"w": 321, "h": 123}},
                {"id": 9, "type": "element", "tag": "img", "attrs": {"id": "image", "data-cb-masked-image": "", "alt": "****"},
                 "rect": {"w": 80, "h": 60}},
                {"id": 10, "type": "element", "tag": "button", "attrs": {"id": "no-agent", "data-cb-noagent": ""},
                 "children": [{"id": 11, "type": "text", "text": "Delete"}]},
                {"id": 12, "type": "element", "tag": "span", "attrs": {"id": "inline-blocked", "data-cb-blocked": ""},
                 "rect": {"w": 50, "h": 20}},
                {"id": 13, "type": "element", "tag": "div", "attrs": {"id": "host"}, "shadow": [
                    {"id": 14, "type": "element", "tag": "b", "attrs": {"id": "shadow-masked", "data-cb-masked": ""},
                     "children": [{"id": 15, "type": "text", "text": "****"}]}]},
                {"id": 16, "type": "element", "tag": "p", "attrs": {"id": "plain"}, "children": [{"id": 17, "type": "text", "text": "plain"}]},
            ]}]},
    }
    _show_hand_written_snapshot(agent, snapshot)
    # The customer's page changes the blocked element's style: it stays the customer's size.
    agent.browser.js("window.cobrowseConsole.mirror.applyMutations(arguments[0]);",
                     {"t": "mutations", "seq": 2, "adds": [], "removes": [], "texts": [],
                      "attrs": [{"id": 8, "name": "style", "value": "width: 5px; height: 5px"}]})
    styles = agent.in_view("""
        const get = (element) => { const s = getComputedStyle(element); const box = element.getBoundingClientRect();
          return { outline: s.outlineStyle + ' ' + s.outlineColor, background: s.backgroundColor, w: box.width, h: box.height,
                   src: element.getAttribute('src') }; };
        const out = {};
        for (const id of ['masked', 'blocked', 'image', 'no-agent', 'inline-blocked', 'plain']) out[id] = get(doc.getElementById(id));
        out['shadow-masked'] = get(doc.getElementById('host').shadowRoot.getElementById('shadow-masked'));
        return out;""")
    purple, green = f"solid {PURPLE}", f"solid {GREEN}"
    problems = []
    for element_id, outline in (("masked", purple), ("blocked", purple), ("image", purple), ("no-agent", green),
                                ("shadow-masked", purple), ("inline-blocked", purple)):
        if styles[element_id]["outline"] != outline:
            problems.append(f"#{element_id} outline {styles[element_id]['outline']!r}, not {outline!r}")
    if not styles["plain"]["outline"].startswith("none"):
        problems.append(f"#plain is framed: {styles['plain']['outline']!r}")
    for element_id, size in (("blocked", (321, 123)), ("image", (80, 60)), ("inline-blocked", (50, 20))):
        shown = (styles[element_id]["w"], styles[element_id]["h"])
        if shown != size:
            problems.append(f"#{element_id} is {shown[0]}×{shown[1]} px, not its rect {size[0]}×{size[1]}")
        if styles[element_id]["background"] != GREY:
            problems.append(f"#{element_id} is not a grey box: background {styles[element_id]['background']}")
    if not (styles["image"]["src"] or "").startswith("data:image/gif;base64,"):
        problems.append(f"the masked image's src is {styles['image']['src']!r}, not a blank GIF")
    assert not problems, "; ".join(problems)


# ---------------------------------------------------------------------------------------
# Same-origin frames (frames.html): a frame's document is shared inside its <iframe> node,
# masked like the page; a masked frame is masked whole; another origin's frame stays empty.
# ---------------------------------------------------------------------------------------

# In the agent's page: a frame's document inside the view (`frame(id)`).
IN_FRAME = "const frame = (id) => { const f = doc.getElementById(id); return f ? f.contentDocument : null; };\n"


def _frame_text(agent, frame_id, selector):
    return agent.in_view(IN_FRAME + """
        const d = frame(arguments[0]); const e = d && d.querySelector(arguments[1]);
        return e ? e.textContent : null;""", frame_id, selector)


def _open_frames(t, sdk_masks=True):
    customer = t.customer()
    customer.open(t.relay_a, "/demo/frames.html?still")
    wait_for("the customer's content frame has loaded", lambda: customer.js("""
        const d = document.getElementById('content-frame').contentDocument;
        return !!(d && d.getElementById('frame-text'));"""))
    session_id = customer.start_session() if sdk_masks else customer.start_session_unmasked()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    wait_for("the agent's view shows the content frame's text inside its iframe",
             lambda: _frame_text(agent, "content-frame", "#frame-text") or "",
             check=lambda text: text.startswith("PUBLIC-frame-text"))
    return customer, agent, session_id


def _in_customer_frame(customer, frame_id, action):
    driver = customer.browser.driver
    driver.switch_to.frame(driver.find_element(By.ID, frame_id))
    try:
        return action(driver)
    finally:
        driver.switch_to.default_content()


@test
def same_origin_frames_reach_the_agent_and_follow_the_customer(t):
    customer, agent, _ = _open_frames(t)

    # Changes inside the frame: a text edit, an element added.
    customer.js("""
        const d = document.getElementById('content-frame').contentDocument;
        d.getElementById('frame-text').firstChild.data = 'PUBLIC-frame-text-edited';
        d.getElementById('frame-list').insertAdjacentHTML('beforeend', '<li id="frame-item-2">PUBLIC-frame-item-2</li>');""")
    wait_for("the agent's frame shows the edited text", lambda: _frame_text(agent, "content-frame", "#frame-text"),
             check=lambda text: text == "PUBLIC-frame-text-edited")
    wait_for("the agent's frame shows the added list item", lambda: _frame_text(agent, "content-frame", "#frame-item-2"),
             check=lambda text: text == "PUBLIC-frame-item-2")

    # Typing in the frame's field.
    _in_customer_frame(customer, "content-frame",
                       lambda driver: driver.find_element(By.ID, "frame-input").send_keys(masking_page.FRAME_PUBLIC_TYPED))
    wait_for("the agent's frame shows what the customer typed", lambda: agent.in_view(IN_FRAME + """
        const e = frame('content-frame').getElementById('frame-input'); return e ? e.value : null;"""),
             check=lambda value: value == masking_page.FRAME_PUBLIC_TYPED)

    # The frame navigates (a new document, without the edits): the agent gets the new one.
    customer.js("document.getElementById('content-frame').contentWindow.location.assign('frame-content.html?again');")
    wait_for("the agent's frame shows the frame's new document", lambda: agent.in_view(IN_FRAME + """
        const d = frame('content-frame');
        const text = d && d.getElementById('frame-text');
        return [text ? text.textContent : null, !!(d && d.getElementById('frame-item-2'))];"""),
             check=lambda value: value == ["PUBLIC-frame-text: ask us anything.", False])

    # Another origin's frame stays an empty box.
    state = agent.in_view(IN_FRAME + """
        const f = doc.getElementById('other-origin-frame');
        const d = f && f.contentDocument;
        return { present: !!f, empty: !d || !d.body || d.body.childNodes.length === 0 };""")
    assert state == {"present": True, "empty": True}, f"the other origin's frame in the agent's view: {state}"

    # In write mode, the agent types into the frame's field (the id is from the shared mirror).
    _grant_control(customer, agent)
    field = agent.in_view(IN_FRAME + "return window.cobrowseConsole.mirror.idOf(frame('content-frame').getElementById('frame-input')) ?? null;")
    assert isinstance(field, int), f"the agent's frame field has no mirror id: {field!r}"
    agent.send_raw({"t": "type", "id": field, "value": "PUBLIC-agent-typed"})
    wait_for("the agent's typing reaches the customer's frame field", lambda: customer.js(
        "return document.getElementById('content-frame').contentDocument.getElementById('frame-input').value"),
             check=lambda value: value == "PUBLIC-agent-typed")
    masked_field = agent.in_view(IN_FRAME + "return window.cobrowseConsole.mirror.idOf(frame('content-frame').getElementById('frame-masked')) ?? null;")
    agent.clear_action_notice()
    agent.send_raw({"t": "type", "id": masked_field, "value": "typed-by-agent"})
    agent.wait_action_notice("masked-field", "type")
    assert customer.js("return document.getElementById('content-frame').contentDocument.getElementById('frame-masked').value") \
        == "ZZSECRET-frame-masked-value", "the agent typed into the frame's masked field"


def _frames_masking(t, sdk_masks):
    customer, agent, _ = _open_frames(t, sdk_masks)
    for element_id, text in masking_page.FRAME_TYPED_SECRETS.items():
        _in_customer_frame(customer, "content-frame", lambda driver: driver.find_element(By.ID, element_id).send_keys(text))
    _in_customer_frame(customer, "masked-frame",
                       lambda driver: driver.find_element(By.ID, "saved-card-input").send_keys("ZZSECRET-masked-frame-typed"))
    result = customer.js_async(masking_page.FRAME_LATER_SECRETS)
    assert result is True, f"the customer's page could not add its later frame secrets: {result}"
    _wait_view(agent, "the agent's view shows the frames' public text and '****' for every masked thing in them",
               masking_page.FRAME_PAGE_PROBE, masking_page.FRAME_PAGE_EXPECTED)
    _assert_no_secrets_in_agent(agent, "frames.html")
    sent = customer.browser.frames("sent")
    leaks = masking_page.leaks_in_frames(sent)
    if sdk_masks:
        assert not leaks, f"the SDK sent secrets from a frame: {masking_page.describe_leaks(leaks)}"
        _assert_sdk_equals_filter(customer, agent, "frames.html")
    else:
        sent_secrets = {secret for _, found in leaks for secret in found}
        for secret in ("ZZSECRET-frame-password-attr", "ZZSECRET-masked-frame-text", "ZZSECRET-frame-masked-edit"):
            assert secret in sent_secrets, \
                f"with testOnlyDisableMasking the SDK still masked {secret}: this run proves nothing (sent: {sorted(sent_secrets)})"


@test
def secrets_inside_frames_never_reach_the_agent(t):
    _frames_masking(t, sdk_masks=True)


@test
def the_filter_alone_masks_frames(t):
    _frames_masking(t, sdk_masks=False)


@test
def frames_in_the_agents_view_load_nothing_and_run_nothing(t):
    customer, agent, _ = _open_frames(t)
    assert customer.js("return document.getElementById('content-frame').contentWindow.__frameScript") == "ran", \
        "the frame's script did not run on the customer's side: the test proves nothing"
    customer.js("""
        document.getElementById('content-frame').contentDocument.body.insertAdjacentHTML('beforeend',
          '<p id="frame-late-sentinel">PUBLIC-late</p><img src="x" onerror="top.__pwned = \\'frame-late-onerror\\'">');""")
    wait_for("the agent's frame shows the later change", lambda: _frame_text(agent, "content-frame", "#frame-late-sentinel"),
             check=lambda text: text == "PUBLIC-late")
    time.sleep(0.5)  # late error events
    state = agent.browser.js("""
        const view = document.getElementById('cobrowse-view');
        const frames = [...view.contentDocument.querySelectorAll('iframe, frame')];
        const windows = [window, view.contentWindow, ...frames.map((f) => f.contentWindow)];
        return {
          frames: frames.length,
          attributes: frames.flatMap((f) => ['src', 'srcdoc'].filter((name) => f.hasAttribute(name)).map((name) => f.id + ' ' + name)),
          // Built with document.open() by the console: about:blank, or the console's own address.
          locations: frames.map((f) => { try { return f.contentWindow.location.href; } catch (e) { return 'unreadable'; } })
            .filter((href) => href !== 'about:blank' && href !== location.href.split('#')[0]),
          scripts: frames.reduce((n, f) => n + (f.contentDocument ? f.contentDocument.querySelectorAll('script').length : 0), 0),
          handlers: frames.reduce((n, f) => n + (f.contentDocument ? f.contentDocument.querySelectorAll('[onerror], [onload]').length : 0), 0),
          ran: windows.flatMap((w) => { try { return ['__frameScript', '__frameOnerror', '__frameScriptRanIn', '__pwned']
                                                    .filter((name) => w[name] !== undefined); } catch (e) { return ['unreadable']; } }),
        };""")
    problems = []
    if state["frames"] != 3:
        problems.append(f"{state['frames']} frames in the view, not 3")
    if state["attributes"]:
        problems.append(f"frames with {state['attributes']}")
    if state["locations"]:
        problems.append(f"frames loaded {state['locations']}")
    if state["scripts"] or state["handlers"]:
        problems.append(f"{state['scripts']} scripts and {state['handlers']} handlers in the frames")
    if state["ran"]:
        problems.append(f"the frame's code ran in the console: {state['ran']}")
    assert not problems, "; ".join(problems)
    _assert_console_safe(agent, "after frames.html", "frames-heading")


# ---------------------------------------------------------------------------------------
# Issue 15: signing the agent console in without pasting tokens (a contact-center desktop
# that frames it, its address once, the token kept for the tab, the next session after an
# end; docs/agent-console.md), and what the customer sees when CoBrowse.start fails
# (docs/sdk.md).
# ---------------------------------------------------------------------------------------

CONSOLE_TYPE = "cobrowse-console"
SESSION_ID_ERROR = "The session ID is exactly 9 digits, as the customer reads it out."
# What the customer's start failure notice says (docs/sdk.md), by the error's code.
FAILURE_SENTENCES = {
    "expired-token": "Co-browsing could not start: the link to your agent has expired. Please ask the agent for a new one.",
    "interaction-ended": "Co-browsing could not start because your conversation with us has ended.",
    "unavailable": "Co-browsing could not start: the service cannot be reached right now. Please try again in a moment.",
}


def _signed_token(claims):
    """A JWT signed with the stack's HS256 secret, as the contact center signs them (claims as
    in Shared/CobrowseTokens/TokenClaims.swift); the tests make expired ones with it."""
    def part(data):
        raw = data if isinstance(data, bytes) else json.dumps(data, separators=(",", ":")).encode()
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
    signing_input = part({"alg": "HS256", "typ": "JWT"}) + "." + part(claims)
    signature = hmac.new(stack.TOKEN_SECRET.encode(), signing_input.encode(), hashlib.sha256).digest()
    return signing_input + "." + part(signature)


def _console_frame_ancestors(relay):
    """The sources of the frame-ancestors directive in the console's Content-Security-Policy,
    or None when it has none (any page may frame it; the console's own checks are then all)."""
    with urllib.request.urlopen(relay.base_url + "/agent/", timeout=5) as response:
        policy = response.headers.get("Content-Security-Policy", "")
    for directive in policy.split(";"):
        words = directive.split()
        if words and words[0] == "frame-ancestors":
            return words[1:]
    return None


def _into_frame(browser, frame_id):
    """Runs the browser's next scripts in the desktop's frame `frame_id` (the console, or its sibling)."""
    driver = browser.driver
    driver.switch_to.default_content()
    driver.switch_to.frame(driver.find_element(By.ID, frame_id))


def _kept_sign_in(browser):
    """What the console keeps for the tab (sessionStorage `cobrowse.console`), or None."""
    kept = browser.js("return sessionStorage.getItem('cobrowse.console')")
    return json.loads(kept) if kept else None


def _wait_ignored(agent, more_than, what):
    """Waits until the console (the browser is in its frame) has ignored more than
    `more_than` desktop messages, and checks it is still signed out, with nothing kept."""
    wait_for(f"the console ignores {what}", lambda: agent.browser.js("return window.cobrowseConsole.embedding.ignored"),
             check=lambda count: count > more_than)
    assert agent.state() == "signed-out", f"after {what} the console is {agent.state()!r}"
    assert _kept_sign_in(agent.browser) is None, f"after {what} the console keeps {_kept_sign_in(agent.browser)}"


@test
def a_contact_center_desktop_signs_the_console_in_by_postmessage_and_no_other_page_can(t):
    desk = t.stack.desktop
    status, body = t.relay_b.get("/agent/embedding.json")
    assert status == 200 and json.loads(body) == {"embedders": [desk.origin]}, \
        f"relay B's /agent/embedding.json answered {status}: {body[:200]} (the stack sets CONSOLE_EMBEDDERS={desk.origin})"
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session()
    agent = t.agent()
    token = agent.token(t.relay_b)
    console_url = f"{t.relay_b.base_url}/agent/"
    browser = agent.browser
    ancestors = _console_frame_ancestors(t.relay_b)

    # A page on an origin the relay does not list frames the console and hands it the token.
    browser.get(desk.page_url(console_url, allowed=False))
    _into_frame(browser, "cobrowse-console")
    if ancestors is not None:
        # The relay's CSP already keeps such a page from framing the console at all.
        assert desk.origin in ancestors and desk.other_origin not in ancestors, \
            f"the console's frame-ancestors are {ancestors}, with CONSOLE_EMBEDDERS={desk.origin}"
        def frame_loaded():
            try:  # Chromium's error page for a refused frame
                return browser.js("""
                    return document.readyState === 'complete' && location.href !== 'about:blank'
                      ? { href: location.href, console: !!window.cobrowseConsole } : null;""")
            except WebDriverException:
                return None

        framed = wait_for("the console's frame in the page on the other origin finishes loading", frame_loaded)
        assert not framed["console"], f"a page on {desk.other_origin} framed the console despite frame-ancestors {ancestors}"
    else:
        origins = wait_for("the console framed by a page on another origin knows the relay's embedders",
                           lambda: browser.js("return window.cobrowseConsole && window.cobrowseConsole.embedding.origins"),
                           check=lambda value: value is not None)
        assert origins == [desk.origin], f"the console's embedders are {origins}, not [{desk.origin}]"
        browser.driver.switch_to.default_content()
        browser.js("signIn(arguments[0], arguments[1])", token, session_id)
        _into_frame(browser, "cobrowse-console")
        _wait_ignored(agent, 0, f"a sign-in from {desk.other_origin}, not on the list")
        browser.driver.switch_to.default_content()
        told = desktop.console_messages(browser)
        assert told == [], f"the console told a page on {desk.other_origin} (not on the list): {told}"

    # The desktop on the allowed origin: the console says it is ready (to that origin only).
    browser.get(desk.page_url(console_url))
    ready = wait_for("the console tells the desktop it is ready", lambda: desktop.console_messages(browser), check=bool)
    assert ready == [{"type": CONSOLE_TYPE, "t": "ready", "signedIn": False, "sessionId": None}], \
        f"the console's first messages to the desktop are {ready}"
    # Another frame of the desktop's origin, not the page that frames the console: ignored.
    _into_frame(browser, "cobrowse-console")
    ignored = browser.js("return cobrowseConsole.embedding.ignored")
    _into_frame(browser, "sibling")
    browser.js("""
        parent.document.getElementById('cobrowse-console').contentWindow.postMessage(
          { type: arguments[0], t: 'sign-in', token: arguments[1], sessionId: arguments[2] }, arguments[3]);""",
               CONSOLE_TYPE, token, session_id, t.relay_b.base_url)
    _into_frame(browser, "cobrowse-console")
    _wait_ignored(agent, ignored, "a sign-in from a sibling frame of the desktop")

    # The desktop itself hands over the token and the session: the console joins.
    browser.driver.switch_to.default_content()
    browser.js("signIn(arguments[0], arguments[1])", token, session_id)
    _into_frame(browser, "cobrowse-console")
    agent.wait_state("live")
    agent.wait_same_text(customer)
    label = re.sub(r"\D", "", agent.header("session-label") or "")
    assert label == session_id, f"the framed console shows session {label!r}, not {session_id}"
    assert _kept_sign_in(browser) == {"token": token, "sessionId": session_id}, \
        f"the console keeps {_kept_sign_in(browser)} for the tab"
    assert "token" not in browser.js("return location.href"), "the token is in the console's address"
    assert not agent.shown("sign-in") and agent.shown("sign-out"), "the framed, signed-in console shows the form, or no Sign out"
    browser.driver.switch_to.default_content()
    told = wait_for("the console tells the desktop it joined", lambda: desktop.console_messages(browser),
                    check=lambda messages: len(messages) >= 2)
    assert told[1:] == [{"type": CONSOLE_TYPE, "t": "joined", "sessionId": session_id, "role": "lead"}], \
        f"the console told the desktop {told}"
    assert token not in json.dumps(told), "the console posted the token back"
    customer.wait_bar_status(BAR_WATCHED)


@test
def the_console_takes_a_token_from_its_address_once_and_keeps_it_for_the_tab(t):
    customer, agent, session_id = t.shared_session()
    browser = agent.browser
    token = _kept_sign_in(browser)["token"]
    # The fragment was read once: gone from the address and from the tab's history.
    address = browser.js("return location.href")
    assert address == f"{t.relay_b.base_url}/agent/", f"the console's address is {address!r} after the sign-in"
    history = browser.js("return window.navigation ? navigation.entries().map((entry) => entry.url) : null")
    assert history is not None, "this Chromium has no Navigation API: the history cannot be checked"
    assert not [url for url in history if "token" in url], f"the tab's history keeps the token: {history}"
    assert _kept_sign_in(browser) == {"token": token, "sessionId": session_id}, f"the console keeps {_kept_sign_in(browser)}"

    # A reload joins the same session again, with the kept token, without asking.
    joins_before = len([f for f in agent.received("joined")])
    browser.driver.refresh()
    assert agent.state() != "signed-out", "the reloaded console is signed out: it did not use the kept token"
    agent.wait_state("live")
    assert not agent.shown("sign-in"), "the reloaded console shows the sign-in form"
    assert re.sub(r"\D", "", agent.header("session-label") or "") == session_id
    joins = [frame.json() for frame in browser.frames("sent") if (frame.json() or {}).get("t") == "join"]
    assert len(joins) >= 2 and joins[-1] == {"t": "join", "agentToken": token, "sessionId": session_id}, \
        f"the console's joins were {joins}"
    assert len(agent.received("joined")) > joins_before, "the reloaded console was not joined again"
    assert "token" not in browser.js("return location.href")
    agent.wait_same_text(customer)

    # Sign out: the console leaves (the session goes on: the customer is told the agent is
    # reconnecting) and forgets the token; a reload asks for one.
    agent.click("sign-out")
    agent.wait_state("signed-out")
    assert _kept_sign_in(browser) is None, f"the console keeps {_kept_sign_in(browser)} after Sign out"
    customer.wait_bar_status(BAR_AGENT_RECONNECTING)
    browser.driver.refresh()
    assert agent.state() == "signed-out" and agent.shown("agent-token") and agent.shown("sign-in"), \
        "after Sign out and a reload the console does not ask for a token"
    assert browser.js("return document.getElementById('agent-token').value") == ""

    # A token the registry refuses (expired) is forgotten at once: a reload does not try it again.
    expired = _signed_token({"agent_id": agent.name, "role": "agent", "exp": int(time.time()) - 60})
    fragment = urllib.parse.urlencode({"token": expired, "session": session_id})
    browser.get(f"{t.relay_b.base_url}/agent/#{fragment}")
    agent.wait_state("refused")
    notice = agent.notice()
    assert notice["kind"] == "refused" and "expired" in notice["text"], f"the refused console says {notice}"
    assert _kept_sign_in(browser) is None, f"the console keeps the refused token: {_kept_sign_in(browser)}"
    assert agent.shown("agent-token"), "the console refused for its token does not ask for another"
    assert "token" not in browser.js("return location.href")
    browser.driver.refresh()
    assert agent.state() == "signed-out", f"reloaded after the refusal, the console is {agent.state()!r}, not signed out"


@test
def after_a_session_ends_the_console_joins_another_with_the_same_token(t):
    customer, agent, first = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    browser = agent.browser
    token = _kept_sign_in(browser)["token"]
    customer.click_bar("button.exit")
    _console_says_ended(agent, "customer-exited", by="customer")
    assert agent.shown("join-another") and agent.shown("sign-out"), "the ended console does not offer another session"
    assert not agent.shown("sign-in") and not agent.shown("agent-token"), "the ended console asks for the token again"
    assert _kept_sign_in(browser) == {"token": token, "sessionId": None}, \
        f"after the end the console keeps {_kept_sign_in(browser)}, not the token alone"

    other = t.customer()
    other.open(t.relay_a)
    second = other.start_session()
    field = browser.driver.find_element(By.ID, "next-session-id")
    field.send_keys("12345")
    agent.click("join-another-button")
    error = wait_for("the console says the session ID is not one", lambda: agent.header("join-another-error"),
                     check=lambda text: text == SESSION_ID_ERROR)
    assert agent.state() == "ended", f"a wrong session ID moved the console to {agent.state()!r} ({error})"
    field.clear()
    field.send_keys(f"{second[:3]} {second[3:6]}-{second[6:]}")
    agent.click("join-another-button")
    agent.wait_state("live")
    assert not agent.shown("join-another"), "the console offers another session while live"
    agent.wait_same_text(other)
    assert re.sub(r"\D", "", agent.header("session-label") or "") == second
    joins = [frame.json() for frame in browser.frames("sent") if (frame.json() or {}).get("t") == "join"]
    assert [join["sessionId"] for join in joins] == [first, second] and {join["agentToken"] for join in joins} == {token}, \
        f"the console's joins were {joins}, not sessions {first} then {second} with the one token"
    assert _kept_sign_in(browser) == {"token": token, "sessionId": second}
    other.wait_bar_status(BAR_WATCHED)


# In the customer's page: when the start failure notice's host was added and removed (page
# time, ms), so its time on the page is measured where it happens, not by polling.
WATCH_FAILURE_NOTICES = """
window.__failureNotices = [];
new MutationObserver((records) => {
  for (const record of records) {
    for (const node of record.addedNodes)
      if (node.id === 'cobrowse-start-failed') window.__failureNotices.push(['added', performance.now()]);
    for (const node of record.removedNodes)
      if (node.id === 'cobrowse-start-failed') window.__failureNotices.push(['removed', performance.now()]);
  }
}).observe(document.body, { childList: true });
"""


def _failure_notice(customer):
    """The start failure notice (#cobrowse-start-failed): {text, role, failure, label}, or None."""
    return customer.js("""
        const host = document.getElementById('cobrowse-start-failed');
        const notice = host && host.shadowRoot && host.shadowRoot.querySelector('.notice');
        return notice ? { text: notice.querySelector('.text').textContent, role: notice.getAttribute('role'),
                          failure: notice.dataset.cobrowseFailure || null,
                          label: notice.querySelector('button.close').getAttribute('aria-label') } : null;""")


def _start_fails(customer, token, code, keep_baseline=False, **options):
    """CoBrowse.start with `token` rejects with `code` (an Error, as before), and the notice says
    the sentence for it, as an alert; no bar, no session, no end notice. The page as it is now
    is what it must be again once the notice is gone (`keep_baseline`: as it was before an
    earlier failure, whose notice is still shown). Returns the error."""
    if not keep_baseline:
        customer.baseline = customer.page_state()
    customer.record_events()
    error = customer.js_async("""
        const done = arguments[arguments.length - 1];
        CoBrowse.start(Object.assign({ interactionToken: arguments[0] }, arguments[1])).then(
          ({ sessionId }) => done({ resolved: sessionId }),
          (error) => done({ error: error instanceof Error, code: error.code, message: error.message }));""", token, options)
    assert error.get("error") is True and error.get("code") == code and error.get("message"), \
        f"CoBrowse.start({options}) settled with {error}, not an Error with code {code!r}"
    sentence = FAILURE_SENTENCES[code]
    notice = wait_for(f"the customer's page says {sentence!r}", lambda: _failure_notice(customer),
                      check=lambda value: bool(value) and value["text"] == sentence)
    assert notice == {"text": sentence, "role": "alert", "failure": code, "label": "Close"}, f"the failure notice is {notice}"
    assert customer.js("return CoBrowse.sessionId") is None and customer.bar_session_id() is None, "a failed start shows a session"
    assert customer.end_notice() is None, "a failed start shows the end notice"
    assert customer.events("ended") == [], f"a failed start sent ended events: {customer.events('ended')}"
    return error


def _notice_times(customer):
    return customer.js("return window.__failureNotices")


@test
def a_start_that_fails_tells_the_customer_why(t):
    customer = t.customer()
    customer.open(t.relay_a)
    customer.js(WATCH_FAILURE_NOTICES)

    # An expired interaction token: the notice stays (failureNoticeSeconds 60) until closed.
    expired = _signed_token({"interaction_id": f"ix-{uuid.uuid4().hex[:12]}", "channel": "chat", "exp": int(time.time()) - 60})
    _start_fails(customer, expired, "expired-token", failureNoticeSeconds=60)
    host = customer.browser.driver.find_element(By.ID, "cobrowse-start-failed")
    host.shadow_root.find_element(By.CSS_SELECTOR, "button.close").click()
    assert _failure_notice(customer) is None, "the failure notice stays after its close button was clicked"
    customer.assert_as_before("after the expired token's notice was closed")

    # An interaction that ended: a new start in it is refused; the notice goes by itself.
    interaction = f"ix-{uuid.uuid4().hex[:12]}"
    customer.start_session_with(interaction=interaction, endNoticeSeconds=END_NOTICE_SECONDS)
    t.stack.publish_interaction("ended", interaction, "chat")
    _customer_sees_the_end(customer, "interaction-ended", WATCH)
    status, body = t.relay_a.get("/dev/interaction-token?" + urllib.parse.urlencode({"interaction": interaction}))
    assert status == 200, f"/dev/interaction-token answered {status}"
    seconds = 2
    _start_fails(customer, json.loads(body)["token"], "interaction-ended", failureNoticeSeconds=seconds)
    wait_for(f"the failure notice goes away by itself after {seconds} s", lambda: _failure_notice(customer),
             check=lambda value: value is None, within=seconds + 10)
    times = _notice_times(customer)
    assert [kind for kind, _ in times] == ["added", "removed"] * 2, f"the failure notice came and went {times}"
    shown = (times[3][1] - times[2][1]) / 1000
    assert shown >= seconds - 0.05, f"the failure notice went away after {shown:.2f} s, not {seconds} s"
    customer.assert_as_before("after the ended interaction's notice went")

    # A relay that cannot be reached: its sockets cut (the page and the SDK came through a
    # proxy that still passes HTTP), then the proxy gone altogether.
    proxy = t.cut_proxy(t.relay_a)
    cut = t.customer()
    cut.open(proxy)
    cut.js(WATCH_FAILURE_NOTICES)
    tokens = cut.js_async("""
        const done = arguments[arguments.length - 1];
        Promise.all([1, 2].map(() => fetch('/dev/interaction-token', { cache: 'no-store' }).then((r) => r.json())))
          .then((bodies) => done(bodies.map((body) => body.token)), (error) => done(String(error)));""")
    assert isinstance(tokens, list), f"no interaction tokens through the proxy: {tokens}"
    proxy.cut_sockets()
    _start_fails(cut, tokens[0], "unavailable", failureNoticeSeconds=60)
    proxy.close()
    _start_fails(cut, tokens[1], "unavailable", keep_baseline=True, failureNoticeSeconds=60)
    # The second start took the first notice away at once, and showed its own.
    assert [kind for kind, _ in _notice_times(cut)] == ["added", "removed", "added"], \
        f"the failure notices came and went {_notice_times(cut)}"
    host = cut.browser.driver.find_element(By.ID, "cobrowse-start-failed")
    host.shadow_root.find_element(By.CSS_SELECTOR, "button.close").click()
    cut.assert_as_before("after the unreachable relay's notice was closed")


# ---------------------------------------------------------------------------------------
# Loading the SDK (docs/sdk.md): the snippet whose stub queues the calls made before
# cobrowse.js has loaded, and what a site's Content-Security-Policy must allow.
# ---------------------------------------------------------------------------------------

# Run in the customer's page before its own scripts (CDP): holds back every script element the
# page adds for /v1/cobrowse.js until `__releaseSDK()`, as a slow network would.
HOLD_SDK = """
(() => {
  const append = Node.prototype.appendChild;
  const held = window.__sdkHeld = [];
  Node.prototype.appendChild = function (node) {
    if (node instanceof HTMLScriptElement && /\\/cobrowse\\.js$/.test(node.src)) { held.push([this, node]); return node; }
    return append.call(this, node);
  };
  window.__releaseSDK = () => {
    Node.prototype.appendChild = append;
    for (const [parent, node] of held.splice(0)) append.call(parent, node);
  };
})();
"""


def _interaction_token(relay):
    status, body = relay.get("/dev/interaction-token")
    assert status == 200, f"{relay.name} /dev/interaction-token answered {status}: {body[:200]}"
    return json.loads(body)["token"]


def _page_events(customer):
    """What the page's own subscriptions (made on the stub, in snippet.html) logged: event names."""
    return customer.js("return Array.from(document.querySelectorAll('#cobrowse-events li'), (li) => li.dataset.event)")


@test
def calls_made_before_the_sdk_loads_are_queued_and_replayed(t):
    # The demo's snippet is the one docs/sdk.md documents (but for the relay's address).
    status, page = t.relay_a.get("/demo/snippet.html")
    assert status == 200, f"/demo/snippet.html answered {status}"
    scripts = [script for script in re.findall(r"<script>\n(.*?)</script>", page, re.S) if "stub: true" in script]
    documented = csp_site.documented_snippet().replace(csp_site.DOCUMENTED_SRC, "'/v1/cobrowse.js'")
    assert len(scripts) == 1 and csp_site.snippet_lines(scripts[0]) == csp_site.snippet_lines(documented), \
        "the snippet in /demo/snippet.html is not the one in docs/sdk.md (\"Loading it without blocking the page\")"
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = [script for script in re.findall(r"<script>\n(.*?)</script>", handle.read(), re.S) if "stub: true" in script]
    assert len(readme) == 1 and csp_site.snippet_lines(readme[0]) == csp_site.snippet_lines(csp_site.documented_snippet()), \
        "the snippet in README.md (\"Quick start for integrators\") is not the one in docs/sdk.md"

    customer = t.customer()
    customer.browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_SDK})
    customer.open(t.relay_a, "/demo/snippet.html")
    held = customer.js("return window.__sdkHeld.map(([, script]) => script.src)")
    assert held == [f"{t.relay_a.base_url}/v1/cobrowse.js"], f"the snippet added {held}, not one script for /v1/cobrowse.js"
    # Calls on the stub while the SDK is held back: a start without a token, an end with nothing
    # to end, subscriptions (one unsubscribed at once), and the start.
    customer.js("""
        const stub = window.CoBrowse;
        const calls = window.__stubCalls = { events: [], stubbed: stub.stub === true && stub.sessionId === null, queuedBefore: stub.q.length };
        stub.start({}).then(() => { calls.tokenless = 'resolved'; }, (error) => { calls.tokenless = error.message; });
        stub.end();
        stub.on('started', ({ sessionId }) => calls.events.push('started ' + sessionId));
        const off = stub.on('started', () => calls.events.push('unsubscribed handler'));
        off();
        stub.on('agentJoined', ({ agentId }) => calls.events.push('agentJoined ' + agentId));
        stub.on('ended', ({ reason, by }) => calls.events.push('ended ' + reason + ' ' + by));
        const started = stub.start({ interactionToken: arguments[0], endNoticeSeconds: 2 });
        calls.promise = started instanceof Promise;
        calls.queuedHere = stub.q.length - calls.queuedBefore;
        started.then(({ sessionId }) => { calls.sessionId = sessionId; }, (error) => { calls.error = error.message; });
        window.__stub = stub;""", _interaction_token(t.relay_a))
    before = customer.js("return { stub: CoBrowse.stub === true, calls: __stubCalls }")
    assert before["stub"] and before["calls"]["stubbed"] and before["calls"]["promise"], f"no stub before the SDK loaded: {before}"
    # The 7 calls here (an unsubscribe queues nothing), after the page's own 7 subscriptions and demo.js's.
    assert before["calls"]["queuedHere"] == 7 and before["calls"]["queuedBefore"] >= 7, \
        f"the stub queued {before['calls']['queuedHere']} of the 7 calls here, after {before['calls']['queuedBefore']} of the page's"
    assert not customer.browser.open_sockets("/ws/share"), "a socket opened before the SDK loaded"

    customer.js("window.__releaseSDK()")
    outcome = wait_for("the queued start resolves (or rejects) once the SDK has loaded",
                       lambda: customer.js("return __stubCalls.sessionId || (__stubCalls.error && 'error: ' + __stubCalls.error) || null"),
                       check=lambda value: value is not None)
    assert re.fullmatch(r"\d{9}", outcome), f"the queued CoBrowse.start gave {outcome!r}"
    session_id = outcome
    assert customer.wait_bar_session_id() == session_id, "the bar shows another session than the queued start resolved"
    calls = wait_for("the queued subscription to 'started' fired", lambda: customer.js("return __stubCalls"),
                     check=lambda calls: calls["events"])
    assert calls["events"] == [f"started {session_id}"], \
        f"the stub's subscriptions got {calls['events']} (the unsubscribed handler must not run, the queued end must not end the session)"
    assert calls.get("tokenless") == "CoBrowse.start needs { interactionToken }", f"the queued start without a token gave {calls.get('tokenless')!r}"
    real = customer.js("""
        const d = Object.getOwnPropertyDescriptor(window, 'CoBrowse');
        return { writable: d.writable, configurable: d.configurable, frozen: Object.isFrozen(CoBrowse), stub: 'stub' in CoBrowse,
                 sessionId: CoBrowse.sessionId, mode: CoBrowse.mode, kept: [__stub.sessionId, __stub.mode, __stub.start === CoBrowse.start] };""")
    assert real == {"writable": False, "configurable": False, "frozen": True, "stub": False, "sessionId": session_id, "mode": "pointer",
                    "kept": [session_id, "pointer", True]}, f"after loading, window.CoBrowse is not the SDK's frozen API (or the stub does not lead to it): {real}"
    wait_for("the page's own subscriptions, made on the stub while it parsed, logged 'started'", lambda: _page_events(customer),
             check=lambda events: "started" in events)
    wait_for("demo.js (which kept the stub) hid its Start button on 'started'",
             lambda: customer.js("return document.getElementById('start-cobrowse').hidden"))

    agent = t.agent()
    agent.join(t.relay_b, session_id)
    agent.wait_same_text(customer)
    wait_for("the stub's subscription to 'agentJoined' fired", lambda: customer.js("return __stubCalls.events"),
             check=lambda events: f"agentJoined {agent.name}" in events)
    # The end, through the stub the page kept.
    customer.js("__stub.end()")
    wait_for("the stub's subscription to 'ended' fired", lambda: customer.js("return __stubCalls.events"),
             check=lambda events: "ended customer-exited customer" in events)
    _console_says_ended(agent, "customer-exited", by="customer")
    assert _page_events(customer) == ["started", "agentJoined", "ended"], f"the page's log says {_page_events(customer)}"
    # demo.js starts the next session through the stub it kept.
    wait_for("demo.js shows its Start button again", lambda: customer.js("return !document.getElementById('start-cobrowse').hidden"))
    second = customer.start_session()
    assert second != session_id, "the demo's button resumed the ended session"
    # The next page of the site: a start queued there finds the session the page resumes.
    customer.open(t.relay_a, "/demo/snippet.html")
    customer.js("""
        window.__next = null;
        CoBrowse.start({ interactionToken: arguments[0] }).then(({ sessionId }) => { window.__next = sessionId; },
                                                                (error) => { window.__next = 'error: ' + error.message; });""",
                _interaction_token(t.relay_a))
    customer.js("window.__releaseSDK()")
    resumed = wait_for("the start queued on the next page settles", lambda: customer.js("return window.__next"),
                       check=lambda value: value is not None)
    assert resumed == second, f"a start queued on the next page gave {resumed!r}, not the running session {second}"
    assert customer.wait_bar_session_id() == second


def _csp_site(t):
    """The site of another origin with a policy per page (csp_site.Site), a relay that allows
    it (ALLOWED_ORIGINS), and a cut proxy in front of that relay, which is the relay as the site
    knows it. The caller closes the site and stops the relay."""
    site = csp_site.Site()
    relay = t.stack.start_relay("dom-relay-csp", env={"ALLOWED_ORIGINS": site.origin}, wait=True)
    proxy = t.cut_proxy(relay)
    site.relay_origin = proxy.base_url
    return site, relay, proxy


def _open_csp_page(customer, site, name):
    customer.browser.get(site.url(name))
    assert customer.js("return document.getElementById('policy-name').textContent") == name


def _start_on_csp_page(customer, relay, settle=True, **options):
    """CoBrowse.start on the site's page (through the stub while the SDK loads): the session ID,
    or {code, message} of the rejection (or, unless `settle`, nothing: window.__startResult
    says it once it settles)."""
    customer.js("""
        window.__startResult = null;
        CoBrowse.start(Object.assign({ interactionToken: arguments[0] }, arguments[1])).then(
          ({ sessionId }) => { window.__startResult = sessionId; },
          (error) => { window.__startResult = { code: error.code || null, message: error.message }; });""",
                _interaction_token(relay), options)
    if not settle:
        return None
    return wait_for("CoBrowse.start settles (resolves or rejects)", lambda: customer.js("return window.__startResult"),
                    check=lambda result: result is not None)


def _violations(customer):
    return customer.js("return cspViolations")


@test
def a_site_with_a_strict_csp_shares_its_page_with_an_agent(t):
    # docs/sdk.md "Content-Security-Policy": a page on another origin whose policy is
    # `default-src 'none'` and exactly what the SDK needs (csp_site.POLICIES["strict"]).
    site, relay, proxy = _csp_site(t)
    try:
        customer = t.customer()
        _open_csp_page(customer, site, "strict")
        wait_for("the SDK replaced the snippet's stub", lambda: customer.js("return window.CoBrowse.stub !== true"))
        customer.baseline = customer.page_state()
        session_id = _start_on_csp_page(customer, relay, endNoticeSeconds=30)
        assert re.fullmatch(r"\d{9}", str(session_id)), f"CoBrowse.start under the strict policy gave {session_id!r}"
        customer.record_events()
        assert customer.wait_bar_session_id() == session_id
        agent = t.agent()
        agent.join(t.relay_b, session_id)
        agent.wait_same_text(customer)

        # Styled: the bar's <style> (style-src 'unsafe-inline'), the customer's mark (a
        # constructed sheet), and the page's rules were fetched (connect-src).
        bar = customer.js("""
            const host = document.getElementById('cobrowse-bar');
            return { position: getComputedStyle(host).position,
                     background: getComputedStyle(host.shadowRoot.querySelector('.bar')).backgroundColor };""")
        assert bar == {"position": "fixed", "background": "rgb(29, 36, 51)"}, f"the bar is not styled: {bar}"
        wait_for("the customer's mark outlines the password field", lambda: customer.js(
            "return getComputedStyle(document.getElementById('password')).outlineStyle"), check=lambda style: style == "dashed")
        warnings = [line for line in customer.browser.console() if "no masking rules" in line]
        assert not warnings, f"the SDK could not fetch the page's rules: {warnings}"

        # The agent's pointer and an annotation, drawn with their own <style>s.
        agent.wait_in_view("#heading")
        point = agent.point("#heading")
        agent.mouse(point["x"] - 5, point["y"])
        agent.mouse(point["x"], point["y"])
        wait_for("the customer's page shows the agent's pointer, styled", lambda: customer.js("""
            const host = document.getElementById('cobrowse-agent-pointer');
            const label = host && host.shadowRoot.querySelector('.label');
            return label && !host.shadowRoot.querySelector('.pointer').hidden ? getComputedStyle(label).backgroundColor : null;"""),
                 check=lambda colour: colour == "rgb(31, 95, 209)")
        agent.click_in_view("#heading")
        wait_for("the customer's page shows the agent's annotation, styled", lambda: customer.js("""
            const host = document.getElementById('cobrowse-agent-annotations');
            const circle = host && host.shadowRoot.querySelector('.cobrowse-annotation');
            return circle ? getComputedStyle(circle).borderTopStyle : null;"""), check=lambda style: style == "solid")

        # Exit while the SDK reconnects: the end goes over HTTP, a beacon to /cobrowse/end.
        proxy.cut_sockets()
        agent.wait_state("paused")
        customer.wait_bar_status("Reconnecting…")
        customer.click_bar("button.exit")
        notice = wait_for("the end notice shows, styled", lambda: customer.js("""
            const host = document.getElementById('cobrowse-ended');
            return host ? getComputedStyle(host).position : null;"""), check=lambda position: position is not None)
        assert notice == "fixed", f"the end notice is not styled (position {notice!r})"
        _customer_sees_the_end(customer, "customer-exited", "customer", notice_seconds=30, close=True)
        _console_says_ended(agent, "customer-exited", by="customer")
        proxy.restore()

        violations = _violations(customer)
        assert violations == [], f"the strict policy reported violations: {violations}"
    finally:
        site.close()
        t.stack.stop_service(relay)


@test
def what_a_sites_csp_must_allow_for_the_sdk(t):
    # Each thing docs/sdk.md says a policy must allow, left out in turn (csp_site.POLICIES).
    site, relay, proxy = _csp_site(t)
    ws_origin = "ws" + proxy.base_url[len("http"):]
    try:
        customer = t.customer()

        def blocked(directive, prefix):
            return [v for v in _violations(customer) if v["directive"] == directive and (v["blocked"] or "").startswith(prefix)]

        # No connect-src: the socket (and the rules' fetch) is refused; start says unavailable.
        _open_csp_page(customer, site, "no-connect-src")
        try:
            result = _start_on_csp_page(customer, relay, failureNoticeSeconds=0)
        except browsers.WaitTimeout as error:
            raise AssertionError(f"{error}. Chromium fires only `error`, no `close`, on a WebSocket that connect-src refuses "
                                 "(readyState CLOSED at once): the SDK must settle start on that `error` too") from None
        assert result == {"code": "unavailable", "message": "could not reach the co-browse service"}, \
            f"CoBrowse.start without connect-src gave {result!r}"
        assert blocked("connect-src", ws_origin + "/ws/share"), f"no connect-src violation for the socket: {_violations(customer)}"
        assert blocked("connect-src", proxy.base_url + "/cobrowse/rules"), f"no connect-src violation for the rules: {_violations(customer)}"

        # The https: (here http:) origin alone does not cover the wss: (ws:) one.
        _open_csp_page(customer, site, "no-wss")
        result = _start_on_csp_page(customer, relay, failureNoticeSeconds=0)
        assert result == {"code": "unavailable", "message": "could not reach the co-browse service"}, \
            f"CoBrowse.start with connect-src {proxy.base_url} only gave {result!r}"
        assert blocked("connect-src", ws_origin), f"no connect-src violation for the socket: {_violations(customer)}"
        assert not blocked("connect-src", proxy.base_url), f"the rules' fetch was refused: {_violations(customer)}"

        # The relay not in script-src: cobrowse.js is refused, and the stub rejects the start.
        _open_csp_page(customer, site, "no-script-src")
        result = _start_on_csp_page(customer, relay)
        assert result == {"code": "unavailable", "message": "could not load the co-browse SDK"}, \
            f"CoBrowse.start without the relay in script-src gave {result!r}"
        assert blocked("script-src-elem", proxy.base_url + "/v1/cobrowse.js"), f"no script-src violation: {_violations(customer)}"
        assert customer.js("return CoBrowse.stub") is True, "the stub was replaced though cobrowse.js was refused"

        # No style-src 'unsafe-inline': sharing works, unstyled but for the customer's mark.
        _open_csp_page(customer, site, "no-inline-style")
        session_id = _start_on_csp_page(customer, relay, endNoticeSeconds=0)
        assert re.fullmatch(r"\d{9}", str(session_id)), f"CoBrowse.start without style-src gave {session_id!r}"
        agent = t.agent()
        agent.join(t.relay_b, session_id)
        agent.wait_same_text(customer)
        assert customer.js("return getComputedStyle(document.getElementById('cobrowse-bar')).position") != "fixed", \
            "the bar is styled though its <style> should have been refused"
        wait_for("the customer's mark (a constructed sheet) outlines the password field all the same", lambda: customer.js(
            "return getComputedStyle(document.getElementById('password')).outlineStyle"), check=lambda style: style == "dashed")
        assert blocked("style-src-elem", "inline"), f"no style-src violation for the bar's <style>: {_violations(customer)}"
        # What the SDK sets through element.style is not style-src's: the pointer's host stays fixed.
        agent.wait_in_view("#heading")
        point = agent.point("#heading")
        agent.mouse(point["x"] - 5, point["y"])
        agent.mouse(point["x"], point["y"])
        wait_for("the agent's pointer's host is placed through element.style all the same", lambda: customer.js("""
            const host = document.getElementById('cobrowse-agent-pointer');
            return host ? getComputedStyle(host).position : null;"""), check=lambda position: position == "fixed")
        customer.js("CoBrowse.end()")
        wait_for("the session ends", lambda: customer.js("return [CoBrowse.sessionId, sessionStorage.getItem('cobrowse.session')]"),
                 check=lambda state: state == [None, None])
        _console_says_ended(agent, "customer-exited", by="customer")

        # A nonce with 'strict-dynamic', and no relay in script-src: trusted through the snippet.
        _open_csp_page(customer, site, "strict-dynamic")
        session_id = _start_on_csp_page(customer, relay, endNoticeSeconds=0)
        assert re.fullmatch(r"\d{9}", str(session_id)), f"CoBrowse.start under 'strict-dynamic' gave {session_id!r}"
        customer.wait_bar_session_id()
        assert _violations(customer) == [], f"'strict-dynamic' reported violations: {_violations(customer)}"
        customer.js("CoBrowse.end()")
        wait_for("the session ends", lambda: customer.js("return [CoBrowse.sessionId, sessionStorage.getItem('cobrowse.session')]"),
                 check=lambda state: state == [None, None])

        # Trusted Types are not supported: the snippet sets a script's src, and the SDK its shadow
        # roots' innerHTML, from strings.
        _open_csp_page(customer, site, "trusted-types")
        _start_on_csp_page(customer, relay, settle=False, failureNoticeSeconds=0)
        wait_for("Trusted Types refuse the snippet's script URL", lambda: [
            v for v in _violations(customer) if v["directive"] == "require-trusted-types-for" and "src" in (v["sample"] or "")],
                 check=bool)
        assert customer.js("return CoBrowse.stub") is True, "the SDK loaded though Trusted Types refused its URL"
        # Given the script by a Trusted Types policy of the site's, the SDK's innerHTML is refused.
        customer.js("""
            const policy = trustedTypes.createPolicy('site-policy', { createScriptURL: (url) => url });
            const script = document.createElement('script');
            script.src = policy.createScriptURL(arguments[0]);
            document.head.appendChild(script);""", f"{proxy.base_url}/v1/cobrowse.js")
        result = wait_for("the queued CoBrowse.start fails under Trusted Types", lambda: customer.js("return window.__startResult"),
                          check=lambda result: result is not None)
        assert isinstance(result, dict) and "TrustedHTML" in result["message"], \
            f"CoBrowse.start under require-trusted-types-for 'script' gave {result!r}"

        # The rules editor frames the page only when frame-ancestors lists the relay.
        editor = t.browser("administrator")
        editor.get(f"{proxy.base_url}/editor/")
        wait_for("the editor is ready", lambda: editor.js("return document.body.dataset.state"), check=lambda state: state == "ready")

        def open_in_editor(name):
            editor.js("""
                document.getElementById('notice').textContent = '';
                document.getElementById('page-url').value = arguments[0];
                document.getElementById('page-form').requestSubmit();""", site.url(name))
        open_in_editor("strict")
        wait_for("the editor previews the page framed under frame-ancestors <relay>", lambda: editor.js(
            f"const doc = {PREVIEW}; const h = doc && doc.querySelector('#heading'); return h ? h.textContent : null;"),
                 check=lambda text: text == "Your account")
        open_in_editor("no-frame-ancestors")
        wait_for("the editor says the page did not answer under frame-ancestors 'none'",
                 lambda: editor.js("return document.getElementById('notice').textContent"),
                 check=lambda text: "did not answer" in (text or ""))
    finally:
        site.close()
        t.stack.stop_service(relay)


# ---------------------------------------------------------------------------------------
# Languages (issue 15): the SDK's and the console's message catalogues, English and Japanese
# (languages.py reads them from the files the relay serves). The SDK speaks its `language`
# option, else the page's <html lang>, else English; the console its agent's browser's language.
# ---------------------------------------------------------------------------------------

JAPANESE_PAGE = "/demo/japanese.html"


@test
def the_english_and_japanese_catalogues_have_the_same_keys_and_placeholders(t):
    customer = t.customer()
    customer.open(t.relay_a)
    for side in ("sdk", "agent"):
        found = languages.catalogues(customer.browser, side)
        assert set(found) == {"en", "ja"}, f"the {side} catalogues are {sorted(found)}, not en and ja"
        problems = languages.catalogue_differences(found["en"], found["ja"])
        assert not problems, f"the {side}'s Japanese catalogue departs from the English one: {problems}"
        # Every key the sources name is in the catalogues (a typo would show the key itself).
        unknown = {key: source for key, source in languages.keys_in_sources(side, found["en"]).items() if key not in found["en"]}
        assert not unknown, f"the {side}'s sources name keys no catalogue has: {unknown}"
    # The presence sentences the bar is to use are there, in both languages, with their placeholders.
    sdk = languages.catalogues(customer.browser, "sdk")
    for language in ("en", "ja"):
        assert languages.placeholders(sdk[language]["status.viewingNamed"]) == ["name"], sdk[language]["status.viewingNamed"]
        assert languages.placeholders(sdk[language]["status.viewingCount"]) == ["count"], sdk[language]["status.viewingCount"]
    # The lookup: placeholders filled, plural forms by count, a key a language lacks from English.
    looked_up = customer.browser.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/sdk/i18n/translate.js').then(({ translator, matchLanguage }) => {
          const catalogues = { en: { a: 'Hello {name}', n: { one: '{count} person', other: '{count} people' } }, ja: { a: 'こんにちは {name}' } };
          const ja = translator(catalogues, 'ja'), en = translator(catalogues, 'en');
          done([ja('a', { name: 'Ana' }), ja('n', { count: 3 }), en('n', { count: 1 }), en('n', { count: 2 }), ja.language,
                translator(catalogues, 'fr').language, matchLanguage(['ja-JP'], ['en', 'ja']), matchLanguage(['fr-CA', 'EN_gb'], ['en', 'ja']),
                matchLanguage(['fr'], ['en', 'ja'])]);
        }, (error) => done('error: ' + error.message));""")
    assert looked_up == ["こんにちは Ana", "3 people", "1 person", "2 people", "ja", "en", "ja", "en", None], \
        f"the lookup answers {looked_up}"


@test
def the_sdk_speaks_japanese_on_the_japanese_page(t):
    customer = t.customer()
    customer.open(t.relay_a, JAPANESE_PAGE)
    wait_for("the customer is on the Shift_JIS page", lambda: customer.js("return document.characterSet"),
             check=lambda value: value == "Shift_JIS")
    ja = languages.catalogues(customer.browser, "sdk")["ja"]
    session_id = customer.start_session()
    languages.wait_bar(customer, "waits for an agent, in Japanese", status=ja["status.waiting"])
    languages.assert_bar_speaks(customer, ja, "ja", session_id)

    agent = t.agent()
    agent.join(t.relay_b, session_id)
    languages.wait_bar(customer, "says an agent is viewing, in Japanese", status=ja["status.viewing"])

    # The agent asks for control: the consent prompt is Japanese; allowed, the status says so.
    agent.click("request-control")
    wait_for("the bar asks for consent", lambda: customer.bar_shows("button.allow-control"))
    languages.assert_bar_speaks(customer, ja, "ja", session_id)
    customer.click_bar("button.allow-control")
    agent.wait_mode("write")
    languages.wait_bar(customer, "says the agent has control, in Japanese", status=ja["status.control"])
    assert customer.bar_shows("button.revoke-control"), "no Stop control in write mode"

    # Exit (its Japanese word): the end notice is Japanese too.
    customer.click_bar("button.exit")
    notice = wait_for("the end notice shows", lambda: languages.end_notice_texts(customer),
                      check=lambda texts: bool(texts) and bool(texts["text"]))
    assert notice == {"lang": "ja", "text": ja["ended.customer-exited"], "close": ja["notice.close"]}, \
        f"the end notice is not Japanese: {notice}"


@test
def the_sdks_language_option_wins_over_the_pages(t):
    # 'ja' on the English shop: Japanese, kept on the session's next page (an English one too).
    customer = t.customer()
    customer.open(t.relay_a)
    found = languages.catalogues(customer.browser, "sdk")
    ja, en = found["ja"], found["en"]
    assert customer.js("return document.documentElement.lang") == "en", "the shop is not an English page"
    session_id = customer.start_session_with(language="ja", endNoticeSeconds=30)
    languages.wait_bar(customer, "waits for an agent, in Japanese", status=ja["status.waiting"])
    languages.assert_bar_speaks(customer, ja, "ja", session_id)
    customer.browser.driver.find_element(By.ID, "to-second").click()
    wait_for("the customer is on second.html", lambda: customer.js("return location.pathname"),
             check=lambda path: path.endswith("/second.html"))
    assert customer.wait_bar_session_id() == session_id, "the session did not carry on to second.html"
    languages.wait_bar(customer, "still speaks Japanese on the next page", status=ja["status.waiting"], lang="ja")
    customer.js("CoBrowse.end()")
    notice = wait_for("the end notice shows", lambda: languages.end_notice_texts(customer),
                      check=lambda texts: bool(texts) and bool(texts["text"]))
    assert notice == {"lang": "ja", "text": ja["ended.customer-exited"], "close": ja["notice.close"]}, notice

    # 'en' on the Japanese page: English, whatever the page's lang.
    other = t.customer()
    other.open(t.relay_a, JAPANESE_PAGE)
    assert other.js("return document.documentElement.lang") == "ja", "the Japanese page has no lang=ja"
    session_id = other.start_session_with(language="en", endNoticeSeconds=30)
    languages.wait_bar(other, "waits for an agent, in English", status=en["status.waiting"])
    languages.assert_bar_speaks(other, en, "en", session_id)
    other.js("CoBrowse.end()")
    wait_for("the end notice is English", lambda: languages.end_notice_texts(other),
             check=lambda texts: texts == {"lang": "en", "text": en["ended.customer-exited"], "close": en["notice.close"]})

    # A region tag ('ja-JP') picks Japanese on the English page: the start failure notice and
    # the code prompt (CoBrowse.startWithCode) speak it.
    third = t.customer()
    third.open(t.relay_a)
    failed = third.js_async("""
        const done = arguments[arguments.length - 1];
        CoBrowse.start({ interactionToken: 'not-a-token', language: 'ja-JP', failureNoticeSeconds: 30 })
          .then(() => done('started'), (error) => done(error.code));""")
    assert failed == "invalid-token", f"a start with a bad token ended {failed!r}"
    notice = wait_for("the start failure notice shows", lambda: languages.failure_notice_texts(third),
                      check=lambda texts: bool(texts) and bool(texts["text"]))
    assert notice == {"lang": "ja", "text": ja["failed.invalid-token"], "close": ja["notice.close"], "failure": "invalid-token"}, notice
    third.js("window.__prompt = CoBrowse.startWithCode(undefined, { language: 'ja' }).catch((error) => error.code);")
    prompt = wait_for("the code prompt opens", lambda: languages.code_prompt_texts(third), check=bool)
    expected = {"lang": "ja", "title": ja["codePrompt.title"], "hint": ja["codePrompt.hint"], "label": ja["codePrompt.label"],
                "cancel": ja["codePrompt.cancel"], "start": ja["codePrompt.start"], "error": ""}
    assert prompt == expected, f"the code prompt is not Japanese: {prompt}"
    third.js("const root = document.querySelector('cobrowse-code-prompt').shadowRoot;"
             "root.getElementById('code').value = '12'; root.querySelector('button.start').click();")
    wait_for("a short code is refused in Japanese", lambda: languages.code_prompt_texts(third),
             check=lambda texts: bool(texts) and texts["error"] == ja["codePrompt.malformed"])
    third.js("document.querySelector('cobrowse-code-prompt').shadowRoot.querySelector('button.cancel').click();")
    assert third.js_async("const done = arguments[arguments.length - 1]; window.__prompt.then(done);") == "cancelled"


@test
def the_console_speaks_its_agents_browsers_language(t):
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session()
    found = languages.catalogues(customer.browser, "agent")
    ja = found["ja"]
    en_sdk = languages.catalogues(customer.browser, "sdk")["en"]

    agent = Agent(languages.browser_in(t, "agent", "ja,en"), f"agent-{t.name}-{os.getpid()}")
    agent.browser.get(f"{t.relay_b.base_url}/agent/")
    preferred = agent.browser.js("return [navigator.language, Array.from(navigator.languages)]")
    assert preferred == ["ja", ["ja", "en"]], f"the agent's Chromium does not prefer Japanese: {preferred}"
    wait_for("the console is Japanese while signed out", lambda: languages.console_texts(agent),
             check=lambda texts: texts["lang"] == "ja" and texts["state"] == ja["state.signed-out"])
    texts = languages.console_texts(agent)
    expected = {
        "lang": "ja", "title": ja["page.title"], "signInTitle": ja["signIn.title"], "join": ja["signIn.join"],
        "sessionHint": ja["signIn.sessionHint"], "sessionPlaceholder": ja["signIn.sessionSample"],
        "state": ja["state.signed-out"], "back": ja["nav.back"], "backTitle": ja["nav.back"], "viewLabel": ja["view.label"],
        "voiceLegend": ja["voice.legend"], "getCode": ja["voice.getCode"],
    }
    wrong = {key: f"{texts.get(key)!r}, not {value!r}" for key, value in expected.items() if texts.get(key) != value}
    assert not wrong, f"the console does not speak Japanese: {wrong}"

    # A malformed session ID is refused in Japanese.
    agent.browser.driver.find_element(By.ID, "agent-token").send_keys(agent.token(t.relay_b))
    agent.browser.driver.find_element(By.ID, "session-id").send_keys("12")
    agent.click("join")
    wait_for("the form says in Japanese that a session ID has 9 digits", lambda: agent.header("sign-in-error"),
             check=lambda text: text == ja["signIn.badSessionId"])

    # It joins and works, in Japanese: state, mode, Request control and the customer's answer.
    agent.join(t.relay_b, session_id)
    agent.wait_same_text(customer)
    texts = languages.console_texts(agent)
    assert (texts["state"], texts["mode"], texts["requestControl"], texts["endSession"]) == \
        (ja["state.live"], ja["mode.pointer"], ja["header.requestControl"], ja["header.endSession"]), f"the live console: {texts}"
    agent.click("request-control")
    wait_for("Request control waits for the customer, in Japanese", lambda: agent.header("request-control"),
             check=lambda text: text == ja["header.waitingForCustomer"])
    wait_for("the customer's bar asks for consent", lambda: customer.bar_shows("button.deny-control"))
    # The customer's page is English: their bar stays English.
    assert languages.bar_texts(customer)["question"] == en_sdk["bar.consentQuestion"], languages.bar_texts(customer)
    customer.click_bar("button.deny-control")
    notice = agent.wait_action_notice("declined")
    assert notice["text"] == ja["control.declined"], f"the decline notice says {notice['text']!r}"
    agent.click("end-session")
    wait_for("the console says in Japanese that the agent ended the session", agent.notice,
             check=lambda notice: notice["shown"] and notice["reason"] == "agent-exited" and notice["text"] == ja["ended.byYou"])
    assert agent.header("session-state") == ja["state.ended"], agent.header("session-state")


# ---------------------------------------------------------------------------------------
# Accessibility (issue 15, part 6): WCAG 2.1 AA for the bar, the prompts, the notices and the
# agent console, checked by axe-core (accessibility.py) in every state, and keyboard-only use.
# ---------------------------------------------------------------------------------------

import accessibility  # noqa: E402  (this section's own helpers)
from selenium.webdriver.common.keys import Keys  # noqa: E402

# How many Tab presses from the page's first focus reach the bar's Exit: the bar's host is first
# in the page's tab order (sdk/tab-order.js), and Exit is its first button while the agent only
# points (Stop control shows in write mode only, before it).
TABS_TO_THE_BAR = 1

# Where the keyboard focus is, through open shadow roots and same-origin frames: a path such as
# "#cobrowse-bar > button.exit" or "#cobrowse-view > input#full-name".
DEEP_FOCUS = """
const describe = (element) => element.localName + (element.id ? '#' + element.id : '')
  + (typeof element.className === 'string' && element.className.trim() ? '.' + element.className.trim().split(/\\s+/).join('.') : '');
const path = [];
let element = document.activeElement;
while (element) {
  path.push(describe(element));
  if (element.shadowRoot && element.shadowRoot.activeElement) element = element.shadowRoot.activeElement;
  else if (element.localName === 'iframe' && element.contentDocument && element.contentDocument.activeElement
           && element.contentDocument.activeElement !== element.contentDocument.body) element = element.contentDocument.activeElement;
  else element = null;
}
return path.join(' > ');
"""


def _focus(browser):
    return browser.js(DEEP_FOCUS)


def _press(browser, *keys):
    """Presses keys as the user would, at whatever has the focus."""
    ActionChains(browser.driver).send_keys(*keys).perform()


def _tab_to(browser, wanted, most, backwards=False):
    """Presses Tab (Shift+Tab `backwards`) until the focus path has `wanted`; returns how many
    presses it took, and fails after `most` with the path of each stop."""
    stops = []
    for count in range(1, most + 1):
        if backwards:
            ActionChains(browser.driver).key_down(Keys.SHIFT).send_keys(Keys.TAB).key_up(Keys.SHIFT).perform()
        else:
            _press(browser, Keys.TAB)
        stops.append(_focus(browser))
        if wanted in stops[-1]:
            return count
    raise AssertionError(f"{'Shift+' if backwards else ''}Tab did not reach {wanted} in {most} presses; it stopped at: {stops}")


def _wait_focus(browser, wanted, what):
    return wait_for(what, lambda: _focus(browser), check=lambda path: wanted in (path or ""))


def _scan(browser, where, include=None, checked=()):
    """axe's WCAG 2.1 AA rules, 0 violations (accessibility.assert_no_violations)."""
    return accessibility.assert_no_violations(browser.driver, where, include, checked)


def _voice_code(t, agent):
    """A voice code for a new call, as the console would get it: (code, call interaction id)."""
    call = f"call-{uuid.uuid4().hex[:10]}"
    status, body = t.relay_b.get("/dev/interaction-token?" + urllib.parse.urlencode({"interaction": call, "channel": "voice"}))
    assert status == 200, f"/dev/interaction-token answered {status}"
    request = urllib.request.Request(f"{t.relay_b.base_url}/cobrowse/voice-codes", method="POST",
                                     headers={"Content-Type": "application/json"},
                                     data=json.dumps({"agentToken": agent.token(t.relay_b),
                                                      "interactionToken": json.loads(body)["token"]}).encode())
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.loads(response.read())["code"], call


@test
def the_sdks_bar_prompts_and_notices_pass_axe_wcag_21_aa(t):
    # Every state of the SDK's UI, scoped to its own hosts (the demo shop around them is not ours).
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session_with(endNoticeSeconds=120)
    browser = customer.browser
    waiting = customer.bar_status()
    wait_for("the bar explains the outlines (.mark-explanation)", lambda: customer.bar_shows(".mark-explanation"))
    bar = ["#cobrowse-bar"]
    _scan(browser, "on the bar waiting for an agent", bar, checked=[
        ("color-contrast", "exit"), ("color-contrast", "status"), ("color-contrast", "mark-text"),
        ("color-contrast", "session-id"), ("button-name", "exit")])

    agent = t.agent()
    agent.join(t.relay_b, session_id)
    wait_for("the bar says an agent is viewing", customer.bar_status, check=lambda text: text and text != waiting)
    _scan(browser, "on the bar while an agent views the page", bar, checked=[("color-contrast", "status")])

    agent.click("request-control")
    wait_for("the bar asks for consent", lambda: customer.bar_shows("button.allow-control"))
    _scan(browser, "on the bar asking for consent", bar, checked=[
        ("color-contrast", "allow-control"), ("color-contrast", "deny-control"), ("button-name", "allow-control")])

    customer.click_bar("button.allow-control")
    agent.wait_mode("write")
    wait_for("the bar offers Stop control", lambda: customer.bar_shows("button.revoke-control"))
    _scan(browser, "on the bar in write mode", bar, checked=[("color-contrast", "revoke-control"), ("color-contrast", "status")])

    customer.click_bar("button.exit")
    wait_for("the end notice says why", customer.end_notice, check=lambda notice: bool(notice and notice["text"]))
    _scan(browser, "on the end notice", ["#cobrowse-ended"], checked=[("color-contrast", "text"), ("button-name", "close")])

    # The code prompt, empty and with an error.
    customer.js("window.__prompted = CoBrowse.startWithCode(undefined, { failureNoticeSeconds: 120 }).catch((e) => e.code);")
    wait_for("the SDK's code prompt opens", lambda: _code_prompt(customer), check=lambda prompt: prompt is not None)
    prompt = ["cobrowse-code-prompt"]
    _scan(browser, "on the code prompt", prompt, checked=[
        ("label", "code"), ("color-contrast", "start"), ("color-contrast", "cancel"), ("color-contrast", "hint")])
    _type_code(customer, "12")
    wait_for("a short code is refused in the prompt", lambda: _code_prompt(customer),
             check=lambda found: bool(found) and found["refusal"] == "malformed" and bool(found["error"]))
    _scan(browser, "on the code prompt saying what is wrong", prompt, checked=[("color-contrast", "error")])
    _press(browser, Keys.ESCAPE)
    wait_for("Escape cancels the code prompt", lambda: customer.js("return window.__prompted"), check=lambda code: code == "cancelled")

    # A start that fails: its notice.
    customer.js("CoBrowse.start({ interactionToken: 'not-a-token', failureNoticeSeconds: 120 }).catch(() => {});")
    wait_for("the start failure notice says why", lambda: _failure_notice(customer), check=lambda notice: bool(notice and notice["text"]))
    _scan(browser, "on the start failure notice", ["#cobrowse-start-failed"], checked=[("color-contrast", "text"), ("button-name", "close")])


@test
def the_agent_console_passes_axe_wcag_21_aa_in_every_state(t):
    agent = t.agent()
    browser = agent.browser
    browser.get(f"{t.relay_b.base_url}/agent/")
    agent.wait_state("signed-out")
    wait_for("the console offers a demo call (dev mode)", lambda: agent.shown("voice-demo-call"))
    _scan(browser, "on the signed-out console", checked=[
        ("label", '"#agent-token"'), ("label", '"#session-id"'), ("color-contrast", '"#join"'), ("color-contrast", '"#voice-get-code"')])

    agent.click("join")
    wait_for("the form says what is missing", lambda: agent.shown("sign-in-error"))
    _scan(browser, "on the sign-in form with an error", checked=[("color-contrast", '"#sign-in-error"')])

    # The voice call panel with a code to read out.
    browser.js("document.getElementById('agent-token').value = arguments[0];", agent.token(t.relay_b))
    agent.click("voice-demo-call")
    wait_for("the console shows a code", lambda: agent.shown("voice-code"))
    _scan(browser, "on the voice call panel with a code", checked=[
        ("color-contrast", '"#voice-code"'), ("color-contrast", '"#voice-status"'), ("color-contrast", '"#voice-time"')])
    # The time left ticks outside the live region: the announced sentence stays as it was said.
    said = browser.js("return document.getElementById('voice-status').textContent")
    first = wait_for("the code's time left shows", lambda: browser.js("return document.getElementById('voice-time').textContent"))
    wait_for("the code's time left ticks", lambda: browser.js("return document.getElementById('voice-time').textContent"),
             check=lambda text: text and text != first)
    assert browser.js("return document.getElementById('voice-status').textContent") == said, \
        "the live #voice-status changed with the countdown: a screen reader would be told every second"
    assert browser.js("return document.getElementById('voice-time').closest('[aria-live],[role=status],[role=alert]')") is None

    # Joined, with the view.
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session_with()
    agent.join(t.relay_b, session_id)
    agent.wait_same_text(customer)
    _scan(browser, "on the console showing the customer's page", checked=[
        ("color-contrast", '"#request-control"'), ("color-contrast", '"#end-session"'),
        ("aria-allowed-attr", "view-stage"), ("color-contrast", '"#session-state"')])

    agent.click("request-control")
    wait_for("the bar asks for consent", lambda: customer.bar_shows("button.allow-control"))
    _scan(browser, "on the console waiting for the customer's answer")

    customer.click_bar("button.allow-control")
    agent.wait_mode("write")
    agent.wait_action_notice("approved")
    _scan(browser, "on the console in write mode, with a notice", checked=[
        ("color-contrast", '"#action-notice"'), ("label", '"#nav-url"'), ("button-name", '"#nav-back"')])

    customer.click_bar("button.exit")
    agent.wait_state("ended")
    wait_for("the console offers to join another session", lambda: agent.shown("join-another"))
    _scan(browser, "on the console after the end", checked=[("color-contrast", '"#notice"'), ("label", '"#next-session-id"')])


@test
def the_customer_reaches_the_bar_and_answers_consent_by_keyboard_alone(t):
    customer, agent, session_id = t.shared_session()
    browser = customer.browser
    # A fresh page of the session (it resumes), nothing focused yet: one Tab reaches Exit.
    browser.driver.refresh()
    customer.wait_bar_session_id()
    assert _focus(browser).startswith("body"), f"the page starts with the focus on {_focus(browser)!r}"
    presses = _tab_to(browser, "#cobrowse-bar > button.exit", TABS_TO_THE_BAR)
    assert presses <= TABS_TO_THE_BAR, presses

    # The customer types in the page when the agent asks: the question takes nothing from them.
    browser.js("document.getElementById('full-name').focus();")
    _press(browser, "Ad")
    agent.wait_same_text(customer)
    agent.click("request-control")
    wait_for("the bar asks for consent", lambda: customer.bar_shows("button.allow-control"))
    question = customer.js("return document.getElementById('cobrowse-bar').shadowRoot.querySelector('.consent [role=alert]').textContent")
    assert question, "the consent question (role=alert) says nothing"
    assert _focus(browser) == "input#full-name", f"the consent question took the focus to {_focus(browser)!r}"
    _press(browser, "a")
    assert customer.field("full-name") == "Ada", f"the customer's typing was interrupted: {customer.field('full-name')!r}"

    # Back to the bar (Shift+Tab) and Deny with Enter; the focus stays in the bar.
    _tab_to(browser, "button.deny-control", 60, backwards=True)
    _press(browser, Keys.ENTER)
    agent.wait_action_notice("declined")
    _wait_focus(browser, "#cobrowse-bar > div.bar", "the bar keeps the focus after Deny")

    # Asked again: Tab to Allow, Space.
    agent.click("request-control")
    wait_for("the bar asks again", lambda: customer.bar_shows("button.allow-control"))
    _tab_to(browser, "button.allow-control", 3)
    _press(browser, Keys.SPACE)
    agent.wait_mode("write")
    wait_for("the bar offers Stop control", lambda: customer.bar_shows("button.revoke-control"))
    _wait_focus(browser, "#cobrowse-bar > div.bar", "the bar keeps the focus after Allow")
    _tab_to(browser, "button.revoke-control", 1)
    _press(browser, Keys.ENTER)
    agent.wait_mode("pointer")
    _wait_focus(browser, "#cobrowse-bar > div.bar", "the bar keeps the focus after Stop control")

    # Exit, then the end notice's Close: each one Tab away.
    _tab_to(browser, "button.exit", 1)
    _press(browser, Keys.ENTER)
    wait_for("the session ends", lambda: customer.js("return CoBrowse.sessionId"), check=lambda value: value is None)
    wait_for("the end notice shows", customer.end_notice, check=bool)
    _tab_to(browser, "#cobrowse-ended > button.close", TABS_TO_THE_BAR)
    _press(browser, Keys.ENTER)
    wait_for("Close takes the end notice away", customer.end_notice, check=lambda notice: notice is None)


@test
def the_code_prompt_is_filled_and_submitted_by_keyboard_alone(t):
    agent = t.agent()
    code, _ = _voice_code(t, agent)
    customer = t.customer()
    customer.open(t.relay_a)
    browser = customer.browser
    customer.baseline = customer.page_state()
    # The demo's "on the phone" button, by keyboard; the prompt takes the focus into its field.
    _tab_to(browser, "button#start-with-code", 15)
    _press(browser, Keys.ENTER)
    _wait_focus(browser, "cobrowse-code-prompt > input#code", "the code prompt puts the focus in its field")
    # Tab stays inside the dialog: field, Cancel, Start, and round to the field.
    for expected in ("button.cancel", "button.start", "input#code"):
        _press(browser, Keys.TAB)
        assert expected in _focus(browser), f"Tab in the code prompt went to {_focus(browser)!r}, not {expected}"
    # A wrong code first: said in the prompt (role=alert), the focus stays in the field, selected.
    _press(browser, "000000" if code != "000000" else "000001", Keys.ENTER)
    wait_for("a wrong code is refused in the prompt", lambda: _code_prompt(customer),
             check=lambda prompt: bool(prompt) and prompt["refusal"] == "code-unknown")
    _wait_focus(browser, "input#code", "the focus stays in the code field after a refusal")
    _press(browser, code, Keys.ENTER)
    wait_for("the prompt closes and the session starts", lambda: customer.js(f"return {CODE_PROMPT} === null && CoBrowse.sessionId"), check=bool)
    customer.wait_bar_session_id()
    agent_focus = _focus(browser)
    assert "cobrowse-code-prompt" not in agent_focus, f"the focus is still in the closed prompt: {agent_focus!r}"


@test
def the_agent_joins_and_acts_on_the_customers_page_by_keyboard_alone(t):
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session_with()
    agent = t.agent()
    browser = agent.browser
    token = agent.token(t.relay_b)
    browser.get(f"{t.relay_b.base_url}/agent/")
    agent.wait_state("signed-out")
    # Sign in: Tab to the token, type, Tab to the session ID, type, Enter.
    _tab_to(browser, "input#agent-token", 5)
    _press(browser, token, Keys.TAB)
    assert "input#session-id" in _focus(browser), f"Tab from the token went to {_focus(browser)!r}"
    _press(browser, session_id, Keys.ENTER)
    agent.wait_state("live")
    agent.wait_same_text(customer)

    # Request control (the header, just before where the form was), the customer allows.
    _tab_to(browser, "button#request-control", 8, backwards=True)
    _press(browser, Keys.ENTER)
    wait_for("the bar asks for consent", lambda: customer.bar_shows("button.allow-control"))
    customer.click_bar("button.allow-control")
    agent.wait_mode("write")

    # The view's tab stop, named; Page Down scrolls the customer's page.
    _tab_to(browser, "div#view-stage", 15)
    name = browser.js("return document.getElementById('view-stage').getAttribute('aria-label')")
    assert name, "the view's tab stop has no accessible name"
    before = customer.js("return Math.round(scrollY)")
    _press(browser, Keys.PAGE_DOWN)
    wait_for("Page Down on the view scrolls the customer's page", lambda: customer.js("return Math.round(scrollY)"),
             check=lambda y: y > before + 100)

    # Tab goes on into the page: to the name field, typing reaches the customer's field.
    _tab_to(browser, "input#full-name", 40)
    _press(browser, "Ada")
    wait_for("what the agent typed reaches the customer's field", lambda: customer.field("full-name"), check=lambda value: value == "Ada")
    # Escape: back to the view's tab stop; Shift+Tab back to End session, Enter ends it.
    _press(browser, Keys.ESCAPE)
    _wait_focus(browser, "div#view-stage", "Escape in the view goes back to its tab stop")
    _tab_to(browser, "button#end-session", 15, backwards=True)
    _press(browser, Keys.ENTER)
    agent.wait_state("ended")
    wait_for("the customer's session ends", lambda: customer.js("return CoBrowse.sessionId"), check=lambda value: value is None)


# ---------------------------------------------------------------------------------------
# Mobile (issue 15, part 4): on a phone (390 and 320 CSS pixels wide, mobile emulation) the
# SDK's bar, notices and code prompt stay inside the customer's visual viewport, also pinch-
# zoomed and with an on-screen keyboard, and remain tappable; the SDK sends the visual
# viewport, and the agent's console shows what the customer sees, clicks landing where aimed.
# ---------------------------------------------------------------------------------------

PHONE = (390, 844)
SMALL_PHONE = (320, 640)
BAR_CONTROLS = (".session-id", ".status", "button.exit")
CONSENT_CONTROLS = ("button.allow-control", "button.deny-control")

# In the agent's page: how the view is fitted (the iframe's transform, the stage) and #view-zoom.
VIEW_GEOMETRY = """
const iframe = document.getElementById('cobrowse-view');
const stage = document.getElementById('view-stage').getBoundingClientRect();
const matrix = new DOMMatrix(getComputedStyle(iframe).transform);
const zoom = document.getElementById('view-zoom');
const cursor = document.getElementById('customer-cursor');
const at = /translate\\(([-0-9.e]+)px, ([-0-9.e]+)px\\)/.exec(cursor.style.transform || '');
return { a: matrix.a, b: matrix.b, c: matrix.c, d: matrix.d, e: matrix.e, f: matrix.f,
         stage: { left: stage.left, top: stage.top, width: stage.width, height: stage.height },
         zoomShown: !zoom.hidden && zoom.getClientRects().length > 0, zoomText: zoom.textContent,
         zoomScale: zoom.dataset.scale || null,
         cursor: cursor.hidden || !at ? null : { x: parseFloat(at[1]), y: parseFloat(at[2]) } };
"""


def _phone_customer(t, size):
    """A customer whose Chromium is a phone of `size` (CSS pixels)."""
    browser = Browser(f"customer-phone-{len(t.browsers) + 1}", phone=size)
    t.browsers.append(browser)
    customer = Customer(browser)
    t.customers.append(customer)
    return customer


def _sent_viewports(customer):
    """The viewports the customer's SDK sent: the snapshots' and the `viewport` frames', in order."""
    found = []
    for frame in (f.json() for f in customer.browser.frames("sent")):
        if isinstance(frame, dict) and frame.get("t") == "snapshot":
            found.append(frame.get("viewport"))
        elif isinstance(frame, dict) and frame.get("t") == "viewport":
            found.append({key: frame.get(key) for key in ("w", "h", "visual") if key in frame})
    return found


def _received_visuals(agent):
    """The visual viewports the agent's console received: in `viewport` frames and snapshots (a
    loaded filter may shed a late frame and resync: the snapshot then brings the viewport)."""
    found = []
    for frame in (f.json() for f in agent.browser.frames("received")):
        if isinstance(frame, dict) and frame.get("t") == "viewport":
            found.append(frame.get("visual"))
        elif isinstance(frame, dict) and frame.get("t") == "snapshot":
            found.append((frame.get("viewport") or {}).get("visual"))
    return found


def _same_visual(sent, visual, tolerance=0.05):
    """Whether a sent `visual` is the page's visual viewport (phone.visual_viewport)."""
    return isinstance(sent, dict) and all(
        isinstance(sent.get(key), (int, float)) and abs(sent[key] - visual[key]) <= tolerance * max(1, abs(visual[key]))
        for key in ("x", "y", "w", "h", "scale"))


def _assert_bar_fits(customer, when):
    """Nothing of the bar sticks out sideways: it does not scroll, and it is within the screen's
    width (the visual viewport: the demo shop itself is wider than a phone)."""
    fit = customer.js("""
        const host = document.getElementById('cobrowse-bar');
        const bar = host.shadowRoot.querySelector('.bar');
        const box = host.getBoundingClientRect();
        const visual = window.visualViewport;
        return { scrollWidth: bar.scrollWidth, clientWidth: bar.clientWidth, left: box.left, right: box.right,
                 screenLeft: visual.offsetLeft, screenRight: visual.offsetLeft + visual.width };""")
    assert fit["scrollWidth"] <= fit["clientWidth"] and fit["left"] >= fit["screenLeft"] - 0.5 and fit["right"] <= fit["screenRight"] + 0.5, \
        f"{when}, the bar overflows the screen: {fit}"


@test
def on_a_phone_the_bar_stays_in_the_visual_viewport_and_the_agent_sees_the_zoom(t):
    customer = _phone_customer(t, PHONE)
    customer.open(t.relay_a)
    session_id = customer.start_session_with()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    browser = customer.browser
    visual = phone.visual_viewport(browser)
    assert abs(visual["w"] - PHONE[0]) < 1 and abs(visual["scale"] - 1) < 0.01, f"the customer is not on a 390 px phone: {visual}"

    # Unzoomed: the bar fits the phone's width, and everything of it is in sight.
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS, "on a 390 px phone")
    _assert_bar_fits(customer, "on a 390 px phone")
    wait_for("the snapshot's viewport carries the visual viewport, the whole screen at scale 1",
             lambda: _sent_viewports(customer),
             check=lambda sent: any(v and v.get("w") == visual["innerWidth"] and _same_visual(v.get("visual"), visual) for v in sent))
    agent.click("request-control")
    wait_for("the customer's bar asks for control", lambda: customer.bar_shows("button.allow-control"))
    unzoomed = phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS + CONSENT_CONTROLS,
                                                 "asked for control on a 390 px phone")
    _assert_bar_fits(customer, "asked for control on a 390 px phone")

    # The customer pinch-zooms in twice, around the gift checkbox (which stays in sight).
    customer.show("#gift", agent)
    visual = phone.pinch(browser, 2.0, *customer.center("#gift"))
    assert visual["scale"] > 1.8 and visual["w"] < PHONE[0] * 0.6, f"the pinch did not zoom in: {visual}"
    zoomed = phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS + CONSENT_CONTROLS, "zoomed in twice")
    for selector in ("button.exit",) + CONSENT_CONTROLS:
        on_screen = zoomed[selector]["width"] * visual["scale"]
        assert abs(on_screen - unzoomed[selector]["width"]) <= 2, \
            f"zoomed in, {selector} is {on_screen:.1f} px wide on the screen, not {unzoomed[selector]['width']:.1f} as before"
    visual = phone.visual_viewport(browser)
    wait_for(f"the SDK sends a viewport frame with the zoomed visual viewport {visual}",
             lambda: [frame.get("visual") for frame in (f.json() for f in browser.frames("sent"))
                      if isinstance(frame, dict) and frame.get("t") == "viewport"],
             check=lambda sent: any(_same_visual(v, visual) for v in sent))

    # The agent sees what the customer sees: the visual viewport, magnified, and says so.
    wait_for("the agent's console receives the visual viewport at scale 2", lambda: _received_visuals(agent),
             check=lambda received: any(_same_visual(v, visual) for v in received))
    geometry = wait_for("the console shows #view-zoom 'Customer zoomed 2.0×'", lambda: agent.browser.js(VIEW_GEOMETRY),
                        check=lambda g: g["zoomShown"] and g["zoomText"] == "Customer zoomed 2.0×")
    total = geometry["a"]
    fit = total / visual["scale"]
    assert 0.3 < fit <= 1.0001 and abs(geometry["d"] - total) < 1e-6 and geometry["b"] == 0 and geometry["c"] == 0, \
        f"the view is not scaled by the customer's zoom times a fit ≤ 1: {geometry}"
    assert abs(geometry["e"] + visual["x"] * total) < 1 and abs(geometry["f"] + visual["y"] * total) < 1, \
        f"the view is not moved to the customer's visual viewport {visual}: {geometry}"
    assert abs(geometry["stage"]["width"] - visual["w"] * total) < 2 and abs(geometry["stage"]["height"] - visual["h"] * total) < 2, \
        f"the stage is not the visual viewport's size ({visual['w']}x{visual['h']} × {total}): {geometry['stage']}"
    assert abs(float(geometry["zoomScale"]) - visual["scale"]) < 0.01, f"#view-zoom's data-scale is {geometry['zoomScale']!r}"

    # The customer's pointer, where it is on their page, is where the agent sees that spot. (A
    # loaded filter skips late cursor frames: the pointer wiggles onto the spot until it shows.)
    gift = customer.center("#gift")
    x, y = phone.input_point(browser, *gift)
    seen = {}

    def pointer_on_gift():
        for dx in (1, 0):
            browser.driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": x + dx, "y": y})
        point, now = agent.point("#gift"), agent.browser.js(VIEW_GEOMETRY)
        seen.update(expected=(point["x"] - now["stage"]["left"], point["y"] - now["stage"]["top"]), cursor=now["cursor"])
        return (seen["cursor"] is not None and abs(seen["cursor"]["x"] - seen["expected"][0]) <= 4
                and abs(seen["cursor"]["y"] - seen["expected"][1]) <= 4)

    try:
        wait_for("the agent sees the customer's pointer on the gift checkbox", pointer_on_gift, interval=0.5)
    except AssertionError as error:
        raise AssertionError(f"{error}; expected at {seen.get('expected')} of the stage; the customer's gift at {gift} "
                             f"(visual viewport {phone.visual_viewport(browser)}); the console's last cursor and viewport "
                             f"frames: {agent.received('cursor')[-2:]} {agent.received('viewport')[-2:]}") from None

    # Allow, tapped by a finger while zoomed in: the agent has control.
    phone.tap_control(browser, "cobrowse-bar", "button.allow-control")
    wait_for("the SDK is in write mode after the customer tapped Allow", lambda: customer.js("return CoBrowse.mode"),
             check=lambda mode: mode == "write")
    wait_for("the agent's console is in write mode", lambda: agent.browser.js("return document.body.dataset.mode"),
             check=lambda mode: mode == "write")

    # The agent's click on the checkbox in the zoomed view toggles it on the customer's page.
    stage = agent.browser.js(VIEW_GEOMETRY)["stage"]
    point = agent.point("#gift")
    assert stage["left"] < point["x"] < stage["left"] + stage["width"] and stage["top"] < point["y"] < stage["top"] + stage["height"], \
        f"the gift checkbox ({point}) is not in the zoomed view {stage}"
    before = customer.checked("gift")
    agent.mouse(point["x"], point["y"], click=True)
    wait_for("the agent's click in the zoomed view toggles the customer's gift checkbox",
             lambda: customer.checked("gift"), check=lambda checked: checked != before)
    assert "annotate" not in agent.sent_types(), "the agent's click went out as an annotation"

    # An on-screen keyboard takes the lower part of the screen: the bar moves above it.
    phone.show_keyboard(browser, PHONE, 340)
    visual = wait_for("the visual viewport shrinks for the keyboard", lambda: phone.visual_viewport(browser),
                      check=lambda v: v["h"] * v["scale"] <= PHONE[1] - 330)
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS + ("button.revoke-control",), "with an on-screen keyboard")
    visual = phone.visual_viewport(browser)
    wait_for("the agent's console receives the shortened visual viewport", lambda: _received_visuals(agent),
             check=lambda received: any(_same_visual(v, visual) for v in received))

    # Exit, tapped: the session ends, and the end notice is in sight too.
    phone.tap_control(browser, "cobrowse-bar", "button.exit")
    wait_for("the session ends after the customer tapped Exit", lambda: customer.js("return CoBrowse.sessionId"),
             check=lambda value: value is None)
    phone.wait_inside_visual_viewport(browser, "cobrowse-ended", (".notice", "button.close"), "the end notice, zoomed in")
    agent.wait_state("ended")


@test
def on_a_320_px_phone_every_control_of_the_bar_is_in_sight(t):
    customer = _phone_customer(t, SMALL_PHONE)
    customer.open(t.relay_a)
    session_id = customer.start_session_with()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    browser = customer.browser
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS, "on a 320 px phone")
    _assert_bar_fits(customer, "on a 320 px phone")
    agent.click("request-control")
    wait_for("the customer's bar asks for control", lambda: customer.bar_shows("button.allow-control"))
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS + CONSENT_CONTROLS, "asked for control on a 320 px phone")
    _assert_bar_fits(customer, "asked for control on a 320 px phone")
    phone.tap_control(browser, "cobrowse-bar", "button.allow-control")
    wait_for("the bar offers Stop control", lambda: customer.bar_shows("button.revoke-control"))
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS + ("button.revoke-control",),
                                      "in write mode on a 320 px phone")
    _assert_bar_fits(customer, "in write mode on a 320 px phone")
    # Zoomed in and out again, the bar is back 16 px from the screen's bottom-right corner.
    phone.pinch(browser, 3.0, 160, 200)
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS + ("button.revoke-control",), "zoomed in three times")
    phone.pinch(browser, 1 / 3.0, 160, 200)
    wait_for("zoomed out again, the bar is 16 px from the screen's bottom-right corner", lambda: customer.js("""
        const box = document.getElementById('cobrowse-bar').getBoundingClientRect();
        const visual = window.visualViewport;
        return [visual.offsetLeft + visual.width - box.right, visual.offsetTop + visual.height - box.bottom];"""),
             check=lambda margins: all(abs(margin - 16) <= 1 for margin in margins))
    # A page of the site wider than the phone (the orders table): the phone widens the layout
    # viewport to the page, which the screen shows only part of; the bar is on the screen.
    customer.open(t.relay_a, "/demo/second.html")
    assert customer.wait_bar_session_id() == session_id, "the next page does not resume the session"
    visual = phone.visual_viewport(browser)
    assert visual["innerWidth"] > visual["w"] + 100, f"second.html no longer overflows a 320 px phone: {visual}"
    phone.wait_inside_visual_viewport(browser, "cobrowse-bar", BAR_CONTROLS, "on a page wider than the phone")
    _assert_bar_fits(customer, "on a page wider than the phone")


@test
def on_a_phone_the_code_prompt_covers_what_the_customer_sees(t):
    customer = _phone_customer(t, PHONE)
    customer.open(t.relay_a)
    browser = customer.browser
    visual = phone.pinch(browser, 2.5, 100, 300)
    customer.js("window.__prompt = CoBrowse.startWithCode().catch((error) => error.code);")
    host = "cobrowse-code-prompt-host"
    wait_for("the code prompt opens", lambda: customer.js(
        "const prompt = document.querySelector('cobrowse-code-prompt'); if (prompt) prompt.id = arguments[0]; return !!prompt;", host))
    controls = (".dialog", "#code", "button.start", "button.cancel")
    # The prompt's host is an inline element without a box; its backdrop and dialog are what shows.
    boxes = phone.wait_inside_visual_viewport(browser, host, controls, "the code prompt, zoomed in 2.5 times", host_box=False)
    backdrop = customer.js("""
        const box = document.getElementById(arguments[0]).shadowRoot.querySelector('.backdrop').getBoundingClientRect();
        return { left: box.left, top: box.top, width: box.width, height: box.height };""", host)
    visual = phone.visual_viewport(browser)
    assert all(abs(backdrop[a] - visual[b]) <= 1 for a, b in (("left", "x"), ("top", "y"), ("width", "w"), ("height", "h"))), \
        f"the backdrop {backdrop} does not cover the visual viewport {visual}"
    on_screen = boxes[".dialog"]["width"] * visual["scale"]
    assert 300 <= on_screen <= 362, f"the dialog is {on_screen:.0f} px wide on the screen, not its usual 360 (or 92 % of 390)"
    phone.tap_control(browser, host, "button.cancel")
    wait_for("Cancel, tapped, closes the prompt", lambda: customer.js("return document.querySelector('cobrowse-code-prompt') === null"))


# ---------------------------------------------------------------------------------------------
# Issue 15: presence. The customer's bar says who is watching: the lead agent's name when the
# token carries one, and everyone, observers included ("2 people are viewing"); observers
# joining and leaving are in the session's history (the registry's visits).

def _viewer_sentences(customer):
    """The SDK's English presence sentences, from its catalogue as the relay serves it."""
    english = languages.catalogues(customer.browser, "sdk")["en"]
    count = english["status.viewingCount"]
    return {"named": lambda name: english["status.viewingNamed"].replace("{name}", name),
            "count": lambda n: (count["other"] if isinstance(count, dict) else count).replace("{count}", str(n))}


def _bar_viewers(customer):
    return customer.js("""
        const bar = document.getElementById('cobrowse-bar');
        const element = bar && bar.shadowRoot && bar.shadowRoot.querySelector('.bar');
        return element ? element.dataset.viewers || null : null;""")


@test
def the_customers_bar_names_the_agent_and_counts_observers_who_join_and_leave(t):
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session()
    customer.record_events()
    sentences = _viewer_sentences(customer)
    agent = t.agent()
    agent.join(t.relay_b, session_id, display_name="Ada Lovelace")
    customer.wait_bar_status(sentences["named"]("Ada Lovelace"))
    assert _bar_viewers(customer) == "1", f"the bar's data-viewers is {_bar_viewers(customer)!r} with the agent alone"

    # A supervisor on the other relay: two people are viewing.
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor", display_name="Sam Supervisor")
    customer.wait_bar_status(sentences["count"](2))
    assert _bar_viewers(customer) == "2"

    # The supervisor's console goes away (another page in its tab): the count follows at once.
    supervisor.browser.get("about:blank")
    customer.wait_bar_status(sentences["named"]("Ada Lovelace"))
    assert _bar_viewers(customer) == "1"
    viewers = [event["viewers"] for event in customer.events("viewersChanged")]
    assert viewers[-3:] == [
        [{"name": "Ada Lovelace", "role": "agent"}],
        [{"name": "Ada Lovelace", "role": "agent"}, {"name": "Sam Supervisor", "role": "supervisor"}],
        [{"name": "Ada Lovelace", "role": "agent"}],
    ], f"viewersChanged said {viewers}"

    # The history keeps both visits; the supervisor's with when it ended.
    history = wait_for("the registry's history has the supervisor's visit ended", lambda: t.stack.session_history(session_id),
                       check=lambda view: view and any(v.get("role") == "supervisor" and v.get("leftAt") for v in view.get("visits", [])))
    visits = history["visits"]
    assert [(v["agentID"], v.get("name"), v["role"]) for v in visits] == [
        (agent.name, "Ada Lovelace", "agent"), (supervisor.name, "Sam Supervisor", "supervisor")], f"visits: {visits}"
    assert "leftAt" not in visits[0] and visits[1]["leftAt"] >= visits[1]["joinedAt"], f"visits: {visits}"

    # Coming back is a second visit; the customer's Exit closes every open one.
    supervisor.join(t.relay_b, session_id, role="supervisor", display_name="Sam Supervisor")
    customer.wait_bar_status(sentences["count"](2))
    customer.end()
    history = wait_for("the registry's history after the end", lambda: t.stack.session_history(session_id),
                       check=lambda view: view and view.get("state") == "ended" and len(view.get("visits", [])) == 3)
    assert all(v.get("leftAt") for v in history["visits"]), f"an open visit after the end: {history['visits']}"


def main(arguments):
    def terminate(signum, _frame):
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGTERM, terminate)
    sys.stdout.reconfigure(line_buffering=True)  # progress shows live through `tee`
    selected = [function for function in TESTS
                if not arguments or any(word in function.__name__ for word in arguments)]
    if not selected:
        print(f"no test matches {arguments}; tests: {', '.join(function.__name__ for function in TESTS)}")
        return 1
    try:
        return run(selected)
    except KeyboardInterrupt:
        print("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
