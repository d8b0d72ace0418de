"""A customer on a phone (issue 15, part 4): Chromium's mobile emulation (browsers.Browser(phone=…)),
pinch zoom and an on-screen keyboard by DevTools, taps by real touch input, and where the SDK's
controls are relative to the visual viewport (what the customer actually sees)."""

from browsers import wait_for

# In the customer's page: the visual viewport in the layout viewport's CSS pixels.
VISUAL = """
    const v = window.visualViewport;
    return { x: v.offsetLeft, y: v.offsetTop, w: v.width, h: v.height, scale: v.scale,
             innerWidth: window.innerWidth, innerHeight: window.innerHeight };"""

# In the customer's page: the box (layout viewport CSS pixels) of each selector in the shadow
# root of the host `arguments[0]` (null when missing or not rendered), whether the element at
# its centre is it (nothing covers it), and the host's own box.
BOXES = """
    const host = document.getElementById(arguments[0]);
    const root = host && host.shadowRoot;
    const boxes = {};
    for (const selector of arguments[1]) {
      const element = root && root.querySelector(selector);
      const box = element && element.getClientRects().length ? element.getBoundingClientRect() : null;
      if (!box) { boxes[selector] = null; continue; }
      const x = box.left + box.width / 2, y = box.top + box.height / 2;
      const hit = root.elementFromPoint(x, y);
      boxes[selector] = { left: box.left, top: box.top, right: box.right, bottom: box.bottom, width: box.width,
                          height: box.height, uncovered: !!hit && (hit === element || element.contains(hit)) };
    }
    const box = host ? host.getBoundingClientRect() : null;
    boxes[':host'] = box && { left: box.left, top: box.top, right: box.right, bottom: box.bottom, width: box.width, height: box.height };
    return boxes;"""

# Half a CSS pixel of rounding either way is still inside.
SLACK = 0.5


def visual_viewport(browser):
    return browser.js(VISUAL)


def outside_visual_viewport(browser, host_id, selectors, host_box=True):
    """What of the host's controls (`selectors` in its shadow root) and, with `host_box`, of the
    host's own box is not wholly inside the visual viewport, or is covered: {selector: why};
    empty when everything is in sight."""
    visual = visual_viewport(browser)
    boxes = browser.js(BOXES, host_id, list(selectors))
    wrong = {}
    for selector in list(selectors) + ([":host"] if host_box else []):
        box = boxes.get(selector)
        if box is None:
            wrong[selector] = "not shown"
            continue
        inside = (box["left"] >= visual["x"] - SLACK and box["top"] >= visual["y"] - SLACK
                  and box["right"] <= visual["x"] + visual["w"] + SLACK and box["bottom"] <= visual["y"] + visual["h"] + SLACK)
        if not inside or box["width"] <= 0 or box["height"] <= 0:
            wrong[selector] = f"box {box} outside the visual viewport {visual}"
        elif selector != ":host" and not box["uncovered"]:
            wrong[selector] = f"box {box} is covered by something else"
    return wrong


def wait_inside_visual_viewport(browser, host_id, selectors, when, host_box=True):
    """Waits until every control is inside the visual viewport (the SDK follows it within an
    animation frame); returns their boxes. `host_box`: the host's box too (not for a host
    without a box of its own, such as the code prompt's)."""
    last = {}

    def probe():
        last["wrong"] = outside_visual_viewport(browser, host_id, selectors, host_box)
        return not last["wrong"]

    try:
        wait_for(f"{when}: #{host_id}'s {', '.join(selectors)} are inside the visual viewport", probe)
    except AssertionError as error:
        raise AssertionError(f"{error}: {last.get('wrong')}") from None
    return browser.js(BOXES, host_id, list(selectors))


def pinch(browser, scale_factor, client_x, client_y):
    """A two-finger pinch by `scale_factor` (relative: 2 zooms in twice as far) around a point of
    the layout viewport (client coordinates); waits until the visual viewport's scale changed."""
    before = visual_viewport(browser)["scale"]
    x, y = input_point(browser, client_x, client_y)
    browser.driver.execute_cdp_cmd("Input.synthesizePinchGesture", {
        "x": x, "y": y, "scaleFactor": scale_factor, "relativeSpeed": 800})
    return wait_for(f"the visual viewport's scale changes from {before} after a pinch by {scale_factor}",
                    lambda: visual_viewport(browser),
                    check=lambda visual: abs(visual["scale"] - before * scale_factor) < 0.1 * scale_factor)


def input_point(browser, client_x, client_y):
    """Where DevTools input events must go to land at a client point of the page. Chromium maps
    input coordinates to the page differently under pinch zoom than one might think (and may
    change it), so the map is measured: two mouse moves, and where the page saw them."""
    browser.js("""
        window.__inputProbe = [];
        window.__inputProbeListener = (event) => window.__inputProbe.push([event.clientX, event.clientY]);
        window.addEventListener('mousemove', window.__inputProbeListener, true);""")
    try:
        seen = []
        for probe in ((40, 40), (120, 160)):
            browser.driver.execute_cdp_cmd("Input.dispatchMouseEvent", {"type": "mouseMoved", "x": probe[0], "y": probe[1]})
            seen.append(wait_for(f"the page sees a mouse move sent at {probe}",
                                 lambda: browser.js("return window.__inputProbe.pop() || null;")))
    finally:
        browser.js("window.removeEventListener('mousemove', window.__inputProbeListener, true);")
    (ix1, iy1), (ix2, iy2) = (40, 40), (120, 160)
    (cx1, cy1), (cx2, cy2) = seen
    scale_x = (ix2 - ix1) / (cx2 - cx1)
    scale_y = (iy2 - iy1) / (cy2 - cy1)
    return ix1 + (client_x - cx1) * scale_x, iy1 + (client_y - cy1) * scale_y


def tap(browser, client_x, client_y):
    """A finger's tap at a client point of the customer's page (real touch input)."""
    x, y = input_point(browser, client_x, client_y)
    browser.driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchStart", "touchPoints": [{"x": x, "y": y}]})
    browser.driver.execute_cdp_cmd("Input.dispatchTouchEvent", {"type": "touchEnd", "touchPoints": []})


def tap_control(browser, host_id, selector):
    """Taps the middle of a control in a host's shadow root (the bar's Exit, say)."""
    box = browser.js(BOXES, host_id, [selector])[selector]
    assert box, f"#{host_id} shows no {selector} to tap"
    tap(browser, box["left"] + box["width"] / 2, box["top"] + box["height"] / 2)


def show_keyboard(browser, phone, keyboard_height):
    """An on-screen keyboard as far as the page can tell: the screen's height less the keyboard
    (DevTools' device metrics; the phone's width and pixel ratio stay)."""
    width, height = phone
    browser.driver.execute_cdp_cmd("Emulation.setDeviceMetricsOverride", {
        "width": width, "height": height - keyboard_height, "deviceScaleFactor": 3, "mobile": True})
