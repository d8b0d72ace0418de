#!/usr/bin/python3
"""sdk-burst: the sharer SDK against rrweb's recorder on the same page, in one headless Chromium.

    /usr/bin/python3 Benchmarks/SDKBurst/sdk_burst.py [--rounds 9] [--markdown docs/benchmarks.md]

A page of about 10,000 nodes is served from this machine, once with our SDK (cobrowse.js and
its sdk/ modules as the relay ships them) and once with rrweb's recorder. Each measurement loads
the page afresh, starts the recorder (its snapshot is timed), then applies one burst of 1,000
DOM changes in one task and times the recorder's handling of it (harness.js says how). Rounds
alternate which recorder goes first (A B, B A, …); the figures are medians.

No relay and no broker: our SDK's socket is the page's WebSocket, and the harness stands in its
place, answering the SDK's `start` and keeping what the SDK hands it. The SDK's masking rules and
its built-in lists are served here as a relay serves them. rrweb's recorder comes from PyPI
(oss-clarity 0.1.2 bundles @rrweb/record 2.1.6), downloaded once with pip into .run/sdk-burst/.

Writes its section of docs/benchmarks.md (between <!-- sdk-burst:start --> and
<!-- sdk-burst:end -->) with --markdown; results are never asserted.
"""

import argparse
import datetime
import http.server
import json
import os
import re
import statistics
import subprocess
import sys
import threading
import urllib.parse
import zipfile

sys.dont_write_bytecode = True

from selenium import webdriver
from selenium.webdriver.chrome.service import Service as DriverService

# The benchmarks' shared Python (Benchmarks/): this script runs as a file, from any directory.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
from markdown_section import write_section  # noqa: E402

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
HERE = os.path.dirname(os.path.abspath(__file__))
PUBLIC = os.path.join(ROOT, "Services", "DOMRelay", "Web", "Public")
BUILT_IN_TABLES_SWIFT = os.path.join(ROOT, "Shared", "MaskingRules", "BuiltInTables.swift")
CACHE = os.path.join(ROOT, ".run", "sdk-burst")
CHROMEDRIVER = "/usr/bin/chromedriver"
SECTION = "sdk-burst"

# rrweb's recorder: the newest one on PyPI we know of, inside a Django app's static files.
RRWEB_PACKAGE = "oss-clarity"
RRWEB_PACKAGE_VERSION = "0.1.2"
RRWEB_VERSION = "2.1.6"  # @rrweb/record, as the package's THIRD_PARTY_NOTICES.md says
RRWEB_BUNDLE = "oss_clarity/static/oss_clarity/recorder.js"

# The page's masking rules (docs/masking.md), as a relay would hand them to the SDK.
RULES = {"mask": [".account"], "maskImages": [], "block": [".ad-slot"], "noAgent": [],
         "maskPage": False, "maskPlaceholders": False}

CARDS = 800
# The burst in one MutationObserver delivery, and in this many (all in one task).
BATCHES = (1, 10)
TABLE_ROWS = 150


# ---------------------------------------------------------------------------------------
# What is served
# ---------------------------------------------------------------------------------------

