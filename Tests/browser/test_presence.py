"""Presence (issue 15): the customer's bar says who is watching: the lead agent's name when the
token carries one, and everyone, observers included ("2 people are viewing"); observers
joining and leaving are in the session's history (the registry's visits)."""

from browsers import wait_for


def _bar_viewers(customer):
    return customer.js("""
        const bar = document.getElementById('cobrowse-bar');
        const element = bar && bar.shadowRoot && bar.shadowRoot.querySelector('.bar');
        return element ? element.dataset.viewers || null : null;""")


def test_the_customers_bar_names_the_agent_and_counts_observers_who_join_and_leave(t):
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session()
    customer.record_events()
    sentences = customer.viewer_sentences()
    agent = t.agent()
    agent.join(t.relay_b, session_id, display_name="Ada Lovelace")
    customer.wait_bar_status(sentences["named"]("Ada Lovelace"))
    assert _bar_viewers(customer) == "1", f"the bar's data-viewers is {_bar_viewers(customer)!r} with the agent alone"

    # A supervisor on the other relay: two people are viewing.
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor", display_name="Sam Supervisor")
    customer.wait_bar_status(sentences["count"](2))
    assert _bar_viewers(customer) == "2"

    # The supervisor's console goes away (another page in its tab): the count follows at once.
    supervisor.browser.get("about:blank")
    customer.wait_bar_status(sentences["named"]("Ada Lovelace"))
    assert _bar_viewers(customer) == "1"
    viewers = [event["viewers"] for event in customer.events("viewersChanged")]
    assert viewers[-3:] == [
        [{"name": "Ada Lovelace", "role": "agent"}],
        [{"name": "Ada Lovelace", "role": "agent"}, {"name": "Sam Supervisor", "role": "supervisor"}],
        [{"name": "Ada Lovelace", "role": "agent"}],
    ], f"viewersChanged said {viewers}"

    # The history keeps both visits; the supervisor's with when it ended.
    history = wait_for("the registry's history has the supervisor's visit ended", lambda: t.stack.session_history(session_id),
                       check=lambda view: view and any(v.get("role") == "supervisor" and v.get("leftAt") for v in view.get("visits", [])))
    visits = history["visits"]
    assert [(v["agentID"], v.get("name"), v["role"]) for v in visits] == [
        (agent.name, "Ada Lovelace", "agent"), (supervisor.name, "Sam Supervisor", "supervisor")], f"visits: {visits}"
    assert "leftAt" not in visits[0] and visits[1]["leftAt"] >= visits[1]["joinedAt"], f"visits: {visits}"

    # Coming back is a second visit; the customer's Exit closes every open one.
    supervisor.join(t.relay_b, session_id, role="supervisor", display_name="Sam Supervisor")
    customer.wait_bar_status(sentences["count"](2))
    customer.end()
    history = wait_for("the registry's history after the end", lambda: t.stack.session_history(session_id),
                       check=lambda view: view and view.get("state") == "ended" and len(view.get("visits", [])) == 3)
    assert all(v.get("leftAt") for v in history["visits"]), f"an open visit after the end: {history['visits']}"
