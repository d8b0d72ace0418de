"""Masking (docs/masking.md): the rules of Tests/browser/masking-rules.json on masking.html and
statement.html keep every secret from the agent, with the SDK masking and with the filter
alone (testOnlyDisableMasking, as a stale or bypassed SDK would send); a single-page navigation
gets its new address's rules, changed rules apply to a live session, the SDK's masking equals
the filter's, the SDK refuses what the rules forbid, and the console frames masked and
no-agent elements and greys blocked ones."""

import json

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import frame_leaks
import masking_page
from browsers import wait_for
from masked_view import (
    GREEN, GREY, PURPLE, assert_no_secrets_in_agent, assert_sdk_equals_filter,
    sdk_masking_on_and_off, wait_view,
)
from people import grant_control


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


@sdk_masking_on_and_off
def test_masking_rules_keep_every_secret_from_the_agent(t, sdk_masks):
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
    wait_view(agent, "the agent's view shows the public text and '****' for every masked thing on masking.html",
              masking_page.MASKING_PAGE_PROBE, masking_page.MASKING_PAGE_EXPECTED)
    assert customer.js("return document.getElementById('masked-check').checked"), "the customer's checkbox did not check"
    assert_no_secrets_in_agent(agent, "masking.html")

    # The whole-page rule: the next page of the session, masked entirely.
    customer.browser.driver.find_element(By.ID, "to-statement").click()
    wait_for("the agent console names statement.html", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda url: url.endswith("/demo/statement.html"))
    customer.js(masking_page.STATEMENT_LATER)
    wait_view(agent, "the agent's view shows statement.html's layout with every text and value '****'",
              masking_page.STATEMENT_PROBE, masking_page.STATEMENT_EXPECTED)
    assert "ZZSECRET-statement-late" in customer.text(), "the statement page did not add its later secret"
    assert_no_secrets_in_agent(agent, "statement.html")

    sent = customer.browser.frames("sent")
    assert any((frame.json() or {}).get("t") == "snapshot" for frame in sent), "the customer browser sent no snapshot"
    leaks = frame_leaks.leaks_in(sent, masking_page.SECRET_PATTERN)
    if sdk_masks:
        assert not leaks, f"the SDK sent secrets (they must never leave the page): {frame_leaks.describe(leaks)}"
    else:
        # Otherwise this run would prove nothing about the filter.
        sent_secrets = {secret for leak in leaks for secret in leak.found}
        for secret in ("ZZSECRET-ssn-edited", "ZZSECRET-password-typed", "ZZSECRET-statement-late"):
            assert secret in sent_secrets, f"with testOnlyDisableMasking the SDK still masked {secret} (on both pages it must not)"


def test_a_single_page_navigation_gets_the_rules_of_its_new_address(t):
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
    assert_no_secrets_in_agent(agent, "after history.pushState")


def test_changed_masking_rules_apply_to_a_live_session(t):
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


def test_the_sdks_masking_equals_the_filters(t):
    # Masked in the browser, masked again by the filter: the filter has nothing left to change.
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")
    assert_sdk_equals_filter(customer, agent, "masking.html")
    customer.browser.driver.find_element(By.ID, "to-statement").click()
    wait_for("the agent console names statement.html", lambda: (agent.header("customer-url") or "").strip(),
             check=lambda url: url.endswith("/demo/statement.html"))
    assert_sdk_equals_filter(customer, agent, "statement.html (maskPage)")
    assert_no_secrets_in_agent(agent, "statement.html")


def test_the_sdk_refuses_what_the_rules_forbid_even_if_the_filter_lets_it_through(t):
    # A click on a masked element arrives at the customer's relay as if a filter had let it
    # through (published straight onto cobrowse.sharer, standing in for a stale or broken filter):
    # the SDK, the second gate, acts on nothing masked.
    customer, agent, session_id = t.shared_session(path="/demo/masking.html")
    wait_for("the agent's view shows the masking page", lambda: agent.element_text("#visible-heading"),
             check=lambda text: text == "Your account")
    grant_control(customer, agent)
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


CUSTOMER_MARK = "rgba(124, 58, 237, 0.55)"


def test_masked_and_no_agent_elements_are_framed_and_blocked_ones_are_grey_boxes(t):
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
