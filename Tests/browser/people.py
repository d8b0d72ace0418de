"""The two sides of a co-browse session in the browser tests: the customer's browser on a demo
page (`Customer`: starting sessions, the SDK's bar, notices and prompts, what the page must look
like after a session) and the agent's browser on the agent console (`Agent`: joining, the rebuilt
view, acting on the customer's page, the WebSocket frames it got)."""

import json
import re
import urllib.parse

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By

import browsers
import languages
from browsers import wait_for


# In the agent's page: the document of the frame the customer's page is rebuilt in.
VIEW = "document.getElementById('cobrowse-view').contentDocument"
# What the customer's bar says about the agent (docs/sdk.md, "What the customer sees").
BAR_WATCHED = "An agent is viewing this page"
BAR_AGENT_RECONNECTING = "The agent is reconnecting…"

# The SDK's code prompt (CoBrowse.startWithCode() without a code), in the customer's page.
CODE_PROMPT = "document.querySelector('cobrowse-code-prompt')"


def normalized(text):
    """`text` with every run of white space one space, trimmed (None as "")."""
    return " ".join((text or "").split())


def first_difference(expected, actual):
    """Where two texts part, with some context, for failure messages."""
    index = next((i for i, (a, b) in enumerate(zip(expected, actual)) if a != b), min(len(expected), len(actual)))
    start = max(0, index - 60)
    return (f"texts differ at character {index} (lengths {len(expected)} and {len(actual)}):\n"
            f"  customer: …{expected[start:index + 80]!r}\n"
            f"  agent:    …{actual[start:index + 80]!r}")


