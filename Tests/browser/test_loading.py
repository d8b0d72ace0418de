"""Loading the SDK (docs/sdk.md): calls made on the loading snippet's stub before cobrowse.js
has loaded are replayed (snippet.html), and a page of another origin (csp_site.py) shares
under exactly the Content-Security-Policy docs/sdk.md asks for, and fails clearly without
each part of it."""

import json
import os
import re

import browsers
import csp_site
from browsers import wait_for
from context import ROOT
from masked_view import PREVIEW
from session_end import console_says_ended, customer_sees_the_end


# Run in the customer's page before its own scripts (CDP): holds back every script element the
# page adds for /v1/cobrowse.js until `__releaseSDK()`, as a slow network would.
HOLD_SDK = """
(() => {
  const append = Node.prototype.appendChild;
  const held = window.__sdkHeld = [];
  Node.prototype.appendChild = function (node) {
    if (node instanceof HTMLScriptElement && /\\/cobrowse\\.js$/.test(node.src)) { held.push([this, node]); return node; }
    return append.call(this, node);
  };
  window.__releaseSDK = () => {
    Node.prototype.appendChild = append;
    for (const [parent, node] of held.splice(0)) append.call(parent, node);
  };
})();
"""


def _interaction_token(relay):
    status, body = relay.get("/dev/interaction-token")
    assert status == 200, f"{relay.name} /dev/interaction-token answered {status}: {body[:200]}"
    return json.loads(body)["token"]


def _page_events(customer):
    """What the page's own subscriptions (made on the stub, in snippet.html) logged: event names."""
    return customer.js("return Array.from(document.querySelectorAll('#cobrowse-events li'), (li) => li.dataset.event)")


