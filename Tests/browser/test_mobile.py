"""Mobile (issue 15, part 4): on a phone (390 and 320 CSS pixels wide, mobile emulation) the
SDK's bar, notices and code prompt stay inside the customer's visual viewport, also pinch-
zoomed and with an on-screen keyboard, and remain tappable; the SDK sends the visual
viewport, and the agent's console shows what the customer sees, clicks landing where aimed."""

import phone
from browsers import Browser, wait_for
from people import Customer


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


def test_on_a_phone_the_bar_stays_in_the_visual_viewport_and_the_agent_sees_the_zoom(t):
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


def test_on_a_320_px_phone_every_control_of_the_bar_is_in_sight(t):
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


def test_on_a_phone_the_code_prompt_covers_what_the_customer_sees(t):
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
