"""The languages of the SDK and the agent console (issue 15): their message catalogues as the
relay serves them, the keys their sources use, and what the SDK's bar, notices and prompt and
the console show, for the language tests (test_languages.py).

The catalogues are read from the files the relay serves (`sdk/i18n/languages.js` and
`agent/i18n/languages.js`, imported in a page of the relay), never typed into a test: a test
compares what the page shows with the catalogue's message.
"""

import glob
import os
import re

from browsers import Browser, wait_for

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
PUBLIC = os.path.join(ROOT, "Services", "DOMRelay", "Web", "Public")

# Each side's catalogues (what a page of the relay imports) and the sources that use its keys.
SIDES = {
    "sdk": {"module": "/sdk/i18n/languages.js", "sources": ["sdk/*.js"]},
    "agent": {"module": "/agent/i18n/languages.js", "sources": ["agent/*.js", "agent/index.html"]},
}


def catalogues(browser, side):
    """{language: {key: message}} of `side` ("sdk" or "agent"), imported by `browser`, which
    is on a page of the relay."""
    result = browser.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import(arguments[0]).then((module) => done(JSON.parse(JSON.stringify(module.CATALOGUES))),
                                  (error) => done('error: ' + error.message));""", SIDES[side]["module"])
    assert isinstance(result, dict), f"{SIDES[side]['module']} could not be imported: {result!r}"
    return result


def placeholders(message):
    """The `{name}` placeholders of a message (of all its forms, for a plural one), sorted."""
    forms = message.values() if isinstance(message, dict) else [message]
    return sorted({name for form in forms for name in re.findall(r"\{(\w+)\}", form)})


def catalogue_differences(reference, other):
    """What `other` (a language's catalogue) gets wrong against `reference` (English's):
    missing and extra keys, other placeholders, plural messages without `other`."""
    problems = []
    for key in sorted(set(reference) - set(other)):
        problems.append(f"missing {key!r}")
    for key in sorted(set(other) - set(reference)):
        problems.append(f"extra {key!r}")
    for key in sorted(set(reference) & set(other)):
        if placeholders(reference[key]) != placeholders(other[key]):
            problems.append(f"{key!r} has placeholders {placeholders(other[key])}, not {placeholders(reference[key])}")
        for message in (reference[key], other[key]):
            if isinstance(message, dict) and "other" not in message:
                problems.append(f"{key!r} is plural without an 'other' form: {message}")
            if not message:
                problems.append(f"{key!r} is empty")
    return problems


def keys_in_sources(side, catalogue):
    """The keys `side`'s sources name literally ('bar.exit', data-i18n="nav.back"): every
    quoted string whose first part is one of the catalogue's namespaces. Keys built at run time
    (`ended.${reason}`) are not among them."""
    namespaces = {key.split(".")[0] for key in catalogue if "." in key}
    found = {}
    # Every script of the side (globs), so a key moved into a new file is still checked.
    sources = sorted({os.path.relpath(path, PUBLIC) for pattern in SIDES[side]["sources"]
                      for path in glob.glob(os.path.join(PUBLIC, pattern))})
    assert sources, f"no sources of {side} under {PUBLIC}"
    for source in sources:
        with open(os.path.join(PUBLIC, source), encoding="utf-8") as handle:
            text = handle.read()
        for match in re.finditer(r"""['"]([a-zA-Z]+)\.([\w.-]+)['"]""", text):
            if match.group(1) in namespaces:
                found.setdefault(f"{match.group(1)}.{match.group(2)}", source)
    return found


def fill(message, **values):
    """A catalogue's message with its placeholders filled in, as the SDK and console do."""
    return re.sub(r"\{(\w+)\}", lambda match: str(values.get(match.group(1), match.group(0))), message)


def browser_in(context, role, languages):
    """A browser of the test whose user prefers `languages` ("ja,en"), closed with the test."""
    browser = Browser(f"{role}-{len(context.browsers) + 1}", languages=languages)
    context.browsers.append(browser)
    return browser


