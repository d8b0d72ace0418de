"""Agent actions (docs/stream-protocol.md "Agent actions"), driven with a real mouse and
keyboard in the console: pointer mode (the pointer and annotations, nothing acts), the
customer's consent to write mode and its revocation (clicks, typing, scrolling, navigation),
what the filter and the SDK never let an agent do, and an observer who cannot act."""

from selenium.webdriver.common.action_chains import ActionChains
from selenium.webdriver.common.actions.wheel_input import ScrollOrigin
from selenium.webdriver.common.by import By

from browsers import wait_for
from people import grant_control


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


def test_pointer_mode_lets_the_agent_point_and_annotate_but_not_act(t):
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


def test_write_mode_needs_the_customers_consent_and_can_be_revoked(t):
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
    grant_control(customer, agent)
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


def test_the_agent_can_never_submit_type_into_masked_fields_or_leave_the_site(t):
    customer, agent, session_id = t.shared_session()
    agent.wait_same_text(customer)
    grant_control(customer, agent)

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


def test_an_observer_cannot_act(t):
    customer, agent, session_id = t.shared_session(sharer_relay=t.relay_a, agent_relay=t.relay_b)
    agent.wait_same_text(customer)
    grant_control(customer, agent)
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
