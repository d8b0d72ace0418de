"""The end (issue 6): every way a session ends, and what each side is told: the customer, the
agent, the contact center's interaction events, and the interaction watch's inactivity,
no-agent and absence timeouts (run short: session_end.py); both sides say who or why and the
customer's page is left as it was (issue 11 too). The agent console may reload, or sit in
Chromium's back-forward cache, within the agent's grace, but not stay away."""

import re
import time
import uuid

from selenium.common.exceptions import WebDriverException
from selenium.webdriver.common.actions.action_builder import ActionBuilder
from selenium.webdriver.common.by import By

import browsers
import stack
from browsers import wait_for
from people import BAR_AGENT_RECONNECTING, BAR_WATCHED
from session_end import (
    DEFAULT_END_NOTICE_SECONDS, END_NOTICE_SECONDS, WATCH, console_says_ended,
    customer_sees_the_end, ended_after_the_grace, still_live, watch_seconds,
)


def test_the_customer_exits(t):
    customer, agent, _ = t.shared_session(endNoticeSeconds=60)
    customer.click_bar("button.exit")
    customer_sees_the_end(customer, "customer-exited", "customer", notice_seconds=60, close=True)
    console_says_ended(agent, "customer-exited", by="customer")


def test_the_customer_can_exit_while_reconnecting(t):
    """Exit pressed while the SDK has no socket (the network dropped it; or its relay went away)
    still reaches the registry, over HTTP: the agent is told the customer ended the session,
    at once, not a grace later that the customer was gone."""
    proxy = t.cut_proxy(t.relay_a)
    customer, agent, session_id = t.shared_session(sharer_relay=proxy, endNoticeSeconds=60)
    proxy.cut_sockets()
    agent.wait_state("paused")
    wait_for("the customer's bar says it is reconnecting", lambda: customer.js("""
        const bar = document.getElementById('cobrowse-bar');
        return bar.shadowRoot.querySelector('.status').textContent;"""), check=lambda text: "Reconnecting" in (text or ""))
    customer.click_bar("button.exit")
    customer_sees_the_end(customer, "customer-exited", "customer", notice_seconds=60, close=True)
    console_says_ended(agent, "customer-exited", by="customer")
    # And the SDK stays ended: sockets allowed again, nothing reconnects.
    proxy.restore()
    time.sleep(1.5)
    assert not customer.browser.open_sockets("/ws/share"), "the SDK opened a socket after the session ended"


def test_the_agent_ends_the_session(t):
    # Started with the demo's button: the end notice stays the SDK's default time.
    customer, agent, session_id = t.shared_session()
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    agent.click("end-session")
    by = f"agent:{agent.name}"
    customer_sees_the_end(customer, "agent-exited", by, notice_seconds=DEFAULT_END_NOTICE_SECONDS)
    console_says_ended(agent, "agent-exited", "You ended the session.", by=by)
    console_says_ended(supervisor, "agent-exited", f"The agent {agent.name} ended the session.", by=by)


def _an_interaction_event_ends_its_session(t, kind, reason, **fields):
    interaction = f"ix-{uuid.uuid4().hex[:12]}"
    customer, agent, _ = t.shared_session(interaction=interaction, endNoticeSeconds=END_NOTICE_SECONDS)
    t.stack.publish_interaction(kind, interaction, "chat", **fields)
    customer_sees_the_end(customer, reason, WATCH)
    console_says_ended(agent, reason)


def test_an_ended_interaction_ends_its_session(t):
    _an_interaction_event_ends_its_session(t, "ended", "interaction-ended")


def test_a_transferred_interaction_ends_its_session(t):
    _an_interaction_event_ends_its_session(t, "transferred", "interaction-transferred", agentId="agent-after-transfer")


def test_a_conferenced_interaction_ends_its_session(t):
    _an_interaction_event_ends_its_session(t, "conferenced", "interaction-conferenced")


def test_inactivity_ends_an_idle_messaging_session_but_never_a_voice_one(t):
    timeout = watch_seconds("INACTIVITY_TIMEOUT_MESSAGING")
    voice_began = time.monotonic()
    voice_customer, voice_agent, voice_session = t.shared_session(channel="voice", endNoticeSeconds=0)
    began = time.monotonic()
    customer, agent, _ = t.shared_session(channel="messaging", endNoticeSeconds=END_NOTICE_SECONDS)
    # Nobody does anything on either.
    ended_at = customer_sees_the_end(customer, "inactivity", WATCH)
    assert ended_at - began >= timeout - 0.5, f"the messaging session ended {ended_at - began:.1f} s after it began"
    console_says_ended(agent, "inactivity")
    # The voice session, idle since before the other began, outlives three of its timeouts.
    still_live(voice_customer, voice_session, [voice_agent], voice_began, 3 * timeout)
    assert t.stack.watch.process.poll() is None, "the interaction watch exited"
    # And ends when the customer exits; with endNoticeSeconds 0, without a notice.
    voice_customer.click_bar("button.exit")
    customer_sees_the_end(voice_customer, "customer-exited", "customer", notice_seconds=0)
    console_says_ended(voice_agent, "customer-exited", by="customer")


