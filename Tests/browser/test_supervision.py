"""The supervisor's live view (issue 18): a supervisor's console lists every live session without
knowing a session ID (`#live-sessions`, refreshed every 2 s from the relay), with the agent,
channel, state, mode, duration, observers and the masking filter's health, and observes one
read-only with a click; an agent's token gets no list (docs/agent-console.md, "Supervisor's
live view")."""

import re

from selenium.webdriver.common.by import By

import languages
from browsers import wait_for


LEAD_NAME = "Ana Ruiz"

# One row of the list, as the supervisor's page shows it (null: no row for that session).
ROW = """
const row = document.querySelector(`#live-sessions tr[data-session="${arguments[0]}"]`);
if (!row) return null;
const text = (selector) => { const e = row.querySelector(selector); return e ? e.textContent : null; };
const button = row.querySelector('button.observe');
return {
  listShown: !document.getElementById('live-sessions').hidden,
  session: text('th.session'), agent: text('td.agent'), channel: text('td.channel'), state: text('td.state'),
  mode: text('td.mode'), duration: text('td.duration'), observers: text('td.observers'),
  healthStatus: text('.health-status'), latency: text('.health-latency'), resyncs: text('.health-resyncs'),
  dataState: row.dataset.state || null, dataMode: row.dataset.mode || null, dataHealth: row.dataset.health || null,
  observe: button ? { text: button.textContent, label: button.getAttribute('aria-label'), disabled: button.disabled } : null,
  focused: document.activeElement === button, sameRow: row.__kept === true,
};"""


def _row(agent, session_id):
    return agent.browser.js(ROW, session_id)


def _list_shown(agent):
    return agent.browser.js("const s = document.getElementById('live-sessions'); return !s.hidden && s.getClientRects().length > 0;")


def _kept_token(agent):
    return agent.browser.js("const kept = sessionStorage.getItem('cobrowse.console'); return kept && JSON.parse(kept).token;")


def _bar_viewers(customer):
    return customer.js("""
        const bar = document.getElementById('cobrowse-bar');
        const element = bar && bar.shadowRoot && bar.shadowRoot.querySelector('.bar');
        return element ? element.dataset.viewers || null : null;""")


def _pattern(message):
    """A regular expression for a catalogue message whose placeholders are numbers or clock times ("4:05")."""
    pattern = re.escape(message)
    for name in languages.placeholders(message):
        pattern = pattern.replace(re.escape("{" + name + "}"), r"\d+(?::\d\d)*")
    return re.compile(f"^{pattern}$")


def _open_console_with_typed_token(agent, relay, token):
    """The console signed out, the token typed into its form, nothing else."""
    agent.browser.get(f"{relay.base_url}/agent/")
    agent.wait_state("signed-out")
    agent.browser.driver.find_element(By.ID, "agent-token").send_keys(token)


