"""Same-origin frames (frames.html): a frame's document is shared inside its <iframe> node and
follows the customer (edits, typing, navigation, the agent's typing in write mode), masked like
the page, with the SDK masking and with the filter alone; a masked frame is masked whole,
another origin's frame stays empty, and nothing in the agent's frames loads or runs."""

import time

from selenium.webdriver.common.by import By

import frame_leaks
import masking_page
from browsers import wait_for
from console_safety import assert_console_safe
from masked_view import (
    assert_no_secrets_in_agent, assert_sdk_equals_filter, sdk_masking_on_and_off, wait_view,
)
from people import grant_control


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


def test_same_origin_frames_reach_the_agent_and_follow_the_customer(t):
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
    grant_control(customer, agent)
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


@sdk_masking_on_and_off
def test_secrets_inside_frames_never_reach_the_agent(t, sdk_masks):
    customer, agent, _ = _open_frames(t, sdk_masks)
    for element_id, text in masking_page.FRAME_TYPED_SECRETS.items():
        _in_customer_frame(customer, "content-frame", lambda driver: driver.find_element(By.ID, element_id).send_keys(text))
    _in_customer_frame(customer, "masked-frame",
                       lambda driver: driver.find_element(By.ID, "saved-card-input").send_keys("ZZSECRET-masked-frame-typed"))
    result = customer.js_async(masking_page.FRAME_LATER_SECRETS)
    assert result is True, f"the customer's page could not add its later frame secrets: {result}"
    wait_view(agent, "the agent's view shows the frames' public text and '****' for every masked thing in them",
              masking_page.FRAME_PAGE_PROBE, masking_page.FRAME_PAGE_EXPECTED)
    assert_no_secrets_in_agent(agent, "frames.html")
    sent = customer.browser.frames("sent")
    leaks = frame_leaks.leaks_in(sent, masking_page.SECRET_PATTERN)
    if sdk_masks:
        assert not leaks, f"the SDK sent secrets from a frame: {frame_leaks.describe(leaks)}"
        assert_sdk_equals_filter(customer, agent, "frames.html")
    else:
        sent_secrets = {secret for leak in leaks for secret in leak.found}
        for secret in ("ZZSECRET-frame-password-attr", "ZZSECRET-masked-frame-text", "ZZSECRET-frame-masked-edit"):
            assert secret in sent_secrets, \
                f"with testOnlyDisableMasking the SDK still masked {secret}: this run proves nothing (sent: {sorted(sent_secrets)})"


def test_frames_in_the_agents_view_load_nothing_and_run_nothing(t):
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
    assert_console_safe(agent, "after frames.html", "frames-heading")