def test_a_busy_customer_keeps_a_messaging_session_alive(t):
    timeout = watch_seconds("INACTIVITY_TIMEOUT_MESSAGING")
    customer, agent, session_id = t.shared_session(channel="messaging", endNoticeSeconds=END_NOTICE_SECONDS)
    driver = customer.browser.driver
    # Each kind of activity alone, for longer than the timeout: first the mouse, then typing.
    for kind in ("mouse", "typing"):
        since = time.monotonic()
        step = 0
        while time.monotonic() < since + 1.5 * timeout:
            last_action = time.monotonic()
            if kind == "mouse":
                actions = ActionBuilder(driver)
                actions.pointer_action.move_to_location(200 + 40 * (step % 8), 300)
                actions.perform()
            else:
                driver.find_element(By.ID, "full-name").send_keys("a")
            step += 1
            time.sleep(1)
        still_live(customer, session_id, [agent], since, 0)
    # The relay saw the last action after `last_action`: the full timeout must pass from there.
    ended_at = customer_sees_the_end(customer, "inactivity", WATCH)
    assert ended_at - last_action >= timeout - 0.25, f"the session ended {ended_at - last_action:.1f} s after the customer's last action"
    console_says_ended(agent, "inactivity")


def test_a_session_no_agent_joins_ends(t):
    timeout = 3
    t.stack.restart_watch(NO_AGENT_TIMEOUT=str(timeout))
    try:
        customer = t.customer()
        customer.open(t.relay_a)
        began = time.monotonic()
        customer.start_session_with(endNoticeSeconds=END_NOTICE_SECONDS)
        ended_at = customer_sees_the_end(customer, "no-agent-joined", WATCH)
        assert ended_at - began >= timeout - 0.5, f"the session ended {ended_at - began:.1f} s after it began"
    finally:
        t.stack.restart_watch()