def bar_texts(customer):
    """What the customer's bar says: its host's lang, the session line, the status, the buttons'
    words, the consent question and the labels of the bar and the consent group (None without
    a bar)."""
    return customer.js("""
        const host = document.getElementById('cobrowse-bar');
        if (!host || !host.shadowRoot) return null;
        const root = host.shadowRoot;
        const text = (selector) => { const e = root.querySelector(selector); return e ? e.textContent : null; };
        return {
          lang: host.lang,
          session: root.querySelector('.session-id').parentElement.textContent,
          status: text('.status'),
          exit: text('button.exit'),
          stopControl: text('button.revoke-control'),
          question: text('.consent [role=alert]'),
          allow: text('button.allow-control'),
          deny: text('button.deny-control'),
          label: root.querySelector('.bar').getAttribute('aria-label'),
          consentLabel: root.querySelector('.consent').getAttribute('aria-label'),
        };""")


def wait_bar(customer, what, **expected):
    """Waits until the bar's texts (bar_texts) have the `expected` values; returns them."""
    return wait_for(f"the customer's bar {what}: {expected}", lambda: bar_texts(customer),
                    check=lambda texts: bool(texts) and all(texts.get(key) == value for key, value in expected.items()))


def assert_bar_speaks(customer, catalogue, language, session_id):
    """The bar's fixed words are `catalogue`'s, its host's lang is `language`."""
    texts = bar_texts(customer)
    expected = {
        "lang": language,
        "session": fill(catalogue["bar.session"], id=session_id),
        "exit": catalogue["bar.exit"],
        "stopControl": catalogue["bar.stopControl"],
        "question": catalogue["bar.consentQuestion"],
        "allow": catalogue["bar.allow"],
        "deny": catalogue["bar.deny"],
        "label": catalogue["bar.label"],
        "consentLabel": catalogue["bar.consentLabel"],
    }
    wrong = {key: f"{texts.get(key)!r}, not {value!r}" for key, value in expected.items() if texts.get(key) != value}
    assert not wrong, f"the bar does not speak {language}: {wrong}"


def end_notice_texts(customer):
    """The end notice: its host's lang, its sentence and its close button's label (None without one)."""
    return customer.js("""
        const host = document.getElementById('cobrowse-ended');
        const root = host && host.shadowRoot;
        if (!root) return null;
        return { lang: host.lang, text: root.querySelector('.text').textContent,
                 close: root.querySelector('button.close').getAttribute('aria-label') };""")


def failure_notice_texts(customer):
    """The start failure notice: its host's lang, sentence, close label and failure code (None without one)."""
    return customer.js("""
        const host = document.getElementById('cobrowse-start-failed');
        const root = host && host.shadowRoot;
        if (!root) return null;
        return { lang: host.lang, text: root.querySelector('.text').textContent,
                 close: root.querySelector('button.close').getAttribute('aria-label'),
                 failure: root.querySelector('.notice').getAttribute('data-cobrowse-failure') };""")


def code_prompt_texts(customer):
    """The voice code prompt's words and its host's lang (None when it is not open)."""
    return customer.js("""
        const host = document.querySelector('cobrowse-code-prompt');
        const root = host && host.shadowRoot;
        if (!root) return null;
        return { lang: host.lang, title: root.getElementById('title').textContent, hint: root.getElementById('hint').textContent,
                 label: root.querySelector('label[for=code]').textContent, cancel: root.querySelector('button.cancel').textContent,
                 start: root.querySelector('button.start').textContent, error: root.getElementById('error').textContent };""")


def console_texts(agent):
    """The console page's words: <html lang>, the title, and each hooked element's text or attribute."""
    return agent.browser.js("""
        const text = (id) => document.getElementById(id).textContent;
        const attribute = (id, name) => document.getElementById(id).getAttribute(name);
        return {
          lang: document.documentElement.lang,
          title: document.title,
          signInTitle: document.querySelector('#sign-in h2').textContent,
          join: text('join'),
          sessionHint: text('session-id-hint'),
          sessionPlaceholder: attribute('session-id', 'placeholder'),
          state: text('session-state'),
          mode: text('session-mode'),
          requestControl: text('request-control'),
          endSession: text('end-session'),
          back: attribute('nav-back', 'aria-label'),
          backTitle: attribute('nav-back', 'title'),
          viewLabel: attribute('view-area', 'aria-label'),
          voiceLegend: document.querySelector('#voice-call legend').textContent,
          getCode: text('voice-get-code'),
          liveSessions: text('show-live-sessions'),
          liveSessionsTitle: text('live-sessions-title'),
          liveSessionsAgent: document.querySelector('#live-sessions th[data-i18n="liveSessions.column.agent"]').textContent,
        };""")
