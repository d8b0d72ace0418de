"""The masking rules editor (docs/masking.md): it previews a page through a masking filter,
proposes a selector for what the administrator picks, and what it saves is enforced by the
filter and reaches the agent; a page can be edited in a window of its own."""

import hashlib
import json
import urllib.request

from selenium.webdriver.common.by import By

import frame_leaks
from browsers import wait_for
from masked_view import PREVIEW


# The shop's hero paragraph: public under the test rules until the editor masks it.
HERO_TEXT = "Hand-picked everyday goods"


def _preview_hero(editor):
    return editor.js(f"""const doc = {PREVIEW}; const p = doc && doc.querySelector('.hero p');
        const h = doc && doc.querySelector('.hero h1');
        return p && h ? {{p: p.textContent, masked: p.hasAttribute('data-cb-masked'), h1: h.textContent}} : null;""")


def _rules_in_force_at_the_filter(relay, text):
    """Waits until a masking filter answers previews saying it enforces the rules file `text`
    (its SHA-256), as the editor does after a save."""
    digest = hashlib.sha256(text.encode()).hexdigest()
    body = json.dumps({"t": "snapshot", "seq": 0, "url": "http://127.0.0.1/", "viewport": {"w": 1, "h": 1},
                       "scroll": {"x": 0, "y": 0}, "root": {"id": 1, "type": "element", "tag": "html"},
                       "rules": '{"rules": []}'}).encode()

    def in_force():
        request = urllib.request.Request(f"{relay.base_url}/cobrowse/editor/preview", data=body, method="POST")
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.headers.get("X-Rules-In-Force")
    wait_for("a masking filter enforces the rules file", in_force, check=lambda found: found == digest, within=60, interval=0.5)


def test_the_rules_editor_previews_through_the_filter_and_what_it_saves_reaches_the_agent(t):
    original = t.stack.read_rules()
    editor = t.browser("administrator")
    try:
        editor.get(f"{t.relay_a.base_url}/editor/?page=/demo/%3Fstill")
        wait_for("the editor shows the first preview of the shop", lambda: _preview_hero(editor),
                 check=lambda hero: hero and HERO_TEXT in hero["p"])
        # Pick the hero paragraph in the live page.
        site = editor.driver.find_element(By.ID, "site-frame")
        editor.driver.switch_to.frame(site)
        editor.driver.find_element(By.CSS_SELECTOR, ".hero p").click()
        editor.driver.switch_to.default_content()
        selector = wait_for("the editor proposes a selector for the picked paragraph",
                            lambda: editor.js("return document.getElementById('selector').value"))
        editor.driver.switch_to.frame(site)
        matched = editor.js("return [...document.querySelectorAll(arguments[0])].map((e) => e.textContent.trim().slice(0, 26))", selector)
        editor.driver.switch_to.default_content()
        assert matched == [HERO_TEXT], f"the proposed selector {selector!r} matches {matched!r}, not the paragraph alone"
        wait_for("the editor says how many elements the selector matches",
                 lambda: editor.js("return document.getElementById('selector-count').textContent"),
                 check=lambda text: "Matches 1 element" in text)

        # Mask it: a masking filter's preview shows it masked, the rest of the page as it was.
        seq = int(editor.js("return document.body.dataset.previewSeq"))
        editor.driver.find_element(By.CSS_SELECTOR, "button[data-kind=mask]").click()
        hero = wait_for("the preview shows the paragraph masked", lambda: _preview_hero(editor),
                        check=lambda hero: hero and hero["masked"] and HERO_TEXT not in hero["p"])
        assert hero["h1"] == "Small things for calm homes", f"the heading is masked too: {hero!r}"
        assert int(editor.js("return document.body.dataset.previewSeq")) > seq
        status = editor.js("return document.getElementById('preview-status').textContent")
        assert "Masked by a masking filter" in status, status
        errors = editor.js("return [...document.querySelectorAll('#findings li[data-severity=error]')].map((li) => li.textContent)")
        assert not errors, f"the relay's check refuses the proposed selector: {errors}"
        diff = editor.js("return document.getElementById('diff').textContent")
        assert f'+     "{selector}"' in diff or selector in diff, f"the diff does not show the new rule: {diff!r}"

        # Whole-page masking is a tick away, and goes again.
        editor.driver.find_element(By.ID, "mask-page").click()
        wait_for("the preview masks the whole page", lambda: _preview_hero(editor),
                 check=lambda hero: hero and "calm homes" not in hero["h1"])
        editor.driver.find_element(By.ID, "mask-page").click()
        wait_for("the preview shows the heading again", lambda: _preview_hero(editor),
                 check=lambda hero: hero and hero["h1"] == "Small things for calm homes" and hero["masked"])

        # Save: the relay writes the file, a filter says it enforces it.
        editor.driver.find_element(By.ID, "save").click()
        wait_for("the editor says a masking filter enforces the saved rules",
                 lambda: editor.js("return document.getElementById('in-force').dataset.filterConfirmed"),
                 check=lambda confirmed: confirmed == "true", within=90)
        saved = t.stack.read_rules()
        assert any(selector in rule_set.get("mask", []) for rule_set in saved["rules"]), f"the file lacks the rule: {saved!r}"

        # A real session: the agent sees the paragraph masked, and no frame carried it.
        customer, agent, _ = t.shared_session()
        wait_for("the agent's view masks the hero paragraph",
                 lambda: agent.in_view("const p = doc.querySelector('.hero p'); return p ? p.hasAttribute('data-cb-masked') : null;"),
                 check=lambda masked: masked is True)
        carried = frame_leaks.leaks_in(agent.browser.frames("received"), [HERO_TEXT])
        assert not carried, f"frames the agent received hold the masked paragraph: {frame_leaks.describe(carried)}"
    finally:
        t.stack.write_rules(original)
        with open(t.stack.rules_path, encoding="utf-8") as handle:
            _rules_in_force_at_the_filter(t.relay_a, handle.read())


def test_the_rules_editor_edits_a_page_in_a_window_of_its_own(t):
    # For sites that may not be framed: the page opens in a window the editor opened, and the
    # SDK there answers the editor as it answers a parent frame.
    editor = t.browser("administrator")
    editor.get(f"{t.relay_a.base_url}/editor/")
    wait_for("the editor is ready", lambda: editor.js("return document.body.dataset.state"), check=lambda state: state == "ready")
    address = editor.driver.find_element(By.ID, "page-url")
    address.send_keys(f"{t.relay_a.base_url}/demo/masking.html")
    editor_window = editor.driver.current_window_handle
    editor.driver.find_element(By.ID, "open-window").click()
    wait_for("the page opens in a window of its own", lambda: len(editor.driver.window_handles), check=lambda count: count == 2)
    wait_for("the editor previews the page in the window, #ssn masked by the rules in force",
             lambda: editor.js(f"const doc = {PREVIEW}; const e = doc && doc.querySelector('#ssn'); return e ? [e.textContent, e.hasAttribute('data-cb-masked')] : null;"),
             check=lambda seen: seen == ["****", True])
    assert editor.js("return document.body.dataset.pageIn") == "window"
    page_window = next(handle for handle in editor.driver.window_handles if handle != editor_window)
    editor.driver.switch_to.window(page_window)
    editor.driver.find_element(By.ID, "visible-heading").click()
    editor.driver.switch_to.window(editor_window)
    wait_for("the editor proposes the heading's id", lambda: editor.js("return document.getElementById('selector').value"),
             check=lambda selector: selector == "#visible-heading")