def test_a_supervisor_picks_a_live_session_from_the_list_and_observes_it_read_only(t):
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session_with(channel="chat")
    sentences = customer.viewer_sentences()
    lead = t.agent()
    lead.join(t.relay_b, session_id, display_name=LEAD_NAME)
    customer.wait_bar_status(sentences["named"](LEAD_NAME))

    # The supervisor types only its token and presses Live sessions.
    supervisor = t.agent()
    browser = supervisor.browser
    token = supervisor.token(t.relay_a, role="supervisor", display_name="Sam Supervisor")
    _open_console_with_typed_token(supervisor, t.relay_a, token)
    en = languages.catalogues(browser, "agent")["en"]
    assert not _list_shown(supervisor), "the live sessions show before the supervisor asked"
    supervisor.click("show-live-sessions")
    row = wait_for(f"the supervisor's list has a row for session {session_id}, active", lambda: _row(supervisor, session_id),
                   check=lambda found: bool(found) and found["listShown"] and found["dataState"] == "active")
    assert (row["agent"], row["channel"], row["state"], row["mode"], row["dataMode"]) == \
        (LEAD_NAME, en["liveSessions.channel.chat"], en["liveSessions.state.active"], en["mode.pointer"], "pointer"), f"the row: {row}"
    assert re.sub(r"\D", "", row["session"]) == session_id, f"the row's session cell says {row['session']!r}"
    assert row["observers"] == "0", f"no observer yet, the row says {row['observers']!r}"
    assert _pattern(en["liveSessions.sinceJoined"]).match(row["duration"]), f"the duration says {row['duration']!r}"
    assert row["observe"] == {"text": en["liveSessions.observe"], "disabled": False,
                              "label": languages.fill(en["liveSessions.observeLabel"], session=row["session"])}, row["observe"]
    # A 200 keeps the token for the tab, as a sign-in does: the form no longer shows the token field.
    assert _kept_token(supervisor) == token, "the supervisor's token is not kept for the tab after the list showed"
    assert not supervisor.shown("token-field"), "the token field still shows with the token kept"
    assert browser.js("return document.getElementById('agent-token').value") == "", "the typed token stayed in the field"
    assert supervisor.state() == "signed-out", "the list joined a session by itself"

    # The customer's page changes: the filter's next report gives the row a latency, and it is good.
    latency = _pattern(en["liveSessions.latency"])
    field = customer.browser.driver.find_element(By.ID, "full-name")

    def changed_page_and_row():
        field.send_keys("a")
        customer.js("window.demoShop.changeCart()")
        return _row(supervisor, session_id)

    row = wait_for("the row shows the filter's latency, health good", changed_page_and_row,
                   check=lambda found: bool(found) and found["dataHealth"] == "good" and bool(latency.match(found["latency"] or "")),
                   within=60, interval=1.0)
    assert row["healthStatus"] == en["liveSessions.health.good"], f"the health word is {row['healthStatus']!r}"
    assert _pattern(en["liveSessions.resyncs"]).match(row["resyncs"]), f"the resyncs say {row['resyncs']!r}"

    # Refreshes update the row in place: a focused Observe button keeps the focus.
    browser.js("""const row = document.querySelector(`#live-sessions tr[data-session="${arguments[0]}"]`);
                  row.__kept = true; row.querySelector('button.observe').focus();""", session_id)
    before = row["duration"]
    row = wait_for("a refresh updates the row's duration", lambda: _row(supervisor, session_id),
                   check=lambda found: bool(found) and found["duration"] != before)
    assert row["sameRow"] and row["focused"], f"the refresh rebuilt the row or took the focus: {row}"

    # Observe: a read-only observer of that session; the customer's bar counts two viewers.
    browser.driver.find_element(By.CSS_SELECTOR, f'#live-sessions tr[data-session="{session_id}"] button.observe').click()
    supervisor.wait_state("live")
    assert supervisor.header("session-label") == session_id, supervisor.header("session-label")
    assert browser.js("return document.body.dataset.role") == "observer", "the supervisor did not join as an observer"
    assert not _list_shown(supervisor), "the list still shows while the supervisor watches a session"
    supervisor.wait_same_text(customer, "the supervisor's view rebuilds the customer's page")
    assert not supervisor.shown("request-control") and not supervisor.shown("end-session"), \
        "an observer is offered Request control or End session"
    customer.wait_bar_status(sentences["count"](2))
    assert _bar_viewers(customer) == "2", f"the bar's data-viewers is {_bar_viewers(customer)!r}"

    # The lead ends the session: the observer's console says so, and its list comes back without the row.
    lead.click("end-session")
    supervisor.wait_state("ended")
    notice = wait_for("the observer's console says the session ended", supervisor.notice,
                      check=lambda found: found["shown"] and found["kind"] == "ended")
    assert notice["reason"] == "agent-exited", notice
    wait_for("the list shows again after the end, without the ended session",
             lambda: _list_shown(supervisor) and _row(supervisor, session_id) is None)

    # A reload with the token kept: the list shows by itself.
    browser.driver.refresh()
    supervisor.wait_state("signed-out")
    wait_for("after a reload the list shows by itself", lambda: _list_shown(supervisor))
    assert _row(supervisor, session_id) is None, "the ended session is listed after the reload"


def test_an_agents_token_gets_no_live_sessions(t):
    agent = t.agent()
    _open_console_with_typed_token(agent, t.relay_b, agent.token(t.relay_b))
    en = languages.catalogues(agent.browser, "agent")["en"]
    agent.click("show-live-sessions")
    wait_for("the form says only supervisors see every live session", lambda: agent.header("sign-in-error"),
             check=lambda text: text == en["liveSessions.notSupervisor"])
    assert agent.shown("sign-in-error"), "the refusal is not shown"
    assert not _list_shown(agent), "an agent's token got the list"
    assert agent.browser.js("return document.querySelectorAll('#live-sessions tr[data-session]').length") == 0
    assert _kept_token(agent) is None, "a token refused the list was kept for the tab"
