"""The live path: what the customer's page shows, how it changes and what is typed into it
reach the agent's view (through relays A and B, in order, a thousand mutations at a time,
without the SDK reading layout in its observer), passwords and card numbers never do; a
Shift_JIS page arrives intact; navigating keeps the session, leaving the site pauses it; the
dev endpoints exist only in dev mode."""

import re

from selenium.webdriver.common.by import By
from selenium.webdriver.support.ui import Select

import browsers
import frame_leaks
import japanese_page
import stack
from browsers import wait_for
from people import normalized


PASSWORD = "Hunter2-Secret!"
CARD_NUMBER = "4111 1111 1111 1111"


def test_agent_sees_the_customers_page_text_on_join(t):
    customer, agent, session_id = t.shared_session()
    text = agent.wait_same_text(customer)
    assert "Small things for calm homes" in text, f"the shop's headline is not in the shared text: {text[:200]!r}"
    label = agent.header("session-label") or ""
    assert re.sub(r"\D", "", label) == session_id, f"#session-label shows {label!r}, not session {session_id}"


def test_customer_page_mutations_appear_in_the_agents_view(t):
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


def test_typed_values_reach_the_agent_but_passwords_never_leave_the_customers_browser(t):
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
    received = agent.browser.frames("received")
    assert received, "the agent browser's performance log shows no WebSocket frames at all"
    leaked = frame_leaks.leaks_in(received, secrets)
    assert not leaked, f"the password reached the agent console: {frame_leaks.describe(leaked)}"
    sent = customer.browser.frames("sent")
    assert any('"input"' in frame.payload for frame in sent), "the customer browser sent no input frames"
    leaked = frame_leaks.leaks_in(sent, secrets)
    assert not leaked, f"the customer's SDK sent the password: {frame_leaks.describe(leaked)}"
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
    leaked = frame_leaks.leaks_in(agent.browser.frames("received"), ["4111"])
    assert not leaked, f"the card number reached the agent console: {frame_leaks.describe(leaked)}"


def test_shift_jis_page_text_arrives_intact(t):
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


def test_navigating_to_another_page_keeps_the_session(t):
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


def test_sharer_and_agent_on_different_relays(t):
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


def test_a_thousand_rapid_mutations_arrive_complete_and_in_order(t):
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


def test_added_nodes_are_sent_without_reading_layout_and_still_arrive_whole(t):
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
    leaked = frame_leaks.leaks_in(customer.browser.frames("sent"), ["BURST-BLOCKED-SECRET", "id-photo.svg?burst"])
    assert not leaked, f"the blocked content left the customer's browser: {frame_leaks.describe(leaked)}"


def test_leaving_the_site_pauses_and_coming_back_resumes(t):
    customer, agent, session_id = t.shared_session()
    agent.wait_same_text(customer)
    # localhost is another origin than 127.0.0.1: no session there.
    customer.open(t.relay_a, "/demo/second.html", host="localhost")
    try:
        agent.wait_state("paused", within=30)
    except browsers.WaitTimeout as error:
        sharers = stack.relay_sockets(t.relay_a).get("sharer")
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


def test_dev_endpoints_exist_only_in_dev_mode(t):
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
