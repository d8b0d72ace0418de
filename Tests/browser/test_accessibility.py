"""Accessibility (issue 15, part 6): WCAG 2.1 AA for the bar, the prompts, the notices and the
agent console, checked by axe-core (accessibility.py) in every state, and keyboard-only use
of every control, the customer's and the agent's."""

import json
import urllib.parse
import urllib.request
import uuid

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.keys import Keys

import accessibility
from browsers import wait_for
from people import CODE_PROMPT


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


def test_the_sdks_bar_prompts_and_notices_pass_axe_wcag_21_aa(t):
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
    wait_for("the SDK's code prompt opens", lambda: customer.code_prompt(), check=lambda prompt: prompt is not None)
    prompt = ["cobrowse-code-prompt"]
    _scan(browser, "on the code prompt", prompt, checked=[
        ("label", "code"), ("color-contrast", "start"), ("color-contrast", "cancel"), ("color-contrast", "hint")])
    customer.type_code("12")
    wait_for("a short code is refused in the prompt", lambda: customer.code_prompt(),
             check=lambda found: bool(found) and found["refusal"] == "malformed" and bool(found["error"]))
    _scan(browser, "on the code prompt saying what is wrong", prompt, checked=[("color-contrast", "error")])
    _press(browser, Keys.ESCAPE)
    wait_for("Escape cancels the code prompt", lambda: customer.js("return window.__prompted"), check=lambda code: code == "cancelled")

    # A start that fails: its notice.
    customer.js("CoBrowse.start({ interactionToken: 'not-a-token', failureNoticeSeconds: 120 }).catch(() => {});")
    wait_for("the start failure notice says why", lambda: customer.failure_notice(), check=lambda notice: bool(notice and notice["text"]))
    _scan(browser, "on the start failure notice", ["#cobrowse-start-failed"], checked=[("color-contrast", "text"), ("button-name", "close")])


def test_the_agent_console_passes_axe_wcag_21_aa_in_every_state(t):
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


def test_the_customer_reaches_the_bar_and_answers_consent_by_keyboard_alone(t):
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


def test_the_code_prompt_is_filled_and_submitted_by_keyboard_alone(t):
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
    wait_for("a wrong code is refused in the prompt", lambda: customer.code_prompt(),
             check=lambda prompt: bool(prompt) and prompt["refusal"] == "code-unknown")
    _wait_focus(browser, "input#code", "the focus stays in the code field after a refusal")
    _press(browser, code, Keys.ENTER)
    wait_for("the prompt closes and the session starts", lambda: customer.js(f"return {CODE_PROMPT} === null && CoBrowse.sessionId"), check=bool)
    customer.wait_bar_session_id()
    agent_focus = _focus(browser)
    assert "cobrowse-code-prompt" not in agent_focus, f"the focus is still in the closed prompt: {agent_focus!r}"


def test_the_agent_joins_and_acts_on_the_customers_page_by_keyboard_alone(t):
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


def test_the_supervisors_live_view_passes_axe_wcag_21_aa_with_rows(t):
    # Two live sessions: one an agent leads (Observe enabled), one still waiting for an agent.
    customer = t.customer()
    customer.open(t.relay_a)
    led = customer.start_session_with()
    lead = t.agent()
    lead.join(t.relay_b, led, display_name="Ana Ruiz")
    waiting = t.customer()
    waiting.open(t.relay_a)
    idle = waiting.start_session_with(channel="voice")

    supervisor = t.agent()
    browser = supervisor.browser
    browser.get(f"{t.relay_b.base_url}/agent/")
    supervisor.wait_state("signed-out")
    browser.js("document.getElementById('agent-token').value = arguments[0];", supervisor.token(t.relay_b, role="supervisor"))
    supervisor.click("show-live-sessions")
    rows = """return [...document.querySelectorAll('#live-sessions tr[data-session]')]
                .filter((row) => !row.closest('[hidden]')).map((row) => row.dataset.session + ':' + row.dataset.state);"""
    wait_for("the list shows both sessions", lambda: browser.js(rows),
             check=lambda found: f"{led}:active" in found and f"{idle}:idle" in found)
    # axe names the Observe buttons by their aria-label ("Observe session 123 456 789").
    listed = [("color-contrast", "Observe session"), ("button-name", "Observe session"), ("color-contrast", "health-status"),
              ("color-contrast", "live-sessions-count"), ("th-has-data-cells", "live-sessions-table")]
    _scan(browser, "on the supervisor's list of live sessions", checked=listed)

    # Observing, then the end: the list comes back above the ended view.
    browser.js("document.querySelector(`#live-sessions tr[data-session=\"${arguments[0]}\"] button.observe`).focus();", led)
    _press(browser, Keys.ENTER)
    supervisor.wait_state("live")
    customer.click_bar("button.exit")
    supervisor.wait_state("ended")
    wait_for("the list shows again after the end, with the waiting session", lambda: browser.js(rows),
             check=lambda found: found == [f"{idle}:idle"] or (f"{idle}:idle" in found and f"{led}:active" not in found))
    _scan(browser, "on the ended console with the list of live sessions", checked=[("color-contrast", "health-status"), ("color-contrast", '"#notice"')])
