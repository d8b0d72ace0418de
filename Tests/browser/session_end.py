"""How a session's end looks from each side (issue 6), shared by the tests that end sessions:
the customer's end notice and the agent console's #notice by end reason, who ends sessions for
the contact center's events and the timeouts, and the checks that the customer's page is left
as it was, that a grace was kept, and that a session is still live. The watch runs with
stack.WATCH_ENV: messaging times out in seconds, chat (the demo's button) does not, voice never;
the agent's and the customer's graces are seconds."""

import time

from selenium.webdriver.common.by import By

import stack
from browsers import wait_for


# How long the end notice stays in the sessions the tests start through CoBrowse.start
# (`endNoticeSeconds`); sessions started with the demo's button keep the SDK's default.
END_NOTICE_SECONDS = 2
DEFAULT_END_NOTICE_SECONDS = 8
# What the customer's end notice says (docs/sdk.md) and the agent console's #notice
# (docs/agent-console.md), by end reason. agent-exited names the agent in the console.
CUSTOMER_SENTENCES = {
    "customer-exited": "You ended co-browsing.",
    "agent-exited": "The agent ended co-browsing.",
    "interaction-ended": "Co-browsing ended because your conversation with us ended.",
    "interaction-transferred": "Co-browsing ended because your conversation was transferred to another agent.",
    "interaction-conferenced": "Co-browsing ended because more people joined your conversation.",
    "inactivity": "Co-browsing ended after a period of inactivity.",
    "no-agent-joined": "Co-browsing ended because no agent joined.",
    "agent-absent": "Co-browsing ended because the agent left.",
    "customer-absent": "Co-browsing ended because this page was closed.",
}


AGENT_SENTENCES = {
    "customer-exited": "The customer ended the session.",
    "interaction-ended": "The session ended because the contact-center interaction ended.",
    "interaction-transferred": "The session ended because the interaction was transferred to another agent.",
    "interaction-conferenced": "The session ended because the interaction became a conference.",
    "inactivity": "The session ended after a period of inactivity.",
    "agent-absent": "The session ended because the agent's console was gone for too long.",
    "customer-absent": "The session ended because the customer's page was gone for too long.",
}


# Who ends sessions for the contact center's events and the timeouts (`session.endedBy`).
WATCH = "system:interaction-watch"


def watch_seconds(name):
    """One of the interaction watch's timeouts as the stack runs it (stack.WATCH_ENV), in seconds."""
    return float(stack.WATCH_ENV[name])


def customer_sees_the_end(customer, reason, by, notice_seconds=END_NOTICE_SECONDS, close=False):
    """The customer's SDK ended the session with `reason`, ended by `by`: its end notice says
    why (no notice if `notice_seconds` is 0), nothing else of the session is left on the page,
    its socket is closed and `ended` said who; then the notice goes, after `notice_seconds` or
    when its close button is clicked, and the page is as before the session. Returns when the
    end showed (time.monotonic())."""
    sentence = CUSTOMER_SENTENCES[reason]
    if notice_seconds:
        notice = wait_for(f"the customer's page shows the end notice {sentence!r}", customer.end_notice,
                          check=lambda notice: bool(notice) and notice["text"] == sentence)
        ended_at = time.monotonic()
        assert notice["role"] == "status" and notice["reason"] == reason, f"the end notice is {notice}"
    else:
        wait_for("the customer's SDK ends the session (CoBrowse.sessionId null)", lambda: customer.js("return CoBrowse.sessionId"),
                 check=lambda value: value is None)
        ended_at = time.monotonic()
    wait_for("the customer's socket to the relay (/ws/share) is closed", lambda: customer.browser.open_sockets("/ws/share"),
             check=lambda sockets: not sockets, within=5)
    events = customer.events("ended")
    assert events == [{"reason": reason, "by": by}], f"the SDK's ended events are {events}, not [{{reason: {reason}, by: {by}}}]"
    customer.assert_as_before("as the session ended", notice=bool(notice_seconds))
    if close:
        host = customer.browser.driver.find_element(By.ID, "cobrowse-ended")
        host.shadow_root.find_element(By.CSS_SELECTOR, "button.close").click()
        assert customer.end_notice() is None, "the end notice stays after its close button was clicked"
    elif notice_seconds:
        wait_for(f"the end notice goes away after {notice_seconds} s", customer.end_notice,
                 check=lambda notice: notice is None, within=notice_seconds + 3)
        shown = time.monotonic() - ended_at
        assert shown >= notice_seconds - 0.5, f"the end notice went away after {shown:.1f} s, not {notice_seconds} s"
    else:
        time.sleep(0.5)
        assert customer.end_notice() is None, "an end notice shows with endNoticeSeconds 0"
    customer.assert_as_before("after the end notice" if notice_seconds else "after the end")
    return ended_at


def console_says_ended(agent, reason, sentence=None, by=WATCH):
    """The agent's console shows that the session ended with `reason`, ended by `by`: state
    ended, #notice with the sentence, no controls, its socket closed. Returns when
    (time.monotonic())."""
    sentence = sentence or AGENT_SENTENCES[reason]
    agent.wait_state("ended")
    ended_at = time.monotonic()
    notice = agent.notice()
    assert notice == {"text": sentence, "shown": True, "kind": "ended", "reason": reason, "by": by}, \
        f"{agent.name}'s console's #notice is {notice}, not {sentence!r} (reason {reason}, by {by})"
    assert not agent.shown("request-control") and not agent.shown("end-session"), "the controls stay after the end"
    wait_for(f"{agent.name}'s socket to the relay (/ws/view) is closed", lambda: agent.browser.open_sockets("/ws/view"),
             check=lambda sockets: not sockets, within=5)
    return ended_at


def ended_after_the_grace(ended_at, closing, grace, what):
    """The session ended no earlier than the grace allows. `closing` is when the test began to
    close `what` (its socket closes somewhere inside quit(), which can take a second on a busy
    machine). The watch counts the grace from the first relay report after the socket closed
    (docs/interactions.md), so the full grace, less a clock tick, must have passed."""
    earliest = grace - 0.25
    assert ended_at - closing >= earliest, \
        f"the session ended {ended_at - closing:.1f} s after {what} began to close (grace {grace:.1f} s)"


def still_live(customer, session_id, agents, since, seconds):
    """Waits until `seconds` (and one more) have passed `since`, then checks that the session
    is still live on every side."""
    time.sleep(max(0.0, since + seconds + 1 - time.monotonic()))
    assert customer.js("return CoBrowse.sessionId") == session_id and customer.bar_session_id() == session_id, \
        f"the customer's session ended: CoBrowse.sessionId is {customer.js('return CoBrowse.sessionId')!r}, notice {customer.end_notice()}"
    for agent in agents:
        assert agent.state() == "live", f"{agent.name}'s console is {agent.state()!r}: {agent.header('notice')!r}"