def test_calls_made_before_the_sdk_loads_are_queued_and_replayed(t):
    # The demo's snippet is the one docs/sdk.md documents (but for the relay's address).
    status, page = t.relay_a.get("/demo/snippet.html")
    assert status == 200, f"/demo/snippet.html answered {status}"
    scripts = [script for script in re.findall(r"<script>\n(.*?)</script>", page, re.S) if "stub: true" in script]
    documented = csp_site.documented_snippet().replace(csp_site.DOCUMENTED_SRC, "'/v1/cobrowse.js'")
    assert len(scripts) == 1 and csp_site.snippet_lines(scripts[0]) == csp_site.snippet_lines(documented), \
        "the snippet in /demo/snippet.html is not the one in docs/sdk.md (\"Loading it without blocking the page\")"
    with open(os.path.join(ROOT, "README.md"), encoding="utf-8") as handle:
        readme = [script for script in re.findall(r"<script>\n(.*?)</script>", handle.read(), re.S) if "stub: true" in script]
    assert len(readme) == 1 and csp_site.snippet_lines(readme[0]) == csp_site.snippet_lines(csp_site.documented_snippet()), \
        "the snippet in README.md (\"Quick start for integrators\") is not the one in docs/sdk.md"

    customer = t.customer()
    customer.browser.driver.execute_cdp_cmd("Page.addScriptToEvaluateOnNewDocument", {"source": HOLD_SDK})
    customer.open(t.relay_a, "/demo/snippet.html")
    held = customer.js("return window.__sdkHeld.map(([, script]) => script.src)")
    assert held == [f"{t.relay_a.base_url}/v1/cobrowse.js"], f"the snippet added {held}, not one script for /v1/cobrowse.js"
    # Calls on the stub while the SDK is held back: a start without a token, an end with nothing
    # to end, subscriptions (one unsubscribed at once), and the start.
    customer.js("""
        const stub = window.CoBrowse;
        const calls = window.__stubCalls = { events: [], stubbed: stub.stub === true && stub.sessionId === null, queuedBefore: stub.q.length };
        stub.start({}).then(() => { calls.tokenless = 'resolved'; }, (error) => { calls.tokenless = error.message; });
        stub.end();
        stub.on('started', ({ sessionId }) => calls.events.push('started ' + sessionId));
        const off = stub.on('started', () => calls.events.push('unsubscribed handler'));
        off();
        stub.on('agentJoined', ({ agentId }) => calls.events.push('agentJoined ' + agentId));
        stub.on('ended', ({ reason, by }) => calls.events.push('ended ' + reason + ' ' + by));
        const started = stub.start({ interactionToken: arguments[0], endNoticeSeconds: 2 });
        calls.promise = started instanceof Promise;
        calls.queuedHere = stub.q.length - calls.queuedBefore;
        started.then(({ sessionId }) => { calls.sessionId = sessionId; }, (error) => { calls.error = error.message; });
        window.__stub = stub;""", _interaction_token(t.relay_a))
    before = customer.js("return { stub: CoBrowse.stub === true, calls: __stubCalls }")
    assert before["stub"] and before["calls"]["stubbed"] and before["calls"]["promise"], f"no stub before the SDK loaded: {before}"
    # The 7 calls here (an unsubscribe queues nothing), after the page's own 7 subscriptions and demo.js's.
    assert before["calls"]["queuedHere"] == 7 and before["calls"]["queuedBefore"] >= 7, \
        f"the stub queued {before['calls']['queuedHere']} of the 7 calls here, after {before['calls']['queuedBefore']} of the page's"
    assert not customer.browser.open_sockets("/ws/share"), "a socket opened before the SDK loaded"

    customer.js("window.__releaseSDK()")
    outcome = wait_for("the queued start resolves (or rejects) once the SDK has loaded",
                       lambda: customer.js("return __stubCalls.sessionId || (__stubCalls.error && 'error: ' + __stubCalls.error) || null"),
                       check=lambda value: value is not None)
    assert re.fullmatch(r"\d{9}", outcome), f"the queued CoBrowse.start gave {outcome!r}"
    session_id = outcome
    assert customer.wait_bar_session_id() == session_id, "the bar shows another session than the queued start resolved"
    calls = wait_for("the queued subscription to 'started' fired", lambda: customer.js("return __stubCalls"),
                     check=lambda calls: calls["events"])
    assert calls["events"] == [f"started {session_id}"], \
        f"the stub's subscriptions got {calls['events']} (the unsubscribed handler must not run, the queued end must not end the session)"
    assert calls.get("tokenless") == "CoBrowse.start needs { interactionToken }", f"the queued start without a token gave {calls.get('tokenless')!r}"
    real = customer.js("""
        const d = Object.getOwnPropertyDescriptor(window, 'CoBrowse');
        return { writable: d.writable, configurable: d.configurable, frozen: Object.isFrozen(CoBrowse), stub: 'stub' in CoBrowse,
                 sessionId: CoBrowse.sessionId, mode: CoBrowse.mode, kept: [__stub.sessionId, __stub.mode, __stub.start === CoBrowse.start] };""")
    assert real == {"writable": False, "configurable": False, "frozen": True, "stub": False, "sessionId": session_id, "mode": "pointer",
                    "kept": [session_id, "pointer", True]}, f"after loading, window.CoBrowse is not the SDK's frozen API (or the stub does not lead to it): {real}"
    wait_for("the page's own subscriptions, made on the stub while it parsed, logged 'started'", lambda: _page_events(customer),
             check=lambda events: "started" in events)
    wait_for("demo.js (which kept the stub) hid its Start button on 'started'",
             lambda: customer.js("return document.getElementById('start-cobrowse').hidden"))

    agent = t.agent()
    agent.join(t.relay_b, session_id)
    agent.wait_same_text(customer)
    wait_for("the stub's subscription to 'agentJoined' fired", lambda: customer.js("return __stubCalls.events"),
             check=lambda events: f"agentJoined {agent.name}" in events)
    # The end, through the stub the page kept.
    customer.js("__stub.end()")
    wait_for("the stub's subscription to 'ended' fired", lambda: customer.js("return __stubCalls.events"),
             check=lambda events: "ended customer-exited customer" in events)
    console_says_ended(agent, "customer-exited", by="customer")
    assert _page_events(customer) == ["started", "agentJoined", "ended"], f"the page's log says {_page_events(customer)}"
    # demo.js starts the next session through the stub it kept.
    wait_for("demo.js shows its Start button again", lambda: customer.js("return !document.getElementById('start-cobrowse').hidden"))
    second = customer.start_session()
    assert second != session_id, "the demo's button resumed the ended session"
    # The next page of the site: a start queued there finds the session the page resumes.
    customer.open(t.relay_a, "/demo/snippet.html")
    customer.js("""
        window.__next = null;
        CoBrowse.start({ interactionToken: arguments[0] }).then(({ sessionId }) => { window.__next = sessionId; },
                                                                (error) => { window.__next = 'error: ' + error.message; });""",
                _interaction_token(t.relay_a))
    customer.js("window.__releaseSDK()")
    resumed = wait_for("the start queued on the next page settles", lambda: customer.js("return window.__next"),
                       check=lambda value: value is not None)
    assert resumed == second, f"a start queued on the next page gave {resumed!r}, not the running session {second}"
    assert customer.wait_bar_session_id() == second