def page(recorder):
    """The benchmark page: a shop's product grid, a table, a form with secrets, a scrolled
    list and masked and blocked parts; about 10,000 nodes. Markup without white space between
    elements, so that the node count is the elements and their texts."""
    parts = ["<!DOCTYPE html><html lang=en><head><meta charset=utf-8><title>Burst benchmark</title>",
             "<style>body{font:14px sans-serif;margin:0}.card{display:inline-block;width:180px;margin:4px;"
             "vertical-align:top;border:1px solid #ccc}.hot{background:#fee}.log{height:120px;overflow:auto}"
             ".ad-slot{height:90px}</style>",
             '<script src="/harness.js"></script>']
    if recorder == "ours":
        parts.append('<script src="/cobrowse.js"></script>')
    else:
        parts.append('<script src="/rrweb-record.js"></script>')
    parts.append("</head><body><header><nav>")
    parts.extend(f'<a href="/c/{i}">Category {i}</a>' for i in range(40))
    parts.append('</nav><div class="account">Signed in as Ada Lovelace, account 0042-1234</div>'
                 '<div class="ad-slot">An advertisement</div></header><main><section id="grid">')
    for i in range(CARDS):
        parts.append(f'<article class="card" data-sku="SKU-{i}"><img alt="Product {i}" width="80" height="60">'
                     f"<h3>Product {i}</h3><p class=\"desc\">A calm thing for calm homes, number {i}</p>"
                     f'<span class="price">€{i % 90 + 9}.50</span><button type="button">Add</button></article>')
    parts.append('</section><table id="orders"><tbody>')
    for i in range(TABLE_ROWS):
        parts.append(f"<tr><td>#{1000 + i}</td><td>2026-11-{i % 28 + 1:02d}</td><td>{i % 7 + 1} items</td>"
                     f"<td>€{i * 3 % 200}.00</td><td>shipped</td></tr>")
    parts.append('</tbody></table><form id="checkout"><input name="email" value="ada@example.com">'
                 '<input type="password" name="password" value="Hunter2!"><input autocomplete="cc-number" value="4111 1111 1111 1111">'
                 '<input name="pin" value="1234"><textarea name="note">Leave at the door</textarea></form>'
                 '<ol class="log">')
    parts.extend(f"<li>Event {i}</li>" for i in range(100))
    parts.append("</ol></main><script>document.querySelector('.log').scrollTop = 400;</script></body></html>")
    return "".join(parts)


def swift_strings(text):
    """The string literals in a piece of Swift source, unescaped."""
    return [re.sub(r'\\(.)', lambda m: {"n": "\n", "t": "\t"}.get(m.group(1), m.group(1)), literal)
            for literal in re.findall(r'"((?:[^"\\]|\\.)*)"', text)]


def built_in_rules_module():
    """sdk/built-in-rules.js as the relay generates it (BuiltInTables.javaScriptModule), read from
    the Swift source of truth, so the SDK masks here exactly as it does behind a relay: every
    table `byExportName` lists, the PII detectors and the default customer mark."""
    with open(BUILT_IN_TABLES_SWIFT, encoding="utf-8") as source:
        text = source.read()

    def block(start):
        match = re.search(re.escape(start) + r"(.*?)\n    \]", text, re.S)
        if not match:
            raise SystemExit(f"sdk-burst: {start!r} not found in {BUILT_IN_TABLES_SWIFT}")
        return match.group(1)

    lines = ["// Generated by sdk_burst.py from BuiltInTables (Shared/MaskingRules), as dom-relay does."]
    for export, name in re.findall(r'"([A-Z_]+)": (\w+),', block("static let byExportName")):
        table = re.search(r"static let " + name + r"(?:: \[String\])? = \[(.*?)\]\n", text, re.S)
        if not table:
            raise SystemExit(f"sdk-burst: the table {name!r} not found in {BUILT_IN_TABLES_SWIFT}")
        lines.append(f"export const {export} = Object.freeze({json.dumps(swift_strings(table.group(1)), separators=(',', ':'))});")
    checks = {"luhn": "luhn", "iban": "iban", "phoneDigits": "phone-digits", "nil": ""}
    detectors = []
    for name, body, check in re.findall(r'PIIDetector\(name: "(\w+)",\s*pattern: (.*?),\s*check: \.?(\w+)\)',
                                        block("static let detectors: [PIIDetector] = ["), re.S):
        detectors.append({"check": checks[check], "name": name, "pattern": "".join(swift_strings(body))})
    if not detectors:
        raise SystemExit(f"sdk-burst: no PIIDetector found in {BUILT_IN_TABLES_SWIFT}")
    lines.append(f"export const PII_DETECTORS = Object.freeze({json.dumps(detectors, separators=(',', ':'))});")
    mark = re.search(r'static let defaultCustomerMark = ("(?:[^"\\]|\\.)*")', text)
    if not mark:
        raise SystemExit(f"sdk-burst: defaultCustomerMark not found in {BUILT_IN_TABLES_SWIFT}")
    lines.append(f"export const DEFAULT_CUSTOMER_MARK = {json.dumps(swift_strings(mark.group(1))[0])};")
    return "\n".join(lines) + "\n"


