"""Languages (issue 15): the SDK's and the console's message catalogues, English and Japanese
(languages.py reads them from the files the relay serves). The SDK speaks its `language`
option, else the page's <html lang>, else English; the console its agent's browser's language."""

import os

from selenium.webdriver.common.by import By

import languages
from browsers import wait_for
from people import Agent


JAPANESE_PAGE = "/demo/japanese.html"


def test_the_english_and_japanese_catalogues_have_the_same_keys_and_placeholders(t):
    customer = t.customer()
    customer.open(t.relay_a)
    for side in ("sdk", "agent"):
        found = languages.catalogues(customer.browser, side)
        assert set(found) == {"en", "ja"}, f"the {side} catalogues are {sorted(found)}, not en and ja"
        problems = languages.catalogue_differences(found["en"], found["ja"])
        assert not problems, f"the {side}'s Japanese catalogue departs from the English one: {problems}"
        # Every key the sources name is in the catalogues (a typo would show the key itself).
        unknown = {key: source for key, source in languages.keys_in_sources(side, found["en"]).items() if key not in found["en"]}
        assert not unknown, f"the {side}'s sources name keys no catalogue has: {unknown}"
    # The presence sentences the bar is to use are there, in both languages, with their placeholders.
    sdk = languages.catalogues(customer.browser, "sdk")
    for language in ("en", "ja"):
        assert languages.placeholders(sdk[language]["status.viewingNamed"]) == ["name"], sdk[language]["status.viewingNamed"]
        assert languages.placeholders(sdk[language]["status.viewingCount"]) == ["count"], sdk[language]["status.viewingCount"]
    # The lookup: placeholders filled, plural forms by count, a key a language lacks from English.
    looked_up = customer.browser.driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        import('/sdk/i18n/translate.js').then(({ translator, matchLanguage }) => {
          const catalogues = { en: { a: 'Hello {name}', n: { one: '{count} person', other: '{count} people' } }, ja: { a: 'こんにちは {name}' } };
          const ja = translator(catalogues, 'ja'), en = translator(catalogues, 'en');
          done([ja('a', { name: 'Ana' }), ja('n', { count: 3 }), en('n', { count: 1 }), en('n', { count: 2 }), ja.language,
                translator(catalogues, 'fr').language, matchLanguage(['ja-JP'], ['en', 'ja']), matchLanguage(['fr-CA', 'EN_gb'], ['en', 'ja']),
                matchLanguage(['fr'], ['en', 'ja'])]);
        }, (error) => done('error: ' + error.message));""")
    assert looked_up == ["こんにちは Ana", "3 people", "1 person", "2 people", "ja", "en", "ja", "en", None], \
        f"the lookup answers {looked_up}"


def test_the_sdk_speaks_japanese_on_the_japanese_page(t):
    customer = t.customer()
    customer.open(t.relay_a, JAPANESE_PAGE)
    wait_for("the customer is on the Shift_JIS page", lambda: customer.js("return document.characterSet"),
             check=lambda value: value == "Shift_JIS")
    ja = languages.catalogues(customer.browser, "sdk")["ja"]
    session_id = customer.start_session()
    languages.wait_bar(customer, "waits for an agent, in Japanese", status=ja["status.waiting"])
    languages.assert_bar_speaks(customer, ja, "ja", session_id)

    agent = t.agent()
    agent.join(t.relay_b, session_id)
    languages.wait_bar(customer, "says an agent is viewing, in Japanese", status=ja["status.viewing"])

    # The agent asks for control: the consent prompt is Japanese; allowed, the status says so.
    agent.click("request-control")
    wait_for("the bar asks for consent", lambda: customer.bar_shows("button.allow-control"))
    languages.assert_bar_speaks(customer, ja, "ja", session_id)
    customer.click_bar("button.allow-control")
    agent.wait_mode("write")
    languages.wait_bar(customer, "says the agent has control, in Japanese", status=ja["status.control"])
    assert customer.bar_shows("button.revoke-control"), "no Stop control in write mode"

    # Exit (its Japanese word): the end notice is Japanese too.
    customer.click_bar("button.exit")
    notice = wait_for("the end notice shows", lambda: languages.end_notice_texts(customer),
                      check=lambda texts: bool(texts) and bool(texts["text"]))
    assert notice == {"lang": "ja", "text": ja["ended.customer-exited"], "close": ja["notice.close"]}, \
        f"the end notice is not Japanese: {notice}"


def test_the_sdks_language_option_wins_over_the_pages(t):
    # 'ja' on the English shop: Japanese, kept on the session's next page (an English one too).
    customer = t.customer()
    customer.open(t.relay_a)
    found = languages.catalogues(customer.browser, "sdk")
    ja, en = found["ja"], found["en"]
    assert customer.js("return document.documentElement.lang") == "en", "the shop is not an English page"
    session_id = customer.start_session_with(language="ja", endNoticeSeconds=30)
    languages.wait_bar(customer, "waits for an agent, in Japanese", status=ja["status.waiting"])
    languages.assert_bar_speaks(customer, ja, "ja", session_id)
    customer.browser.driver.find_element(By.ID, "to-second").click()
    wait_for("the customer is on second.html", lambda: customer.js("return location.pathname"),
             check=lambda path: path.endswith("/second.html"))
    assert customer.wait_bar_session_id() == session_id, "the session did not carry on to second.html"
    languages.wait_bar(customer, "still speaks Japanese on the next page", status=ja["status.waiting"], lang="ja")
    customer.js("CoBrowse.end()")
    notice = wait_for("the end notice shows", lambda: languages.end_notice_texts(customer),
                      check=lambda texts: bool(texts) and bool(texts["text"]))
    assert notice == {"lang": "ja", "text": ja["ended.customer-exited"], "close": ja["notice.close"]}, notice

    # 'en' on the Japanese page: English, whatever the page's lang.
    other = t.customer()
    other.open(t.relay_a, JAPANESE_PAGE)
    assert other.js("return document.documentElement.lang") == "ja", "the Japanese page has no lang=ja"
    session_id = other.start_session_with(language="en", endNoticeSeconds=30)
    languages.wait_bar(other, "waits for an agent, in English", status=en["status.waiting"])
    languages.assert_bar_speaks(other, en, "en", session_id)
    other.js("CoBrowse.end()")
    wait_for("the end notice is English", lambda: languages.end_notice_texts(other),
             check=lambda texts: texts == {"lang": "en", "text": en["ended.customer-exited"], "close": en["notice.close"]})

    # A region tag ('ja-JP') picks Japanese on the English page: the start failure notice and
    # the code prompt (CoBrowse.startWithCode) speak it.
    third = t.customer()
    third.open(t.relay_a)
    failed = third.js_async("""
        const done = arguments[arguments.length - 1];
        CoBrowse.start({ interactionToken: 'not-a-token', language: 'ja-JP', failureNoticeSeconds: 30 })
          .then(() => done('started'), (error) => done(error.code));""")
    assert failed == "invalid-token", f"a start with a bad token ended {failed!r}"
    notice = wait_for("the start failure notice shows", lambda: languages.failure_notice_texts(third),
                      check=lambda texts: bool(texts) and bool(texts["text"]))
    assert notice == {"lang": "ja", "text": ja["failed.invalid-token"], "close": ja["notice.close"], "failure": "invalid-token"}, notice
    third.js("window.__prompt = CoBrowse.startWithCode(undefined, { language: 'ja' }).catch((error) => error.code);")
    prompt = wait_for("the code prompt opens", lambda: languages.code_prompt_texts(third), check=bool)
    expected = {"lang": "ja", "title": ja["codePrompt.title"], "hint": ja["codePrompt.hint"], "label": ja["codePrompt.label"],
                "cancel": ja["codePrompt.cancel"], "start": ja["codePrompt.start"], "error": ""}
    assert prompt == expected, f"the code prompt is not Japanese: {prompt}"
    third.js("const root = document.querySelector('cobrowse-code-prompt').shadowRoot;"
             "root.getElementById('code').value = '12'; root.querySelector('button.start').click();")
    wait_for("a short code is refused in Japanese", lambda: languages.code_prompt_texts(third),
             check=lambda texts: bool(texts) and texts["error"] == ja["codePrompt.malformed"])
    third.js("document.querySelector('cobrowse-code-prompt').shadowRoot.querySelector('button.cancel').click();")
    assert third.js_async("const done = arguments[arguments.length - 1]; window.__prompt.then(done);") == "cancelled"


def test_the_console_speaks_its_agents_browsers_language(t):
    customer = t.customer()
    customer.open(t.relay_a)
    session_id = customer.start_session()
    found = languages.catalogues(customer.browser, "agent")
    ja = found["ja"]
    en_sdk = languages.catalogues(customer.browser, "sdk")["en"]

    agent = Agent(languages.browser_in(t, "agent", "ja,en"), f"agent-{t.name}-{os.getpid()}")
    agent.browser.get(f"{t.relay_b.base_url}/agent/")
    preferred = agent.browser.js("return [navigator.language, Array.from(navigator.languages)]")
    assert preferred == ["ja", ["ja", "en"]], f"the agent's Chromium does not prefer Japanese: {preferred}"
    wait_for("the console is Japanese while signed out", lambda: languages.console_texts(agent),
             check=lambda texts: texts["lang"] == "ja" and texts["state"] == ja["state.signed-out"])
    texts = languages.console_texts(agent)
    expected = {
        "lang": "ja", "title": ja["page.title"], "signInTitle": ja["signIn.title"], "join": ja["signIn.join"],
        "sessionHint": ja["signIn.sessionHint"], "sessionPlaceholder": ja["signIn.sessionSample"],
        "state": ja["state.signed-out"], "back": ja["nav.back"], "backTitle": ja["nav.back"], "viewLabel": ja["view.label"],
        "voiceLegend": ja["voice.legend"], "getCode": ja["voice.getCode"],
        # The supervisor's live view: its button, and the list's heading and columns (shown only with a supervisor's token).
        "liveSessions": ja["liveSessions.show"], "liveSessionsTitle": ja["liveSessions.title"],
        "liveSessionsAgent": ja["liveSessions.column.agent"],
    }
    wrong = {key: f"{texts.get(key)!r}, not {value!r}" for key, value in expected.items() if texts.get(key) != value}
    assert not wrong, f"the console does not speak Japanese: {wrong}"

    # A malformed session ID is refused in Japanese.
    agent.browser.driver.find_element(By.ID, "agent-token").send_keys(agent.token(t.relay_b))
    agent.browser.driver.find_element(By.ID, "session-id").send_keys("12")
    agent.click("join")
    wait_for("the form says in Japanese that a session ID has 9 digits", lambda: agent.header("sign-in-error"),
             check=lambda text: text == ja["signIn.badSessionId"])

    # It joins and works, in Japanese: state, mode, Request control and the customer's answer.
    agent.join(t.relay_b, session_id)
    agent.wait_same_text(customer)
    texts = languages.console_texts(agent)
    assert (texts["state"], texts["mode"], texts["requestControl"], texts["endSession"]) == \
        (ja["state.live"], ja["mode.pointer"], ja["header.requestControl"], ja["header.endSession"]), f"the live console: {texts}"
    agent.click("request-control")
    wait_for("Request control waits for the customer, in Japanese", lambda: agent.header("request-control"),
             check=lambda text: text == ja["header.waitingForCustomer"])
    wait_for("the customer's bar asks for consent", lambda: customer.bar_shows("button.deny-control"))
    # The customer's page is English: their bar stays English.
    assert languages.bar_texts(customer)["question"] == en_sdk["bar.consentQuestion"], languages.bar_texts(customer)
    customer.click_bar("button.deny-control")
    notice = agent.wait_action_notice("declined")
    assert notice["text"] == ja["control.declined"], f"the decline notice says {notice['text']!r}"
    agent.click("end-session")
    wait_for("the console says in Japanese that the agent ended the session", agent.notice,
             check=lambda notice: notice["shown"] and notice["reason"] == "agent-exited" and notice["text"] == ja["ended.byYou"])
    assert agent.header("session-state") == ja["state.ended"], agent.header("session-state")
