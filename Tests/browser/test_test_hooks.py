"""Test hooks (issue 16): `CoBrowse.start({testOnlyDisableMasking: true})` and the console's
`sendRaw` exist for tests of the masking filter and the relay's refusals, and work only where
the relay is in dev mode (its `started` and `joined` say `testHooks`). A production relay never
says it: the page is masked as always and the console has no `sendRaw` (docs/sdk.md,
docs/agent-console.md, docs/stream-protocol.md)."""

import json

from selenium.webdriver.common.by import By

import csp_site
from browsers import wait_for
from frame_leaks import describe, leaks_in


def _token(relay, path):
    status, body = relay.get(path)
    assert status == 200, f"{relay.name} {path} answered {status}: {body[:200]}"
    return json.loads(body)["token"]


def test_only_a_relay_in_dev_mode_lets_a_page_go_unmasked_or_a_console_send_raw(t):
    for dev_mode in (True, False):
        kind = "dev" if dev_mode else "production"
        # A page of another origin loads the SDK from a relay of this kind (the demo shop
        # exists only in dev mode); the tokens come from the stack's dev relay, as a contact
        # center's would.
        site = csp_site.Site()
        # Any origin: the site's page and the relay's own console both open sockets on it.
        relay = t.stack.start_relay(f"dom-relay-{kind}-hooks", dev_mode=dev_mode, env={"ALLOWED_ORIGINS": "*"}, wait=True)
        site.relay_origin = relay.base_url
        try:
            customer = t.customer()
            customer.browser.get(site.url("strict"))
            wait_for("the SDK replaced the snippet's stub", lambda: customer.js("return window.CoBrowse.stub !== true"))
            customer.js("""
                window.__started = null;
                CoBrowse.start({ interactionToken: arguments[0], testOnlyDisableMasking: true }).then(
                  ({ sessionId }) => { window.__started = sessionId; }, (error) => { window.__started = 'error: ' + error.message; });""",
                        _token(t.relay_a, "/dev/interaction-token"))
            session_id = wait_for(f"CoBrowse.start on the {kind} relay", lambda: customer.js("return window.__started"))
            assert not str(session_id).startswith("error"), f"the start on the {kind} relay failed: {session_id}"

            # A password typed, then a public word: once the word was sent, so was (or not) the password.
            secret, marker = f"hunter2-{kind}-hook", f"public-{kind}-marker"
            customer.browser.driver.find_element(By.ID, "password").send_keys(secret)
            name = customer.browser.driver.find_element(By.ID, "name")
            name.clear()
            name.send_keys(marker)
            wait_for(f"the SDK sent the public word ({kind} relay)",
                     lambda: leaks_in(customer.browser.frames("sent"), [marker]), check=bool)
            leaked = leaks_in(customer.browser.frames("sent"), [secret])
            if dev_mode:
                assert leaked, "testOnlyDisableMasking did not unmask the page on a relay in dev mode: the test proves nothing"
            else:
                assert not leaked, f"testOnlyDisableMasking unmasked the page on a production relay: {describe(leaked)}"
                assert any("testOnlyDisableMasking ignored" in line for line in customer.browser.console()), \
                    "the SDK did not say it ignored testOnlyDisableMasking"

            # The console joined through the same relay: sendRaw only from a dev relay's `joined`.
            agent = t.agent()
            agent.browser.get(f"{relay.base_url}/agent/")
            agent.browser.js("""
                document.getElementById('agent-token').value = arguments[0];
                document.getElementById('session-id').value = arguments[1];
                document.getElementById('join').click();""", agent.token(t.relay_a), session_id)
            agent.wait_state("live")
            has_send_raw = agent.browser.js("return typeof window.cobrowseConsole.sendRaw === 'function'")
            assert has_send_raw is dev_mode, f"the console's sendRaw exists: {has_send_raw}, with a {kind} relay"
            customer.end()
        finally:
            site.close()
            t.stack.stop_service(relay)
