"""Personal data no rule names (pii.html, the shared samples of Tests/fixtures/pii-samples.json):
the SDK's and the filter's detectors mask it before the agent sees it, and the session's masking
record counts what each masked; a private page (private.html) shows the agent only what its
unmask rules allow. Each runs with the SDK masking and with the filter alone."""

import json
import os

from selenium.webdriver.common.by import By

import frame_leaks
import masking_page
from browsers import wait_for
from masked_view import (
    assert_no_secrets_in_agent, assert_sdk_equals_filter, sdk_masking_on_and_off, wait_view,
)


# The PII detectors' shared samples (Tests/fixtures/pii-samples.json): the Swift tests run them
# through the filter's detectors, these through the SDK's and the filter's in a real session.
PII_SAMPLES = json.load(open(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "fixtures", "pii-samples.json"),
                             encoding="utf-8"))["samples"]
# What pii.html and the typing below hold that no rule names; none may reach the agent.
PII_RAW = ["4111 1111 1111 1111", "DE89 3704 0044 0532 0130 00", "078-05-1120", "jane.doe@example.com", "+1 415 555 0100",
           "(415) 555-0199", "bob@example.org"] + [sample["text"] for sample in PII_SAMPLES if sample["hits"]]
PII_TYPED = "call me on (415) 555-0199 or mail bob@example.org"
PII_PROBE = r"""
const q = (selector) => doc.querySelector(selector);
const text = (selector) => (q(selector) ? q(selector).textContent : null);
return {
  card: text('#pii-card'), iban: text('#pii-iban'), ibanTitle: q('#pii-iban') && q('#pii-iban').getAttribute('title'),
  ssn: text('#pii-ssn'), mail: text('#pii-mail'), href: q('#pii-mail') && q('#pii-mail').getAttribute('href'),
  contact: text('#pii-contact'), order: text('#pii-order'), note: q('#pii-note') && q('#pii-note').value,
  samples: Array.from(doc.querySelectorAll('#pii-samples p')).map((p) => p.textContent),
};
"""


PII_EXPECTED = {
    "card": "Card on file: **** (expires 12/29)", "iban": "Refund account: ****", "ibanTitle": "Refunds go to ****",
    "ssn": "Tax id: ****", "mail": "****", "href": "mailto:****", "contact": "****, ****",
    "order": "Order 2026-12-06, total 1 234 567 points", "note": "call me on **** or mail ****",
    "samples": [sample["masked"] for sample in PII_SAMPLES],
}