def rrweb_record_script():
    """rrweb's record function from the PyPI package, exposed as window.__rrwebRecord. The
    package's bundle runs rrweb only from its own start(); the one line added after the bundle's
    own code hands out the record function it calls, unchanged."""
    os.makedirs(CACHE, exist_ok=True)
    wheel = os.path.join(CACHE, f"{RRWEB_PACKAGE.replace('-', '_')}-{RRWEB_PACKAGE_VERSION}-py3-none-any.whl")
    if not os.path.exists(wheel):
        subprocess.run([sys.executable, "-m", "pip", "download", "--no-deps", "--disable-pip-version-check",
                        "-d", CACHE, f"{RRWEB_PACKAGE}=={RRWEB_PACKAGE_VERSION}"], check=True)
    with zipfile.ZipFile(wheel) as archive:
        bundle = archive.read(RRWEB_BUNDLE).decode("utf-8")
        notices = next((archive.read(name).decode("utf-8") for name in archive.namelist()
                        if name.endswith("THIRD_PARTY_NOTICES.md")), "")
    if f"`@rrweb/record` | {RRWEB_VERSION}" not in notices:
        raise SystemExit(f"sdk-burst: {RRWEB_PACKAGE} {RRWEB_PACKAGE_VERSION} does not say it bundles @rrweb/record {RRWEB_VERSION}")
    match = re.search(r"\(t=([A-Za-z_$][\w$]*)\(\{emit:", bundle)
    end = bundle.rfind("window.__ossClarityRecorder=")
    if not match or end < 0:
        raise SystemExit(f"sdk-burst: rrweb's record function not found in {RRWEB_BUNDLE}")
    return bundle[:end] + f"window.__rrwebRecord={match.group(1)};" + bundle[end:]


class Site:
    """The benchmark's web server on 127.0.0.1 (a free port), in a thread."""

    def __init__(self, public=PUBLIC):
        self.files = {
            "/harness.js": ("text/javascript", open(os.path.join(HERE, "harness.js"), "rb").read()),
            "/rrweb-record.js": ("text/javascript", rrweb_record_script().encode()),
            "/sdk/built-in-rules.js": ("text/javascript", built_in_rules_module().encode()),
            "/cobrowse/rules": ("application/json", json.dumps(RULES).encode()),
        }
        for recorder in ("ours", "rrweb"):
            self.files[f"/page-{recorder}.html"] = ("text/html; charset=utf-8", page(recorder).encode())
        site = self

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_GET(self):
                path = urllib.parse.urlsplit(self.path).path
                found = site.files.get(path)
                if found is None and (path == "/cobrowse.js" or re.fullmatch(r"/sdk/[\w-]+\.js", path)):
                    file = os.path.join(public, path.lstrip("/"))
                    if os.path.isfile(file):
                        found = ("text/javascript", open(file, "rb").read())
                if found is None:
                    self.send_error(404)
                    return
                kind, body = found
                self.send_response(200)
                self.send_header("Content-Type", kind)
                self.send_header("Content-Length", str(len(body)))
                self.send_header("Cache-Control", "no-store")
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, *args):
                pass

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def url(self, recorder):
        return f"http://127.0.0.1:{self.port}/page-{recorder}.html?recorder={recorder}"

    def close(self):
        self.server.shutdown()


# ---------------------------------------------------------------------------------------
# Measuring
# ---------------------------------------------------------------------------------------

def chromium():
    options = webdriver.ChromeOptions()
    for argument in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--window-size=1280,900"):
        options.add_argument(argument)
    if os.path.exists("/usr/bin/chromium"):
        options.binary_location = "/usr/bin/chromium"
    driver = webdriver.Chrome(service=DriverService(CHROMEDRIVER), options=options)
    driver.set_script_timeout(60)
    return driver


def measure(driver, site, recorder, batches):
    """One fresh load of the page: the recorder's snapshot, then the burst in `batches` parts."""
    driver.get(site.url(recorder))
    result = driver.execute_async_script("""
        const [batches, done] = arguments;
        (async () => {
          const start = await window.__bench.start();
          const burst = await window.__bench.burst(batches);
          return { start, burst };
        })().then(done, (error) => done({ error: String(error && error.stack || error) }));""", batches)
    if "error" in result:
        raise SystemExit(f"sdk-burst: {recorder}: {result['error']}")
    return result


