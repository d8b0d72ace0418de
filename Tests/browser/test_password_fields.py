""""Show password" toggles (show-password.html): a field that is or ever was a password field
stays masked, whatever its type becomes and whenever it changed (before sharing, in the task
that created the field, before a later snapshot). Its ids avoid the secret-sounding hints, so
nothing but its history masks it."""

from selenium.webdriver.common.by import By

import frame_leaks
import masking_page
from browsers import wait_for


SHOW_PASSWORD_PAGE = "/demo/show-password.html"
# Every secret typed on that page starts with this, and nothing else there does: a frame or view
# holding it holds a secret, or the first keystrokes of one.
TYPED_PREFIX = "ZZS"
SHOWN_FIELDS_PROBE = r"""
const values = {};
for (const field of doc.querySelectorAll('input[id$="-word"], input[id^="shown-word-"]')) values[field.id] = [field.type, field.value];
values.email = doc.getElementById('email') ? doc.getElementById('email').value : null;
return values;
"""


def _type(customer, element_id, text):
    customer.browser.driver.find_element(By.ID, element_id).send_keys(text)


def _toggle(customer, button_id, field_id, to):
    customer.browser.driver.find_element(By.ID, button_id).click()
    shown = customer.js("return document.getElementById(arguments[0]).type", field_id)
    assert shown == to, f"the customer's toggle made #{field_id} {shown!r}, not {to!r}"


def _assert_shown_fields_masked(agent, customer, fields, public, where):
    """The agent's view has the password fields, ever so, as `fields` says ({id: [type, value]}:
    the customer's type, and `****`, or nothing while empty), and `public` in #email (typed last:
    everything before it went through); no frame the agent got, none the customer's SDK sent and
    nothing in the agent's page holds a typed secret."""
    expected = dict(fields, email=public)

    def probe():
        values = agent.in_view(SHOWN_FIELDS_PROBE) or {}
        return {key: values.get(key) for key in expected}

    wait_for(f"{where}: {agent.name}'s view shows #email {public!r} and '****' in every password field, ever so",
             probe, check=lambda values: values == expected, within=30)
    for side, frames in (("the agent console got", agent.browser.frames("received")),
                         ("the customer's SDK sent", customer.browser.frames("sent"))):
        leaked = frame_leaks.leaks_in(frames, [TYPED_PREFIX])
        assert not leaked, f"{where}: {side} a typed secret: {frame_leaks.describe(leaked)}"
    dump = agent.browser.js(masking_page.AGENT_DOM_DUMP)
    assert TYPED_PREFIX not in dump, f"{where}: a typed secret is in {agent.name}'s view: …{dump[dump.index(TYPED_PREFIX) - 80:][:160]}…"


def _resync_from_the_console(agent, customer, fields, public, where):
    """The console asks for a snapshot (as after a gap): a fresh one arrives, still masked."""
    before = len(agent.received("snapshot"))
    agent.send_raw({"t": "resync"})
    wait_for(f"{where}: a new snapshot reaches the console after its resync", lambda: len(agent.received("snapshot")),
             check=lambda count: count > before)
    _assert_shown_fields_masked(agent, customer, fields, public, f"{where}, after the console's resync")


def test_password_fields_shown_before_sharing_stay_masked(t):
    customer = t.customer()
    customer.open(t.relay_a, SHOW_PASSWORD_PAGE)
    # Typed while hidden, shown, typed into again: all before Start co-browse.
    _type(customer, "early-word", "ZZSECRET-early-hidden")
    _toggle(customer, "show-early", "early-word", "text")
    _type(customer, "early-word", "-ZZSECRET-early-shown")
    # A field created as a password field and shown in the same task.
    customer.browser.driver.find_element(By.ID, "add-shown-field").click()
    _type(customer, "shown-word-1", "ZZSECRET-created-shown")
    assert TYPED_PREFIX in customer.js("return document.getElementById('early-word').value"), "the customer's typing went nowhere"
    session_id = customer.start_session()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    fields = {"early-word": ["text", "****"], "later-word": ["password", ""], "shown-word-1": ["text", "****"]}
    # Public text, not an e-mail address (the e-mail detector would mask one: pii tests).
    _type(customer, "email", "PUBLIC-ada")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada", "shown before sharing")
    # Typed into while shared, and shown again after a fresh snapshot.
    _type(customer, "early-word", "-ZZSECRET-early-while-shared")
    _type(customer, "shown-word-1", "-ZZSECRET-created-while-shared")
    _type(customer, "email", "-uk")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada-uk", "typed into while shared")
    _resync_from_the_console(agent, customer, fields, "PUBLIC-ada-uk", "shown before sharing")


def test_password_fields_shown_while_sharing_stay_masked_in_every_later_snapshot(t):
    customer, agent, session_id = t.shared_session(path=SHOW_PASSWORD_PAGE)
    wait_for("the agent's view shows the sign-in page", lambda: agent.element_text("#sign-in-heading"),
             check=lambda text: text == "Sign in")
    # A field shown by its toggle while shared.
    _type(customer, "later-word", "ZZSECRET-later-hidden")
    _toggle(customer, "show-later", "later-word", "text")
    _type(customer, "later-word", "-ZZSECRET-later-shown")
    # A field created as a password field and shown in the same task, while shared: its
    # mutation records carry the type's old value.
    customer.browser.driver.find_element(By.ID, "add-shown-field").click()
    _type(customer, "shown-word-1", "ZZSECRET-created-while-shared")
    fields = {"early-word": ["password", ""], "later-word": ["text", "****"], "shown-word-1": ["text", "****"]}
    _type(customer, "email", "PUBLIC-ada")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada", "shown while shared")
    # An observer joining asks the sharer for a snapshot: masked for both consoles.
    supervisor = t.agent()
    supervisor.join(t.relay_a, session_id, role="supervisor")
    _assert_shown_fields_masked(supervisor, customer, fields, "PUBLIC-ada", "after a supervisor joined")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada", "after a supervisor joined")
    # Hidden and shown again, typed into after the new snapshots, and one more snapshot.
    _toggle(customer, "show-later", "later-word", "password")
    _toggle(customer, "show-later", "later-word", "text")
    _type(customer, "later-word", "-ZZSECRET-later-after-snapshot")
    _type(customer, "shown-word-1", "-ZZSECRET-created-after-snapshot")
    _type(customer, "email", "-lovelace")
    _assert_shown_fields_masked(agent, customer, fields, "PUBLIC-ada-lovelace", "typed into after the snapshots")
    _resync_from_the_console(agent, customer, fields, "PUBLIC-ada-lovelace", "shown while shared")
    _assert_shown_fields_masked(supervisor, customer, fields, "PUBLIC-ada-lovelace", "the supervisor, after the resync")