def test_the_agent_console_may_reload_but_not_stay_away(t):
    grace = watch_seconds("AGENT_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    # A reload: the console is gone for a moment, and joins again by itself with the token it
    # keeps for the tab (signing in again as well would race that rejoin with a second one).
    gone = time.monotonic()
    agent.browser.driver.refresh()
    agent.wait_state("live")
    still_live(customer, session_id, [agent, supervisor], gone, grace)
    # Closed for good: after the grace, the session ends (a supervisor is no lead agent).
    closing = time.monotonic()
    agent.browser.quit()
    ended_at = customer_sees_the_end(customer, "agent-absent", WATCH)
    ended_after_the_grace(ended_at, closing, grace, "the agent's console")
    console_says_ended(supervisor, "agent-absent")


def test_the_customer_may_leave_the_page_briefly_but_not_close_it(t):
    grace = watch_seconds("CUSTOMER_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    # A reload, a page of the site, and a trip to another site and back: all within the grace.
    gone = time.monotonic()
    customer.browser.driver.refresh()
    customer.open(t.relay_a, "/demo/second.html")
    customer.open(t.relay_a, "/demo/second.html", host="localhost")  # another origin: no session there
    agent.wait_state("paused")
    customer.browser.driver.back()
    agent.wait_state("live")
    still_live(customer, session_id, [agent], gone, grace)
    # The tab closed for good: after the grace, the session ends.
    closing = time.monotonic()
    customer.browser.quit()
    ended_at = console_says_ended(agent, "customer-absent")
    ended_after_the_grace(ended_at, closing, grace, "the customer's tab")


# In the agent's page: whether it is the very document that left (the back-forward cache gave it
# back) or a new one, and what the browser says about it.
CONSOLE_RESTORED = """
const entry = performance.getEntriesByType('navigation')[0] || {};
return { path: location.pathname, kept: window.__leftForTheCache === arguments[0], shows: window.__pageshows || null,
         navigation: entry.type || null, notRestored: entry.notRestoredReasons ? JSON.stringify(entry.notRestoredReasons) : null };
"""


def _console_leaves_for_another_page(agent, relay):
    """The agent's console goes to another page of its relay's site (the demo's orders page),
    which leaves the console in the browser's back-forward cache. Returns a token naming the
    document that left, and when it began to leave (time.monotonic())."""
    token = uuid.uuid4().hex
    agent.browser.js("""
        window.__leftForTheCache = arguments[0];
        window.__pageshows = [];
        addEventListener('pageshow', (event) => window.__pageshows.push(event.persisted));""", token)
    leaving = time.monotonic()
    agent.browser.get(f"{relay.base_url}/demo/second.html?still")
    wait_for("the agent's browser shows the other page", lambda: agent.browser.js("return location.pathname"),
             check=lambda path: path == "/demo/second.html")
    return token, leaving


def _console_comes_back_from_the_cache(agent, token):
    """history.back() to the console; fails loudly unless Chromium restored the very console
    page from its back-forward cache (this is what the test is about: a console loaded anew
    is what the_agent_console_may_reload_but_not_stay_away covers)."""
    agent.browser.js("history.back()")

    def probe():
        try:
            return agent.browser.js(CONSOLE_RESTORED, token)
        except WebDriverException:  # between the two documents
            return None

    state = wait_for("history.back() takes the agent's browser back to the console", probe,
                     check=lambda value: bool(value) and value["path"] == "/agent/")
    if not state["kept"] or state["shows"] != [True]:
        raise AssertionError("Chromium did not restore the agent console from the back-forward cache, so this test proves "
                             f"nothing: navigation type {state['navigation']!r}, pageshow persisted {state['shows']}, "
                             f"not restored because {state['notRestored']}")
    return state


def test_an_agent_console_in_the_back_forward_cache_is_away_until_it_comes_back(t):
    """A console navigated away stays alive in the back-forward cache: it must leave the session
    (close its socket) so the customer is told the agent is reconnecting, and rejoin the same
    session when shown again within the grace."""
    grace = watch_seconds("AGENT_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    agent.wait_same_text(customer)
    customer.wait_bar_status(BAR_WATCHED)
    token, gone = _console_leaves_for_another_page(agent, t.relay_b)
    try:
        customer.wait_bar_status(BAR_AGENT_RECONNECTING, within=grace)
    except browsers.WaitTimeout as error:
        viewers = stack.relay_sockets(t.relay_b).get("viewer")
        raise AssertionError(f"{error}. Relay B counts {viewers} viewer socket(s) open"
                             + (": the console went into the back-forward cache with its socket open" if viewers else "")) from None
    assert time.monotonic() - gone < grace - 1, \
        f"the customer was told only {time.monotonic() - gone:.1f} s after the console left: no time left to come back within the grace"
    _console_comes_back_from_the_cache(agent, token)
    agent.wait_state("live")
    customer.wait_bar_status(BAR_WATCHED)
    label = re.sub(r"\D", "", agent.header("session-label") or "")
    assert label == session_id, f"the console came back to session {label!r}, not {session_id}"
    # The grace that began when the console left passes: the session goes on, and the view follows the page.
    still_live(customer, session_id, [agent], gone, grace)
    customer.js("document.querySelector('.hero h1').textContent = 'Seen after the back-forward cache';")
    wait_for("a change on the customer's page shows in the console that came back", lambda: agent.element_text(".hero h1"),
             check=lambda text: text == "Seen after the back-forward cache")
    assert customer.bar_status() == BAR_WATCHED, f"the customer's bar says {customer.bar_status()!r}"


def test_an_agent_console_left_in_the_back_forward_cache_ends_the_session_after_the_grace(t):
    grace = watch_seconds("AGENT_ABSENT_GRACE")
    customer, agent, session_id = t.shared_session(endNoticeSeconds=END_NOTICE_SECONDS)
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    # The lead and the supervisor: the bar counts both (presence).
    customer.wait_bar_status(customer.viewer_sentences()["count"](2))
    token, leaving = _console_leaves_for_another_page(agent, t.relay_b)
    customer.wait_bar_status(BAR_AGENT_RECONNECTING, within=grace)
    # Away for good: after the grace, the session ends (a supervisor is no lead agent).
    ended_at = customer_sees_the_end(customer, "agent-absent", WATCH)
    ended_after_the_grace(ended_at, leaving, grace, "the agent's console")
    console_says_ended(supervisor, "agent-absent")
    # Shown again, the lead's console learns that the session is over (its rejoin is refused).
    _console_comes_back_from_the_cache(agent, token)
    agent.wait_state("ended")
    notice = agent.notice()
    assert notice["shown"] and notice["kind"] == "ended" and notice["text"] == "The session has ended.", \
        f"the console that came back after the end shows {notice}"
    assert not agent.shown("request-control") and not agent.shown("end-session"), "the controls stay after the end"
    # Counted by the relay: Chromium's DevTools log may miss the close of a socket closed as its
    # page went into the cache.
    wait_for("relay B, where the console that came back connects, has no viewer socket open",
             lambda: stack.relay_sockets(t.relay_b).get("viewer"), check=lambda count: count == 0, within=5)
