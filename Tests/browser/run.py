#!/usr/bin/python3
"""Browser end-to-end tests: a customer's Chromium shares the demo shop, an agent's Chromium
watches it in the agent console, and everything in between is real (relays, masking filter,
session registry, RabbitMQ).

    /usr/bin/python3 Tests/browser/run.py [NAME-SUBSTRING ...]

Needs COBROWSE_TEST_AMQP_URL, COBROWSE_TEST_MANAGEMENT_URL and COBROWSE_BIN_DIR (deploy/local/test
sets them after `swift build`). Prints `PASS name (1.2 s)` or `FAIL name: reason` per test and a
summary; exits 0 only if every selected test passed. Service logs, and screenshots of failed
tests, are kept under .run/browser-tests/.
"""

import json
import os
import re
import shutil
import signal
import sys
import time
import traceback
import urllib.parse

sys.dont_write_bytecode = True  # no __pycache__ in the source tree

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import browsers
import japanese_page
import stack
from browsers import Browser, wait_for

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
LOG_DIR = os.path.join(ROOT, ".run", "browser-tests")

PASSWORD = "Hunter2-Secret!"
CARD_NUMBER = "4111 1111 1111 1111"

# In the agent's page: the document of the frame the customer's page is rebuilt in.
VIEW = "document.getElementById('cobrowse-view').contentDocument"


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
        button = self.browser.driver.find_element(By.ID, "start-cobrowse")
        button.click()
        session_id = wait_for("the SDK reports a session ID after 'Start co-browse'",
                              lambda: self.browser.js("return window.CoBrowse && window.CoBrowse.sessionId"))
        shown = self.wait_bar_session_id()
        assert shown == str(session_id), f"the bar shows session {shown!r}, CoBrowse.sessionId is {session_id!r}"
        wait_for("the 'Start co-browse' button is hidden while the session runs",
                 lambda: self.browser.js("return document.getElementById('start-cobrowse').hidden"))
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

    def text(self):
        return normalized(self.browser.js("return document.body.innerText"))

    def js(self, script, *args):
        return self.browser.js(script, *args)

    def end(self):
        try:
            self.browser.js("if (window.CoBrowse && window.CoBrowse.sessionId) window.CoBrowse.end();")
        except Exception:
            pass


class Agent:
    """An agent's browser on the agent console."""

    def __init__(self, browser, name):
        self.browser = browser
        self.name = name

    def join(self, relay, session_id):
        status, body = relay.get("/dev/agent-token?agent=" + urllib.parse.quote(self.name))
        assert status == 200, f"{relay.name} /dev/agent-token answered {status}: {body[:200]}"
        token = json.loads(body)["token"]
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

    def header(self, element_id):
        return self.browser.js("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                               element_id)

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

    @property
    def relay_a(self):
        return self.stack.relay_a

    @property
    def relay_b(self):
        return self.stack.relay_b

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

    def shared_session(self, sharer_relay=None, agent_relay=None):
        """A customer on the demo shop who started co-browse, and an agent watching it live."""
        customer = self.customer()
        customer.open(sharer_relay or self.relay_a)
        session_id = customer.start_session()
        agent = self.agent()
        agent.join(agent_relay or self.relay_b, session_id)
        return customer, agent, session_id

    def evidence(self):
        """Screenshots and console messages of this test's browsers (for a failure report)."""
        lines = []
        for browser in self.browsers:
            shot = browser.screenshot(os.path.join(LOG_DIR, f"{self.name}-{browser.role}.png"))
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
        return "\n".join(lines)

    def close(self):
        for customer in self.customers:
            customer.end()
        for browser in self.browsers:
            browser.quit()


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

    driver.find_element(By.ID, "username").send_keys("ada@example.com")
    driver.find_element(By.ID, "password").send_keys(PASSWORD)
    driver.find_element(By.ID, "card-number").send_keys(CARD_NUMBER)
    driver.find_element(By.ID, "card-cvc").send_keys("737")
    driver.find_element(By.ID, "note").send_keys("Leave it with the neighbours")
    Select(driver.find_element(By.ID, "shipping")).select_by_value("express")
    driver.find_element(By.ID, "gift").click()
    # Typed last: once it shows, every earlier keystroke's frame has been through the pipeline.
    driver.find_element(By.ID, "street").send_keys("12 Analytical Row")
    expected = ["ada@example.com", "Leave it with the neighbours", 1, True, "12 Analytical Row"]
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
    card_seen = agent.in_view("return [doc.getElementById('card-number').value, doc.getElementById('card-cvc').value]")
    print(f"    note: card number and security code show on the agent's side as {card_seen} "
          "(only passwords are required to be masked)")


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
