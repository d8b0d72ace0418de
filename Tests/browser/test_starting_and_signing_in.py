"""Starting a session and signing the console in: a voice call's session starts with the code
the agent reads out and ends with the call; the agent console signs in without pasted tokens
(issue 15: a contact-center desktop that frames it, by postMessage, desktop.py, while a page
on another origin, or another frame, is ignored; its address once, the token kept for the
tab, the next session after an end; docs/agent-console.md); and what the customer sees when
CoBrowse.start fails (expired token, ended interaction, unreachable relay; docs/sdk.md)."""

import base64
import hashlib
import hmac
import json
import re
import time
import urllib.parse
import urllib.request
import uuid

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.by import By

import desktop
import stack
from browsers import wait_for
from people import BAR_AGENT_RECONNECTING, BAR_WATCHED, CODE_PROMPT
from session_end import (
    DEFAULT_END_NOTICE_SECONDS, END_NOTICE_SECONDS, WATCH, console_says_ended,
    customer_sees_the_end,
)


def test_a_voice_call_starts_with_the_code_the_agent_reads_out_and_ends_with_the_call(t):
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
    wait_for("the SDK's code prompt opens", lambda: customer.code_prompt(), check=lambda prompt: prompt is not None)
    customer.type_code("000000" if code != "000000" else "000001")
    prompt = wait_for("a wrong code is refused in the prompt", lambda: customer.code_prompt(),
                      check=lambda prompt: bool(prompt) and prompt["refusal"] == "code-unknown")
    assert "not right" in prompt["error"], prompt
    customer.type_code(code)
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
    customer_sees_the_end(customer, "interaction-ended", WATCH, notice_seconds=DEFAULT_END_NOTICE_SECONDS)
    console_says_ended(agent, "interaction-ended")


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


def test_a_contact_center_desktop_signs_the_console_in_by_postmessage_and_no_other_page_can(t):
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


def test_the_console_takes_a_token_from_its_address_once_and_keeps_it_for_the_tab(t):
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


def test_after_a_session_ends_the_console_joins_another_with_the_same_token(t):
    customer, agent, first = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    browser = agent.browser
    token = _kept_sign_in(browser)["token"]
    customer.click_bar("button.exit")
    console_says_ended(agent, "customer-exited", by="customer")
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
    notice = wait_for(f"the customer's page says {sentence!r}", lambda: customer.failure_notice(),
                      check=lambda value: bool(value) and value["text"] == sentence)
    assert notice == {"text": sentence, "role": "alert", "failure": code, "label": "Close"}, f"the failure notice is {notice}"
    assert customer.js("return CoBrowse.sessionId") is None and customer.bar_session_id() is None, "a failed start shows a session"
    assert customer.end_notice() is None, "a failed start shows the end notice"
    assert customer.events("ended") == [], f"a failed start sent ended events: {customer.events('ended')}"
    return error


def _notice_times(customer):
    return customer.js("return window.__failureNotices")


def test_a_start_that_fails_tells_the_customer_why(t):
    customer = t.customer()
    customer.open(t.relay_a)
    customer.js(WATCH_FAILURE_NOTICES)

    # An expired interaction token: the notice stays (failureNoticeSeconds 60) until closed.
    expired = _signed_token({"interaction_id": f"ix-{uuid.uuid4().hex[:12]}", "channel": "chat", "exp": int(time.time()) - 60})
    _start_fails(customer, expired, "expired-token", failureNoticeSeconds=60)
    host = customer.browser.driver.find_element(By.ID, "cobrowse-start-failed")
    host.shadow_root.find_element(By.CSS_SELECTOR, "button.close").click()
    assert customer.failure_notice() is None, "the failure notice stays after its close button was clicked"
    customer.assert_as_before("after the expired token's notice was closed")

    # An interaction that ended: a new start in it is refused; the notice goes by itself.
    interaction = f"ix-{uuid.uuid4().hex[:12]}"
    customer.start_session_with(interaction=interaction, endNoticeSeconds=END_NOTICE_SECONDS)
    t.stack.publish_interaction("ended", interaction, "chat")
    customer_sees_the_end(customer, "interaction-ended", WATCH)
    status, body = t.relay_a.get("/dev/interaction-token?" + urllib.parse.urlencode({"interaction": interaction}))
    assert status == 200, f"/dev/interaction-token answered {status}"
    seconds = 2
    _start_fails(customer, json.loads(body)["token"], "interaction-ended", failureNoticeSeconds=seconds)
    wait_for(f"the failure notice goes away by itself after {seconds} s", lambda: customer.failure_notice(),
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
