"""A website of another origin than the relay, with a Content-Security-Policy of its own, that
loads the SDK with the snippet docs/sdk.md documents (for the tests of docs/sdk.md's
"Loading it without blocking the page" and "Content-Security-Policy").

`Site()` serves on http://localhost:PORT (127.0.0.1; `localhost` is another origin, and another
site, than the relays' 127.0.0.1) one page per policy in `POLICIES`, at `/<name>`, each with its
`Content-Security-Policy` header. Every page records the violations its policy reports in
`window.cspViolations` ({directive, blocked, sample}), from before the snippet runs. Set
`relay_origin` (where the page loads `/v1/cobrowse.js` from) before a page is requested.
"""

import http.server
import os
import re
import threading

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
SDK_DOC = os.path.join(ROOT, "docs", "sdk.md")
# The relay in the documented snippet.
DOCUMENTED_SRC = "'https://cobrowse.example.com/v1/cobrowse.js'"
NONCE = "cobrowse-test-nonce"

# What each page's policy allows, from the relay's origin R (http://127.0.0.1:PORT) and its
# WebSocket origin W (ws://…). "strict" is exactly what docs/sdk.md says a site must allow,
# on top of `default-src 'none'`; the others leave one thing out, or use 'strict-dynamic'.
POLICIES = {
    "strict": "default-src 'none'; script-src 'nonce-{N}' {R}/v1/; connect-src {R} {W}; style-src 'unsafe-inline'; "
              "frame-ancestors {R}",
    "strict-dynamic": "default-src 'none'; script-src 'nonce-{N}' 'strict-dynamic'; connect-src {R} {W}; "
                      "style-src 'unsafe-inline'",
    "no-connect-src": "default-src 'none'; script-src 'nonce-{N}' {R}/v1/; style-src 'unsafe-inline'",
    "no-wss": "default-src 'none'; script-src 'nonce-{N}' {R}/v1/; connect-src {R}; style-src 'unsafe-inline'",
    "no-script-src": "default-src 'none'; script-src 'nonce-{N}'; connect-src {R} {W}; style-src 'unsafe-inline'",
    "no-inline-style": "default-src 'none'; script-src 'nonce-{N}' {R}/v1/; connect-src {R} {W}",
    "no-frame-ancestors": "default-src 'none'; script-src 'nonce-{N}' {R}/v1/; connect-src {R} {W}; "
                          "style-src 'unsafe-inline'; frame-ancestors 'none'",
    "trusted-types": "default-src 'none'; script-src 'nonce-{N}' {R}/v1/; connect-src {R} {W}; style-src 'unsafe-inline'; "
                     "require-trusted-types-for 'script'",
}

PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Your account · a site with a strict policy</title>
<script nonce="{nonce}">
  window.cspViolations = [];
  document.addEventListener('securitypolicyviolation', (event) => cspViolations.push({{
    directive: event.effectiveDirective, blocked: event.blockedURI, sample: event.sample }}), true);
</script>
<script nonce="{nonce}">
{snippet}
</script>
</head>
<body>
<h1 id="heading">Your account</h1>
<p id="intro">Change your details below. Policy: <span id="policy-name">{name}</span>.</p>
<form id="account">
  <label>Name <input id="name" name="name" value="Ada"></label>
  <label>Password <input id="password" name="password" type="password"></label>
</form>
</body>
</html>
"""


def documented_snippet():
    """The JavaScript of the loading snippet in docs/sdk.md (the <script> whose stub says
    `stub: true`), with the documented relay address in it."""
    with open(SDK_DOC, encoding="utf-8") as handle:
        text = handle.read()
    for block in re.findall(r"```html\n(.*?)```", text, re.S):
        found = re.search(r"<script>\n(.*?)</script>", block, re.S)
        if found and "stub: true" in found.group(1):
            assert DOCUMENTED_SRC in found.group(1), f"docs/sdk.md's snippet does not load {DOCUMENTED_SRC}"
            return found.group(1)
    raise AssertionError("docs/sdk.md has no loading snippet (an html block with a <script> defining a stub)")


def snippet_lines(script):
    """A script's lines without their indentation and without blank lines, to compare."""
    return [line.strip() for line in script.splitlines() if line.strip()]


class Site:
    def __init__(self):
        self.relay_origin = None
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                name = self.path.split("?")[0].strip("/")
                if name not in POLICIES or not site.relay_origin:
                    self.send_error(404)
                    return
                body = site.page(name).encode()
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.send_header("Content-Security-Policy", site.policy(name))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, name=f"csp-site-{self.port}", daemon=True).start()

    @property
    def origin(self):
        return f"http://localhost:{self.port}"

    def url(self, name):
        return f"{self.origin}/{name}"

    def policy(self, name):
        relay = self.relay_origin
        return POLICIES[name].format(N=NONCE, R=relay, W="ws" + relay[len("http"):])

    def page(self, name):
        snippet = documented_snippet().replace(DOCUMENTED_SRC, repr(f"{self.relay_origin}/v1/cobrowse.js"))
        return PAGE.format(nonce=NONCE, snippet=snippet, name=name)

    def close(self):
        self.server.shutdown()
        self.server.server_close()