class Customer:
    """A shopper's browser on the demo shop."""

    def __init__(self, browser):
        self.browser = browser

    def open(self, relay, path="/demo/?still", host="127.0.0.1"):
        """Loads a demo page (the shop by default) from `relay`."""
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
        """Waits until the SDK's bar shows a nine-digit session ID, and returns it."""
        return wait_for("the SDK's bar (#cobrowse-bar, open shadow root) shows a nine-digit session ID",
                        lambda: self.bar_session_id(), check=lambda value: bool(re.fullmatch(r"\d{9}", value or "")))

    def bar_session_id(self):
        """The session ID the SDK's bar shows (digits only), or None without a bar."""
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
        """The page's visible text, white space normalized."""
        return normalized(self.browser.js("return document.body.innerText"))

    def js(self, script, *args):
        """Runs `script` in the customer's page."""
        return self.browser.js(script, *args)

    def js_async(self, script, *args):
        """Runs asynchronous `script` in the customer's page (its last argument is the callback)."""
        return self.browser.driver.execute_async_script(script, *args)

    def end(self):
        """Ends the session from the page, if one runs (the test's cleanup; never raises)."""
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
        """The details of the SDK's `name` events collected since `record_events`."""
        return self.js("return (window.__cobrowseEvents || []).filter((e) => e[0] === arguments[0]).map((e) => e[1]);", name)

    # ---- what the SDK leaves on the page -----------------------------------------------------

    def page_state(self):
        """What a session may change on the page and must put back when it ends: the SDK's
        elements (ids cobrowse-*), CoBrowse.sessionId, the stored session, adopted style sheets
        (the customer's mark), the value setters (wrapped while sharing), and the event
        listeners on window and document (DevTools' count)."""
        state = self.js(r"""
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
        """Waits until the bar's status line says `text`."""
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
        """The value of the page's element #`element_id`."""
        return self.js("return document.getElementById(arguments[0]).value;", element_id)

    def checked(self, element_id):
        """Whether the page's checkbox #`element_id` is checked."""
        return self.js("return document.getElementById(arguments[0]).checked;", element_id)

    # ---- the SDK's prompts and notices ------------------------------------------------------

    def code_prompt(self):
        """The code prompt: {error, refusal} or None when it is not open."""
        return self.browser.js(f"""const host = {CODE_PROMPT}; if (!host) return null;
            return {{ error: host.shadowRoot.getElementById('error').textContent, refusal: host.dataset.refusal || null }};""")

    def type_code(self, code):
        """Enters `code` into the code prompt and presses its Start button."""
        self.browser.js(f"""const root = {CODE_PROMPT}.shadowRoot; const input = root.getElementById('code');
            input.value = arguments[0]; root.querySelector('button.start').click();""", code)

    def failure_notice(self):
        """The start failure notice (#cobrowse-start-failed): {text, role, failure, label}, or None."""
        return self.js("""
            const host = document.getElementById('cobrowse-start-failed');
            const notice = host && host.shadowRoot && host.shadowRoot.querySelector('.notice');
            return notice ? { text: notice.querySelector('.text').textContent, role: notice.getAttribute('role'),
                              failure: notice.dataset.cobrowseFailure || null,
                              label: notice.querySelector('button.close').getAttribute('aria-label') } : null;""")

    def viewer_sentences(self):
        """The SDK's English presence sentences, from its catalogue as the relay serves it."""
        english = languages.catalogues(self.browser, "sdk")["en"]
        count = english["status.viewingCount"]
        return {"named": lambda name: english["status.viewingNamed"].replace("{name}", name),
                "count": lambda n: (count["other"] if isinstance(count, dict) else count).replace("{count}", str(n))}


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
        """Opens the console with a dev token and `session_id` in its address, and waits until it is live."""
        token = self.token(relay, role, display_name)
        fragment = urllib.parse.urlencode({"token": token, "session": session_id})
        self.browser.get(f"{relay.base_url}/agent/#{fragment}")
        self.wait_state("live")

    def state(self):
        """The console's state (body[data-state]: live, paused, ended, …)."""
        return self.browser.js("return document.body.dataset.state")

    def wait_state(self, state, within=browsers.WAIT):
        """Waits until the console's state is `state`."""
        return wait_for(f"the agent console's state becomes {state!r}", self.state,
                        check=lambda value: value == state, within=within)

    def in_view(self, body, *args):
        """Runs `body` (JS using `doc`, the rebuilt page's document) in the agent's page."""
        return self.browser.js(f"const doc = {VIEW}; if (!doc || !doc.body) return null;\n{body}", *args)

    def text(self):
        """The rebuilt page's visible text, white space normalized."""
        return normalized(self.in_view("return doc.body.innerText"))

    def element_text(self, selector):
        """The visible text of the view element `selector`, or None."""
        return self.in_view("const e = doc.querySelector(arguments[0]); return e ? e.innerText : null;", selector)

    def notice(self):
        """The console's #notice: {text, shown, kind, reason, by}."""
        return self.browser.js("""
            const n = document.getElementById('notice');
            return { text: n.textContent, shown: !n.hidden, kind: n.dataset.kind || null,
                     reason: n.dataset.reason || null, by: n.dataset.by || null };""")

    def header(self, element_id):
        """The text of the console's element #`element_id`, or None."""
        return self.browser.js("const e = document.getElementById(arguments[0]); return e ? e.textContent : null;",
                               element_id)

    # ---- acting on the customer's page -------------------------------------------------

    def mode(self):
        """The mode the console's header shows (#session-mode)."""
        return self.header("session-mode")

    def wait_mode(self, mode):
        """Waits until the console's header shows mode `mode`."""
        return wait_for(f"the console's #session-mode says {mode!r}", self.mode, check=lambda value: value == mode)

    def shown(self, element_id):
        """Whether a console element is displayed (not hidden, laid out)."""
        return self.browser.js("const e = document.getElementById(arguments[0]); return !!e && !e.hidden && e.getClientRects().length > 0;",
                               element_id)

    def click(self, element_id):
        """Clicks the console's element #`element_id`."""
        self.browser.driver.find_element(By.ID, element_id).click()

    def action_notice(self):
        """The action notice: {shown, reason, action, text}."""
        return self.browser.js("""
            const n = document.getElementById('action-notice');
            return { shown: !n.hidden, reason: n.dataset.reason || null, action: n.dataset.action || null, text: n.textContent };""")

    def clear_action_notice(self):
        """Hides the action notice, so the next one can be waited for."""
        self.browser.js("const n = document.getElementById('action-notice'); n.hidden = true; delete n.dataset.reason; delete n.dataset.action;")

    def wait_action_notice(self, reason, action=None, what=None):
        """Waits until the action notice shows `reason` (for `action`, if given)."""
        return wait_for(what or f"the console's #action-notice shows reason {reason!r}" + (f" for a {action}" if action else ""),
                        self.action_notice,
                        check=lambda notice: notice["shown"] and notice["reason"] == reason and (action is None or notice["action"] == action))

    def view_id(self, selector):
        """The customer's mirror id of the view element `selector`."""
        return self.in_view("return window.cobrowseConsole.mirror.idOf(doc.querySelector(arguments[0])) ?? null;", selector)

    def view_value(self, selector):
        """The value of the view's field `selector`, or None."""
        return self.in_view("const e = doc.querySelector(arguments[0]); return e ? e.value : null;", selector)

    def send_raw(self, message):
        """Sends `message` on the console's socket as it is (the dev-mode test hook)."""
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
        """Clicks the view element `selector` with the real mouse; returns where."""
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
        """The types (`t`) of the frames this console sent, in order."""
        return [frame.get("t") for frame in (f.json() for f in self.browser.frames("sent")) if isinstance(frame, dict)]

    def wait_same_text(self, customer, what="the agent's view shows the customer's page text"):
        """Waits until the view's text is the customer's page's, and returns it; says where they part if not."""
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


def grant_control(customer, agent):
    """The agent asks for control and the customer allows it: write mode on both sides."""
    agent.click("request-control")
    customer.click_bar("button.allow-control")
    agent.wait_mode("write")
    wait_for("the customer's bar offers 'Stop control'", lambda: customer.bar_shows("button.revoke-control"))
    wait_for("the SDK says it is in write mode", lambda: customer.js("return CoBrowse.mode"), check=lambda mode: mode == "write")