@sdk_masking_on_and_off
def test_personal_data_no_rule_names_never_reaches_the_agent(t, sdk_masks):
    customer = t.customer()
    customer.open(t.relay_a, "/demo/pii.html")
    session_id = customer.start_session() if sdk_masks else customer.start_session_unmasked()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    wait_for("the agent's view shows pii.html's heading", lambda: agent.element_text("#pii-heading"),
             check=lambda text: text == "Your details")
    # The samples arrive as added nodes (mutations), the note as typed input frames.
    customer.js("""
        const area = document.getElementById('pii-samples');
        for (const text of arguments[0]) { const p = document.createElement('p'); p.textContent = text; area.appendChild(p); }""",
                [sample["text"] for sample in PII_SAMPLES])
    customer.browser.driver.find_element(By.ID, "pii-note").send_keys(PII_TYPED)
    seen = wait_view(agent, "the agent's view shows pii.html with every piece of personal data as '****'", PII_PROBE,
                     PII_EXPECTED)
    assert seen == PII_EXPECTED
    # Read-only and disabled controls take no agent action: the console frames them green.
    framed = agent.in_view("""return ['#pii-member', '#pii-update'].map((s) => {
        const e = doc.querySelector(s); return e && e.hasAttribute('data-cb-noagent') && doc.defaultView.getComputedStyle(e).outlineColor; });""")
    assert framed == ["rgb(22, 163, 74)", "rgb(22, 163, 74)"], f"read-only and disabled controls are not framed green: {framed}"
    leaks = frame_leaks.leaks_in(agent.browser.frames("received"), PII_RAW)
    assert not leaks, f"personal data reached the agent console: {frame_leaks.describe(leaks)}"
    dump = str(agent.browser.js(masking_page.AGENT_DOM_DUMP))
    shown = [raw for raw in PII_RAW if raw in dump]
    assert not shown, f"personal data is in the agent's view or console: {shown}"
    sent = frame_leaks.leaks_in(customer.browser.frames("sent"), PII_RAW)
    if sdk_masks:
        assert not sent, f"the SDK sent personal data (its detectors must mask it first): {frame_leaks.describe(sent)}"
    else:
        # Otherwise this run would prove nothing about the filter.
        assert sent, "with testOnlyDisableMasking the SDK still masked the personal data: the filter was not tested"
    # The session's masking record counts what each detector masked: the SDK's (it reports
    # them in `detected` frames) or, when the SDK masked nothing, the filter's.
    field = "sdkDetectorHits" if sdk_masks else "detectorHits"
    detectors = {"card", "iban", "ssn", "email", "phone"}
    record = wait_for(f"the session's masking record counts every detector in {field}",
                      lambda: (t.stack.session_history(session_id) or {}).get("masking") or {},
                      check=lambda masking: detectors <= {name for name, hits in masking.get(field, {}).items() if hits > 0},
                      within=30)
    if sdk_masks:
        assert not record.get("detectorHits"), f"the filter found personal data the SDK had masked: {record}"


PRIVATE_PROBE = r"""
const q = (selector) => doc.querySelector(selector);
const text = (selector) => (q(selector) ? q(selector).textContent : null);
return {
  nav: text('#private-header nav'), heading: text('#private-heading'), rate: text('#private-rate'),
  rateTitle: q('#private-rate') && q('#private-rate').getAttribute('title'),
  income: q('#private-income') && q('#private-income').value,
  photo: q('#private-photo') ? q('#private-photo').hasAttribute('data-cb-masked-image') : null,
  helpHeading: text('#private-help-heading'), helpText: text('#private-help-text'),
  adviserCode: text('#private-adviser-code'), question: q('#private-question') && q('#private-question').value,
  late: text('#private-late'),
};
"""
PRIVATE_EXPECTED = {
    "nav": None,  # filled in from the customer's page: the header is unmasked
    "heading": "****", "rate": "****", "rateTitle": "****", "income": "****", "photo": True,
    "helpHeading": "PUBLIC-help-heading", "helpText": "PUBLIC-help-text: ask your adviser about the offer.",
    "adviserCode": "****", "question": "PUBLIC-question-value", "late": "****",
}


@sdk_masking_on_and_off
def test_a_private_page_shows_the_agent_only_what_unmask_allows(t, sdk_masks):
    customer = t.customer()
    customer.open(t.relay_a, "/demo/private.html")
    session_id = customer.start_session() if sdk_masks else customer.start_session_unmasked()
    agent = t.agent()
    agent.join(t.relay_b, session_id)
    expected = dict(PRIVATE_EXPECTED, nav=customer.js("return document.querySelector('#private-header nav').textContent"))
    customer.js("""const p = document.createElement('p'); p.id = 'private-late'; p.textContent = 'ZZSECRET-private-late';
                   document.getElementById('private-area').appendChild(p);""")
    wait_view(agent, "the agent's view masks private.html but its header and help box", PRIVATE_PROBE, expected)
    # The console's own document (its header shows the page's title) is scanned too.
    assert_no_secrets_in_agent(agent, "private.html")
    if sdk_masks:
        assert_sdk_equals_filter(customer, agent, "private.html")
        leaks = frame_leaks.leaks_in(customer.browser.frames("sent"), masking_page.SECRET_PATTERN)
        assert not leaks, f"the SDK sent secrets of the private page: {frame_leaks.describe(leaks)}"