def run(rounds, public):
    site = Site(public)
    driver = chromium()
    try:
        version = driver.capabilities.get("browserVersion", "?")
        for recorder in ("ours", "rrweb"):  # warm-up: caches, the browser's code cache
            measure(driver, site, recorder, 1)
        samples = {(name, batches): [] for name in ("ours", "rrweb") for batches in BATCHES}
        for index in range(rounds):
            order = ("ours", "rrweb") if index % 2 == 0 else ("rrweb", "ours")
            for recorder in order:
                for batches in BATCHES:
                    samples[recorder, batches].append(measure(driver, site, recorder, batches))
            print(f"round {index + 1}/{rounds}: " + ", ".join(
                f"{name} handler {samples[name, 1][-1]['burst']['handlerMs']:.1f} ms "
                f"({samples[name, BATCHES[-1]][-1]['burst']['handlerMs']:.1f} in {BATCHES[-1]} batches), "
                f"snapshot {samples[name, 1][-1]['start']['snapshotMs']:.1f} ms" for name in order), flush=True)
        return version, samples
    finally:
        driver.quit()
        site.close()


def sdk_source(public):
    """Which SDK was measured: the working tree's at its commit (and whether it was changed), or a folder."""
    if os.path.realpath(public) != os.path.realpath(PUBLIC):
        return f"our SDK from {public}"
    try:
        commit = subprocess.run(["git", "-C", ROOT, "rev-parse", "--short", "HEAD"], capture_output=True, text=True,
                                check=True).stdout.strip()
        changed = subprocess.run(["git", "-C", ROOT, "status", "--porcelain", "--", PUBLIC], capture_output=True,
                                 text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "our SDK from the working tree"
    return f"our SDK at {commit}" + (" with uncommitted changes" if changed else "")


def report(version, samples, rounds, source):
    def med(name, batches, value):
        return statistics.median(value(sample) for sample in samples[name, batches])

    many = BATCHES[-1]
    rows = [
        ("burst in one batch: the recorder's handler (ms)", 1, lambda s: s["burst"]["handlerMs"], 1, 2),
        ("burst in one batch: handler + the layout that follows (ms)", 1,
         lambda s: s["burst"]["handlerMs"] + s["burst"]["layoutMs"], 1, 2),
        (f"burst in {many} batches, one task: the handlers (ms)", many, lambda s: s["burst"]["handlerMs"], 1, 2),
        (f"burst in {many} batches: the handlers + the layout that follows (ms)", many,
         lambda s: s["burst"]["handlerMs"] + s["burst"]["layoutMs"], 1, 2),
        ("snapshot (ms)", 1, lambda s: s["start"]["snapshotMs"], 1, 2),
        ("burst sent (kB)", 1, lambda s: s["burst"]["bytes"], 1000, 1),
        ("snapshot sent (kB)", 1, lambda s: s["start"]["snapshotBytes"], 1000, 1),
    ]
    nodes = samples["ours", 1][0]["start"]["nodes"]
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    lines = [
        f"Measured {now} on {os.cpu_count()} cores, Chromium {version} (headless): a page of {nodes} nodes, "
        f"median of {rounds} rounds (A B, then B A, …), each measurement on a fresh load of the page; {source}.",
        "",
        f"| measurement | our SDK | rrweb {RRWEB_VERSION} record | ours / rrweb |",
        "|---|---:|---:|---:|",
    ]
    for label, batches, value, unit, digits in rows:
        a, b = med("ours", batches, value) / unit, med("rrweb", batches, value) / unit
        lines.append(f"| {label} | {a:.{digits}f} | {b:.{digits}f} | {a / b:.2f} |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=9, help="measured rounds per recorder (after one warm-up)")
    parser.add_argument("--markdown", help="rewrite the sdk-burst section of this Markdown file")
    parser.add_argument("--sdk", default=PUBLIC, metavar="DIR",
                        help="serve cobrowse.js and sdk/ from this folder (default: the working tree's Services/DOMRelay/Web/Public)")
    arguments = parser.parse_args()
    if not os.path.isfile(os.path.join(arguments.sdk, "cobrowse.js")):
        raise SystemExit(f"sdk-burst: no cobrowse.js in {arguments.sdk}")
    version, samples = run(arguments.rounds, os.path.abspath(arguments.sdk))
    table = report(version, samples, arguments.rounds, sdk_source(os.path.abspath(arguments.sdk)))
    print(table)
    if arguments.markdown:
        write_section(table, arguments.markdown, SECTION)
        print(f"wrote the {SECTION} section of {arguments.markdown}")


if __name__ == "__main__":
    main()
