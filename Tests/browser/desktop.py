"""A contact-center desktop for the browser tests: a tiny HTTP server (a thread of the test
runner) whose page frames the agent console and hands it the agent's token by postMessage, as
docs/agent-console.md describes ("Embedding it in a contact-center desktop").

It listens on 127.0.0.1 on a port the kernel picks, before the relays start, so that the stack
can give them its origin as `CONSOLE_EMBEDDERS`: `http://localhost:<port>` is the allowed
desktop. The same server reached as `http://127.0.0.1:<port>` is another origin, not on the
list: a page the console must not take a token from.

Pages:
- `/desktop.html?console=<the console's URL>`: frames the console (`#cobrowse-console`) and a
  page of its own origin beside it (`#sibling`, `/sibling.html`); keeps what the console tells
  it in `window.fromConsole` (only messages from the console's window and origin), and
  `signIn(token, sessionId)` / `signOut()` post to the console as the documented snippet does.
"""

import html
import http.server
import json
import threading
import urllib.parse

DESKTOP_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Contact-center desktop (browser tests)</title>
  <style>
    body {{ margin: 0; font: 14px system-ui, sans-serif; }}
    #cobrowse-console {{ width: 1200px; height: 780px; border: 0; display: block; }}
    #sibling {{ width: 200px; height: 40px; border: 0; }}
  </style>
</head>
<body>
  <iframe id="cobrowse-console" src="{console}" title="Co-browse"></iframe>
  <iframe id="sibling" src="/sibling.html" title="Another tool of the desktop"></iframe>
  <script>
    const frame = document.getElementById('cobrowse-console');
    const consoleOrigin = new URL(frame.src).origin;
    window.fromConsole = [];
    addEventListener('message', (event) => {{
      if (event.source !== frame.contentWindow || event.origin !== consoleOrigin) return;
      if (event.data && event.data.type === 'cobrowse-console') window.fromConsole.push(event.data);
    }});
    window.signIn = (token, sessionId) =>
      frame.contentWindow.postMessage({{ type: 'cobrowse-console', t: 'sign-in', token, sessionId }}, consoleOrigin);
    window.signOut = () => frame.contentWindow.postMessage({{ type: 'cobrowse-console', t: 'sign-out' }}, consoleOrigin);
  </script>
</body>
</html>
"""

SIBLING_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Sibling</title></head><body>Another tool</body></html>
"""


class DesktopServer:
    """The desktop's HTTP server: `origin` (http://localhost:<port>) is the allowed one,
    `other_origin` (http://127.0.0.1:<port>) the same pages on an origin that is not."""

    def __init__(self):
        server = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                url = urllib.parse.urlsplit(self.path)
                if url.path == "/desktop.html":
                    console = urllib.parse.parse_qs(url.query).get("console", [""])[0]
                    body = DESKTOP_PAGE.format(console=html.escape(console, quote=True))
                elif url.path == "/sibling.html":
                    body = SIBLING_PAGE
                else:
                    self.send_error(404)
                    return
                data = body.encode("utf-8")
                self.send_response(200)
                self.send_header("Content-Type", "text/html; charset=utf-8")
                self.send_header("Content-Length", str(len(data)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format, *args):
                server.requests.append(format % args)

        self.requests = []
        self._server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        self.port = self._server.server_address[1]
        self._thread = threading.Thread(target=self._server.serve_forever, name=f"desktop-{self.port}", daemon=True)
        self._thread.start()

    @property
    def origin(self):
        return f"http://localhost:{self.port}"

    @property
    def other_origin(self):
        return f"http://127.0.0.1:{self.port}"

    def page_url(self, console_url, allowed=True):
        """The desktop page framing `console_url`, on the allowed origin or on the other one."""
        base = self.origin if allowed else self.other_origin
        return f"{base}/desktop.html?" + urllib.parse.urlencode({"console": console_url})

    def close(self):
        self._server.shutdown()
        self._server.server_close()


def console_messages(browser):
    """What the console posted to the desktop page open in `browser` (top document)."""
    return json.loads(browser.js("return JSON.stringify(window.fromConsole || null)") or "null")