def _csp_site(t):
    """The site of another origin with a policy per page (csp_site.Site), a relay that allows
    it (ALLOWED_ORIGINS), and a cut proxy in front of that relay, which is the relay as the site
    knows it. The caller closes the site and stops the relay."""
    site = csp_site.Site()
    relay = t.stack.start_relay("dom-relay-csp", env={"ALLOWED_ORIGINS": site.origin}, wait=True)
    proxy = t.cut_proxy(relay)
    site.relay_origin = proxy.base_url
    return site, relay, proxy


def _open_csp_page(customer, site, name):
    customer.browser.get(site.url(name))
    assert customer.js("return document.getElementById('policy-name').textContent") == name


def _start_on_csp_page(customer, relay, settle=True, **options):
    """CoBrowse.start on the site's page (through the stub while the SDK loads): the session ID,
    or {code, message} of the rejection (or, unless `settle`, nothing: window.__startResult
    says it once it settles)."""
    customer.js("""
        window.__startResult = null;
        CoBrowse.start(Object.assign({ interactionToken: arguments[0] }, arguments[1])).then(
          ({ sessionId }) => { window.__startResult = sessionId; },
          (error) => { window.__startResult = { code: error.code || null, message: error.message }; });""",
                _interaction_token(relay), options)
    if not settle:
        return None
    return wait_for("CoBrowse.start settles (resolves or rejects)", lambda: customer.js("return window.__startResult"),
                    check=lambda result: result is not None)


def _violations(customer):
    return customer.js("return cspViolations")


def test_a_site_with_a_strict_csp_shares_its_page_with_an_agent(t):
    # docs/sdk.md "Content-Security-Policy": a page on another origin whose policy is
    # `default-src 'none'` and exactly what the SDK needs (csp_site.POLICIES["strict"]).
    site, relay, proxy = _csp_site(t)
    try:
        customer = t.customer()
        _open_csp_page(customer, site, "strict")
        wait_for("the SDK replaced the snippet's stub", lambda: customer.js("return window.CoBrowse.stub !== true"))
        customer.baseline = customer.page_state()
        session_id = _start_on_csp_page(customer, relay, endNoticeSeconds=30)
        assert re.fullmatch(r"\d{9}", str(session_id)), f"CoBrowse.start under the strict policy gave {session_id!r}"
        customer.record_events()
        assert customer.wait_bar_session_id() == session_id
        agent = t.agent()
        agent.join(t.relay_b, session_id)
        agent.wait_same_text(customer)

        # Styled: the bar's <style> (style-src 'unsafe-inline'), the customer's mark (a
        # constructed sheet), and the page's rules were fetched (connect-src).
        bar = customer.js("""
            const host = document.getElementById('cobrowse-bar');
            return { position: getComputedStyle(host).position,
                     background: getComputedStyle(host.shadowRoot.querySelector('.bar')).backgroundColor };""")
        assert bar == {"position": "fixed", "background": "rgb(29, 36, 51)"}, f"the bar is not styled: {bar}"
        wait_for("the customer's mark outlines the password field", lambda: customer.js(
            "return getComputedStyle(document.getElementById('password')).outlineStyle"), check=lambda style: style == "dashed")
        warnings = [line for line in customer.browser.console() if "no masking rules" in line]
        assert not warnings, f"the SDK could not fetch the page's rules: {warnings}"

        # The agent's pointer and an annotation, drawn with their own <style>s.
        agent.wait_in_view("#heading")
        point = agent.point("#heading")
        agent.mouse(point["x"] - 5, point["y"])
        agent.mouse(point["x"], point["y"])
        wait_for("the customer's page shows the agent's pointer, styled", lambda: customer.js("""
            const host = document.getElementById('cobrowse-agent-pointer');
            const label = host && host.shadowRoot.querySelector('.label');
            return label && !host.shadowRoot.querySelector('.pointer').hidden ? getComputedStyle(label).backgroundColor : null;"""),
                 check=lambda colour: colour == "rgb(31, 95, 209)")
        agent.click_in_view("#heading")
        wait_for("the customer's page shows the agent's annotation, styled", lambda: customer.js("""
            const host = document.getElementById('cobrowse-agent-annotations');
            const circle = host && host.shadowRoot.querySelector('.cobrowse-annotation');
            return circle ? getComputedStyle(circle).borderTopStyle : null;"""), check=lambda style: style == "solid")

        # Exit while the SDK reconnects: the end goes over HTTP, a beacon to /cobrowse/end.
        proxy.cut_sockets()
        agent.wait_state("paused")
        customer.wait_bar_status("Reconnecting…")
        customer.click_bar("button.exit")
        notice = wait_for("the end notice shows, styled", lambda: customer.js("""
            const host = document.getElementById('cobrowse-ended');
            return host ? getComputedStyle(host).position : null;"""), check=lambda position: position is not None)
        assert notice == "fixed", f"the end notice is not styled (position {notice!r})"
        customer_sees_the_end(customer, "customer-exited", "customer", notice_seconds=30, close=True)
        console_says_ended(agent, "customer-exited", by="customer")
        proxy.restore()

        violations = _violations(customer)
        assert violations == [], f"the strict policy reported violations: {violations}"
    finally:
        site.close()
        t.stack.stop_service(relay)


