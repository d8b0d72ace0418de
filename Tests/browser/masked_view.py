"""What the agent's view may show of a masked page, checked the same way by every masking test
(masking, personal data, frames, console security): no secret in what the console got, the
SDK's masking equal to the filter's, the colours of the view's markers; and the parametrization
that runs a masking test twice, with the SDK masking and with the filter alone."""

import pytest

import frame_leaks
import masking_page
from browsers import wait_for

# Runs a test with the SDK masking (and the filter after it), and with the filter alone: the
# SDK started with testOnlyDisableMasking, as a stale or bypassed SDK would send. The test
# takes `sdk_masks`.
sdk_masking_on_and_off = pytest.mark.parametrize(
    "sdk_masks", [pytest.param(True, id="sdk-masking"), pytest.param(False, id="filter-only")])

# The frames the console draws around view elements: masked (purple), no agent action (green),
# and the grey box a blocked element becomes.
PURPLE = "rgb(139, 92, 246)"
GREEN = "rgb(22, 163, 74)"
GREY = "rgb(212, 212, 216)"

# The rules editor's preview frame, in the administrator's page.
PREVIEW = "document.getElementById('preview-frame').contentDocument"


def wait_view(agent, what, probe_js, expected):
    """Waits (30 s) until `probe_js` (run in the agent's view, `doc`) returns `expected`."""
    return wait_for(what, lambda: agent.in_view(probe_js), check=lambda value: value == expected, within=30)


def assert_no_secrets_in_agent(agent, where):
    """No secret of the masking pages (ZZSECRET…) in a frame the agent's console got, nor in its view or page."""
    leaks = frame_leaks.leaks_in(agent.browser.frames("received"), masking_page.SECRET_PATTERN)
    assert not leaks, f"{where}: secrets reached the agent console: {frame_leaks.describe(leaks)}"
    found = masking_page.secrets_in(agent.browser.js(masking_page.AGENT_DOM_DUMP))
    assert not found, f"{where}: secrets are in the agent's view or console: {', '.join(found[:10])}"


def _comparable(node):
    """A serialized node as both sides must agree on it: attribute names lower case (the filter
    lowers them), without the filter's own view markers (data-cb-*), empty lists as none."""
    out = {"id": node.get("id"), "type": node.get("type")}
    for key in ("tag", "text", "value", "checked", "scroll", "rect", "adoptedStyles"):
        if node.get(key) is not None:
            out[key] = node[key]
    if node.get("type") == "element":
        out["attrs"] = {name.lower(): value for name, value in (node.get("attrs") or {}).items()
                        if not name.lower().startswith("data-cb-")}
    out["children"] = [_comparable(child) for child in node.get("children") or []]
    for key in ("shadow", "frame"):
        if node.get(key):
            out[key] = [_comparable(child) for child in node[key]]
    return out


def _differences(sdk, filtered, path="", found=None):
    """Where the SDK's node and the filter's differ (at most 10 places)."""
    found = [] if found is None else found
    if len(found) >= 10:
        return found
    here = f"{path}/{sdk.get('tag') or sdk.get('type')}#{sdk.get('id')}"
    nested = ("children", "shadow", "frame")
    for key in sorted((set(sdk) | set(filtered)) - set(nested)):
        if sdk.get(key) != filtered.get(key):
            found.append(f"{here} {key}: SDK {sdk.get(key)!r}, filter {filtered.get(key)!r}")
    for key in nested:
        mine, theirs = sdk.get(key) or [], filtered.get(key) or []
        if [child["id"] for child in mine] != [child["id"] for child in theirs]:
            found.append(f"{here} {key}: SDK ids {[c['id'] for c in mine]}, filter ids {[c['id'] for c in theirs]}")
            continue
        for a, b in zip(mine, theirs):
            _differences(a, b, here, found)
    return found


def assert_sdk_equals_filter(customer, agent, where):
    """The SDK's last snapshot, and the filter's masking of it, are the same page."""
    def pair():
        sent = [f.json() for f in customer.browser.frames("sent")]
        sent = [frame for frame in sent if isinstance(frame, dict) and frame.get("t") == "snapshot"]
        received = {frame["root"]["id"]: frame for frame in agent.received("snapshot") if frame.get("root")}
        matched = [(mine, received[mine["root"]["id"]]) for mine in sent if mine.get("root") and mine["root"]["id"] in received]
        return matched[-1] if matched else None

    sdk, filtered = wait_for(f"{where}: the agent got the filter's copy of one of the SDK's snapshots", pair)
    problems = _differences(_comparable(sdk["root"]), _comparable(filtered["root"]))
    if sdk.get("title") != filtered.get("title"):
        problems.insert(0, f"title: SDK {sdk.get('title')!r}, filter {filtered.get('title')!r}")
    assert not problems, f"{where}: the filter changed what the SDK sent:\n  " + "\n  ".join(problems)
