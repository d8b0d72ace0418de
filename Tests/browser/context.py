"""What each browser test gets (`TestContext`, the `t` of every test): the stack, customers and
agents in browsers of their own, a cuttable path to a relay, a shared session in one call;
and, when the test fails, the evidence (screenshots, console messages, the last frames). The
browsers and proxies are closed when the test ends."""

import os

import cut_proxy
from browsers import Browser
from people import Agent, Customer


ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
# Service logs, and screenshots of failed tests (wiped when a run starts).
LOG_DIR = os.path.join(ROOT, ".run", "browser-tests")


class TestContext:
    """What one test gets: the stack, and browsers that are closed when it ends. `name` names
    its agents and screenshots."""

    __test__ = False  # not a test class, whatever imports it

    def __init__(self, name, services):
        self.name = name
        self.stack = services
        self.browsers = []
        self.customers = []
        self.agent_count = 0
        self.proxies = []

    @property
    def relay_a(self):
        """The relay customers use unless a test says otherwise."""
        return self.stack.relay_a

    @property
    def relay_b(self):
        """The relay agents join through unless a test says otherwise."""
        return self.stack.relay_b

    def cut_proxy(self, relay):
        """A path to `relay` whose WebSockets the test can cut (cut_proxy.CutProxy); pass it
        where a relay goes (`shared_session(sharer_relay=…)`)."""
        proxy = cut_proxy.CutProxy(relay.port)
        self.proxies.append(proxy)
        return proxy

    def browser(self, role):
        """A new Chromium, named by `role` and its number in this test."""
        browser = Browser(f"{role}-{len(self.browsers) + 1}")
        self.browsers.append(browser)
        return browser

    def customer(self):
        """A customer in a browser of their own (its session ends with the test)."""
        customer = Customer(self.browser("customer"))
        self.customers.append(customer)
        return customer

    def agent(self):
        """An agent in a browser of its own, with a name no other test's agent has."""
        self.agent_count += 1
        # An agent may hold one live session: every test (and agent) its own name.
        name = f"agent-{self.name}-{self.agent_count}-{os.getpid()}"
        return Agent(self.browser("agent"), name)

    def shared_session(self, sharer_relay=None, agent_relay=None, path=None, channel=None, interaction=None, **options):
        """A customer on a demo page (the shop by default) who started co-browse, and an agent
        watching it live. With a `channel`, an `interaction` or CoBrowse.start `options`
        (endNoticeSeconds, …) the session is started through CoBrowse.start, else with the
        demo's button."""
        customer = self.customer()
        if path:
            customer.open(sharer_relay or self.relay_a, path)
        else:
            customer.open(sharer_relay or self.relay_a)
        if channel or interaction or options:
            session_id = customer.start_session_with(channel, interaction, **options)
        else:
            session_id = customer.start_session()
        agent = self.agent()
        agent.join(agent_relay or self.relay_b, session_id)
        return customer, agent, session_id

    def evidence(self):
        """Screenshots and console messages of this test's browsers (for a failure report). It
        never raises: a browser that cannot answer (quit, crashed) says so and the report goes on."""
        lines = []
        for browser in self.browsers:
            try:
                lines.extend(self._browser_evidence(browser))
            except Exception as error:
                lines.append(f"--- browser {browser.role}: no evidence ({type(error).__name__}: {str(error).splitlines()[0] if str(error) else ''})")
        return "\n".join(lines)

    def _browser_evidence(self, browser):
        lines = []
        shot = browser.screenshot(os.path.join(LOG_DIR, f"{self.name}-{browser.role}.png"))
        if browser.quit_done:
            url = "(quit by the test)"
        else:
            try:
                url = browser.driver.current_url
            except Exception:
                url = "?"
        lines.append(f"--- browser {browser.role} at {url}" + (f" (screenshot {shot})" if shot else ""))
        lines.extend("    console " + message for message in browser.console()[-15:])
        direction = "sent" if browser.role.startswith("customer") else "received"
        frames = browser.frames(direction)
        summary = []
        for frame in frames[-12:]:
            decoded = frame.json()
            summary.append(f"{decoded.get('t')}#{decoded.get('seq')}" if isinstance(decoded, dict) else "?")
        lines.append(f"    last WebSocket frames {direction} ({len(frames)} in all): {' '.join(summary)}")
        return lines

    def close(self):
        """Ends the customers' sessions, quits the browsers and closes the cut proxies."""
        for customer in self.customers:
            customer.end()
        for browser in self.browsers:
            browser.quit()
        for proxy in self.proxies:
            proxy.close()