def test_what_a_sites_csp_must_allow_for_the_sdk(t):
    # Each thing docs/sdk.md says a policy must allow, left out in turn (csp_site.POLICIES).
    site, relay, proxy = _csp_site(t)
    ws_origin = "ws" + proxy.base_url[len("http"):]
    try:
        customer = t.customer()

        def blocked(directive, prefix):
            return [v for v in _violations(customer) if v["directive"] == directive and (v["blocked"] or "").startswith(prefix)]

        # No connect-src: the socket (and the rules' fetch) is refused; start says unavailable.
        _open_csp_page(customer, site, "no-connect-src")
        try:
            result = _start_on_csp_page(customer, relay, failureNoticeSeconds=0)
        except browsers.WaitTimeout as error:
            raise AssertionError(f"{error}. Chromium fires only `error`, no `close`, on a WebSocket that connect-src refuses "
                                 "(readyState CLOSED at once): the SDK must settle start on that `error` too") from None
        assert result == {"code": "unavailable", "message": "could not reach the co-browse service"}, \
            f"CoBrowse.start without connect-src gave {result!r}"
        assert blocked("connect-src", ws_origin + "/ws/share"), f"no connect-src violation for the socket: {_violations(customer)}"
        assert blocked("connect-src", proxy.base_url + "/cobrowse/rules"), f"no connect-src violation for the rules: {_violations(customer)}"

        # The https: (here http:) origin alone does not cover the wss: (ws:) one.
        _open_csp_page(customer, site, "no-wss")
        result = _start_on_csp_page(customer, relay, failureNoticeSeconds=0)
        assert result == {"code": "unavailable", "message": "could not reach the co-browse service"}, \
            f"CoBrowse.start with connect-src {proxy.base_url} only gave {result!r}"
        assert blocked("connect-src", ws_origin), f"no connect-src violation for the socket: {_violations(customer)}"
        assert not blocked("connect-src", proxy.base_url), f"the rules' fetch was refused: {_violations(customer)}"

        # The relay not in script-src: cobrowse.js is refused, and the stub rejects the start.
        _open_csp_page(customer, site, "no-script-src")
        result = _start_on_csp_page(customer, relay)
        assert result == {"code": "unavailable", "message": "could not load the co-browse SDK"}, \
            f"CoBrowse.start without the relay in script-src gave {result!r}"
        assert blocked("script-src-elem", proxy.base_url + "/v1/cobrowse.js"), f"no script-src violation: {_violations(customer)}"
        assert customer.js("return CoBrowse.stub") is True, "the stub was replaced though cobrowse.js was refused"

        # No style-src 'unsafe-inline': sharing works, unstyled but for the customer's mark.
        _open_csp_page(customer, site, "no-inline-style")
        session_id = _start_on_csp_page(customer, relay, endNoticeSeconds=0)
        assert re.fullmatch(r"\d{9}", str(session_id)), f"CoBrowse.start without style-src gave {session_id!r}"
        agent = t.agent()
        agent.join(t.relay_b, session_id)
        agent.wait_same_text(customer)
        assert customer.js("return getComputedStyle(document.getElementById('cobrowse-bar')).position") != "fixed", \
            "the bar is styled though its <style> should have been refused"
        wait_for("the customer's mark (a constructed sheet) outlines the password field all the same", lambda: customer.js(
            "return getComputedStyle(document.getElementById('password')).outlineStyle"), check=lambda style: style == "dashed")
        assert blocked("style-src-elem", "inline"), f"no style-src violation for the bar's <style>: {_violations(customer)}"
        # What the SDK sets through element.style is not style-src's: the pointer's host stays fixed.
        agent.wait_in_view("#heading")
        point = agent.point("#heading")
        agent.mouse(point["x"] - 5, point["y"])
        agent.mouse(point["x"], point["y"])
        wait_for("the agent's pointer's host is placed through element.style all the same", lambda: customer.js("""
            const host = document.getElementById('cobrowse-agent-pointer');
            return host ? getComputedStyle(host).position : null;"""), check=lambda position: position == "fixed")
        customer.js("CoBrowse.end()")
        wait_for("the session ends", lambda: customer.js("return [CoBrowse.sessionId, sessionStorage.getItem('cobrowse.session')]"),
                 check=lambda state: state == [None, None])
        console_says_ended(agent, "customer-exited", by="customer")

        # A nonce with 'strict-dynamic', and no relay in script-src: trusted through the snippet.
        _open_csp_page(customer, site, "strict-dynamic")
        session_id = _start_on_csp_page(customer, relay, endNoticeSeconds=0)
        assert re.fullmatch(r"\d{9}", str(session_id)), f"CoBrowse.start under 'strict-dynamic' gave {session_id!r}"
        customer.wait_bar_session_id()
        assert _violations(customer) == [], f"'strict-dynamic' reported violations: {_violations(customer)}"
        customer.js("CoBrowse.end()")
        wait_for("the session ends", lambda: customer.js("return [CoBrowse.sessionId, sessionStorage.getItem('cobrowse.session')]"),
                 check=lambda state: state == [None, None])

        # Trusted Types are not supported: the snippet sets a script's src, and the SDK its shadow
        # roots' innerHTML, from strings.
        _open_csp_page(customer, site, "trusted-types")
        _start_on_csp_page(customer, relay, settle=False, failureNoticeSeconds=0)
        wait_for("Trusted Types refuse the snippet's script URL", lambda: [
            v for v in _violations(customer) if v["directive"] == "require-trusted-types-for" and "src" in (v["sample"] or "")],
                 check=bool)
        assert customer.js("return CoBrowse.stub") is True, "the SDK loaded though Trusted Types refused its URL"
        # Given the script by a Trusted Types policy of the site's, the SDK's innerHTML is refused.
        customer.js("""
            const policy = trustedTypes.createPolicy('site-policy', { createScriptURL: (url) => url });
            const script = document.createElement('script');
            script.src = policy.createScriptURL(arguments[0]);
            document.head.appendChild(script);""", f"{proxy.base_url}/v1/cobrowse.js")
        result = wait_for("the queued CoBrowse.start fails under Trusted Types", lambda: customer.js("return window.__startResult"),
                          check=lambda result: result is not None)
        assert isinstance(result, dict) and "TrustedHTML" in result["message"], \
            f"CoBrowse.start under require-trusted-types-for 'script' gave {result!r}"

        # The rules editor frames the page only when frame-ancestors lists the relay.
        editor = t.browser("administrator")
        editor.get(f"{proxy.base_url}/editor/")
        wait_for("the editor is ready", lambda: editor.js("return document.body.dataset.state"), check=lambda state: state == "ready")

        def open_in_editor(name):
            editor.js("""
                document.getElementById('notice').textContent = '';
                document.getElementById('page-url').value = arguments[0];
                document.getElementById('page-form').requestSubmit();""", site.url(name))
        open_in_editor("strict")
        wait_for("the editor previews the page framed under frame-ancestors <relay>", lambda: editor.js(
            f"const doc = {PREVIEW}; const h = doc && doc.querySelector('#heading'); return h ? h.textContent : null;"),
                 check=lambda text: text == "Your account")
        open_in_editor("no-frame-ancestors")
        wait_for("the editor says the page did not answer under frame-ancestors 'none'",
                 lambda: editor.js("return document.getElementById('notice').textContent"),
                 check=lambda text: "did not answer" in (text or ""))
    finally:
        site.close()
        t.stack.stop_service(relay)
