"""axe-core in the browser tests: WCAG 2.1 A and AA rules run on the SDK's UI and the agent console.

axe-core comes from PyPI's `axe-selenium-python` (AXE_PACKAGE_VERSION), which ships it as
`node_modules/axe-core/axe.min.js` in its wheel. That release needs Python 3.12 to install, and
Debian bookworm's python3 is 3.11 (PEP 668 forbids pip installs into it anyway), so the wheel is
only downloaded (`pip download`, checked against its pinned SHA-256) and the script is read out of
it into `.build-python/` (ignored by git). `ensure_axe()` does that once; later runs find it there.
The tests inject it into the page and call `axe.run` themselves (docs/sdk.md, "Accessibility").

    /usr/bin/python3 Tests/browser/accessibility.py   # fetch it now (deploy/local/test does)
"""

import hashlib
import json
import os
import subprocess
import sys
import tempfile
import zipfile

ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", ".."))
AXE_PACKAGE = "axe-selenium-python"
AXE_PACKAGE_VERSION = "3.0.0"
AXE_WHEEL = "axe_selenium_python-3.0.0-py3-none-any.whl"
AXE_WHEEL_SHA256 = "847e3925861133a523609ff27d0fef387e7588a26f23a27c208a30682b8e9240"
# The axe-core that wheel ships (its axe.version), checked in the page after injection.
AXE_CORE_VERSION = "4.10.2"
AXE_SCRIPT = os.path.join(ROOT, ".build-python", f"axe-core-{AXE_CORE_VERSION}", "axe.min.js")
# WCAG 2.0 and 2.1, levels A and AA: what issue 15 asks of the bar, the prompts and the console.
WCAG_AA_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]


def ensure_axe():
    """The path of axe.min.js, fetched from PyPI the first time (idempotent)."""
    if os.path.isfile(AXE_SCRIPT):
        return AXE_SCRIPT
    with tempfile.TemporaryDirectory(prefix="axe-wheel-") as folder:
        # The wheel says Python >= 3.12; nothing of it is installed or run here, only its script read.
        subprocess.run([sys.executable, "-m", "pip", "download", "--quiet", "--disable-pip-version-check", "--no-deps",
                        "--only-binary=:all:", "--python-version", "3.12", "--dest", folder,
                        f"{AXE_PACKAGE}=={AXE_PACKAGE_VERSION}"], check=True)
        wheel = os.path.join(folder, AXE_WHEEL)
        with open(wheel, "rb") as file:
            digest = hashlib.sha256(file.read()).hexdigest()
        if digest != AXE_WHEEL_SHA256:
            raise RuntimeError(f"{AXE_WHEEL} from PyPI has SHA-256 {digest}, not the pinned {AXE_WHEEL_SHA256}")
        with zipfile.ZipFile(wheel) as archive:
            script = archive.read("axe_selenium_python/node_modules/axe-core/axe.min.js")
    os.makedirs(os.path.dirname(AXE_SCRIPT), exist_ok=True)
    partial = AXE_SCRIPT + ".partial"
    with open(partial, "wb") as file:
        file.write(script)
    os.replace(partial, AXE_SCRIPT)  # whole or not at all, also if two runs race
    return AXE_SCRIPT


def _inject(driver):
    """Puts axe into the page (once per document) and returns its version."""
    if not driver.execute_script("return !!window.axe"):
        with open(ensure_axe(), encoding="utf-8") as file:
            driver.execute_script(file.read())
    return driver.execute_script("return window.axe.version")


def run_axe(driver, include=None):
    """axe's WCAG 2.1 A/AA rules on the page, or only inside the elements `include` names (CSS
    selectors of the document; an open shadow root's host includes what is inside it). The view's
    iframe and other frames are not entered: the customer's page is not ours to judge. Returns
    {"violations", "passes", "incomplete"}, each a list of {"id", "targets", "summary"}."""
    version = _inject(driver)
    assert version == AXE_CORE_VERSION, f"the page has axe-core {version}, not {AXE_CORE_VERSION}"
    context = {"include": [[selector] for selector in include]} if include else None
    # Every result type in full (`resultTypes` would keep one node per passed rule): the tests ask
    # which elements a rule passed on.
    options = {"runOnly": {"type": "tag", "values": WCAG_AA_TAGS}, "iframes": False}
    result = driver.execute_async_script("""
        const done = arguments[arguments.length - 1];
        const brief = (rules) => rules.map((rule) => ({ id: rule.id, help: rule.help,
          nodes: rule.nodes.map((node) => ({ target: node.target, summary: node.failureSummary || '', html: node.html,
            // why axe could not decide (color-contrast: bgOverlap, shadowRoot, …)
            why: [...node.any, ...node.all, ...node.none].map((check) => check.data && check.data.messageKey).filter(Boolean) })) }));
        window.axe.run(arguments[0] || document, arguments[1]).then(
          (found) => done({ violations: brief(found.violations), passes: brief(found.passes), incomplete: brief(found.incomplete) }),
          (error) => done({ error: String(error && error.stack || error) }));""", context, options)
    assert "error" not in result, f"axe.run failed: {result['error']}"
    return result


def report(rules):
    """What axe found, readable: each rule, then each element (its target path and why)."""
    lines = []
    for rule in rules:
        lines.append(f"  {rule['id']}: {rule['help']}")
        for node in rule["nodes"]:
            lines.append(f"    at {json.dumps(node['target'])}: {node['html'][:160]}"
                         + (f" ({', '.join(node['why'])})" if node.get("why") else ""))
            for reason in node["summary"].splitlines():
                if reason.strip():
                    lines.append(f"      {reason.strip()}")
    return "\n".join(lines)


def _checked(result, rule, fragment):
    """Whether axe's `rule` passed on an element whose target path mentions `fragment`."""
    for found in result["passes"]:
        if found["id"] == rule and any(fragment in json.dumps(node["target"]) for node in found["nodes"]):
            return True
    return False


def assert_no_violations(driver, where, include=None, checked=()):
    """0 violations of the WCAG 2.1 AA rules (all of the page, or inside `include`); the message
    lists what axe found. `checked`: (rule, target fragment) pairs axe must have passed, so a scan
    that saw nothing (a host it could not enter, an element not shown) cannot pass."""
    result = run_axe(driver, include)
    assert not result["violations"], (f"axe-core {AXE_CORE_VERSION} ({', '.join(WCAG_AA_TAGS)}) found violations {where}:\n"
                                       + report(result["violations"]))
    missing = [f"{rule} on {fragment}" for rule, fragment in checked if not _checked(result, rule, fragment)]
    assert not missing, (f"axe did not check {', '.join(missing)} {where}; what needs review:\n" + report(result["incomplete"]))
    return result


if __name__ == "__main__":
    print(ensure_axe())
