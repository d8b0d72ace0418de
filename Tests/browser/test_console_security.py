"""A hostile page (hostile.html) and hand-written hostile frames: nothing from the customer's
page may run in, or navigate, the agent console; the console draws the filter's view markers
(masked, no agent action, blocked) as the filter set them."""

import json
import time

from browsers import wait_for
from console_safety import assert_console_safe
from masked_view import GREEN, GREY, PURPLE


HOSTILE_LATER = r"""
const area = document.getElementById('hostile-area');
area.innerHTML = '<img id="late-img" src="nope.png" onerror="top.__pwned=\'late-img\'">' +
  '<iframe id="late-srcdoc" srcdoc="<script>top.__pwned=\'late-srcdoc\'</script>"></iframe>' +
  '<a id="late-link" href="javascript:top.__pwned=\'late-link\'">late link</a>' +
  '<object data="data:text/html,<script>top.__pwned=\'late-object\'</script>"></object>' +
  '<svg><a id="late-svg-link"><text y="10">x</text><set attributeName="href" to="javascript:top.__pwned=\'late-set\'"/></a></svg>' +
  '<form id="late-form" action="jav&#x09;ascript:top.__pwned=\'late-form\'"><button>go</button></form>';
const link = document.getElementById('link-top');
link.setAttribute('href', 'javascript:top.__pwned="late-href"');
link.setAttribute('onclick', "top.__pwned='late-onclick'");
document.getElementById('hostile-heading').setAttribute('onmouseover', "top.__pwned='late-onmouseover'");
document.getElementById('link-data').setAttribute('href', ' DATA:text/html;base64,PHNjcmlwdD50b3AuX19wd25lZD0xPC9zY3JpcHQ+');
const meta = document.createElement('meta');
meta.setAttribute('content', "0; url=data:text/html,<script>top.__pwned='late-meta'</script>");
document.head.appendChild(meta);
meta.setAttribute('http-equiv', 'refresh');
const script = document.createElement('script');
script.textContent = "top.__pwned = 'late-script'";
area.appendChild(script);
setTimeout(() => area.insertAdjacentHTML('beforeend', '<p id="hostile-sentinel">PUBLIC-hostile-sentinel</p>'), 50);
"""


# In the agent's page: click, submit, hover and focus everything in the view.
ATTACK_THE_VIEW = r"""
const doc = document.getElementById('cobrowse-view').contentDocument;
const all = [...doc.querySelectorAll('*')];
for (const host of all) if (host.shadowRoot) all.push(...host.shadowRoot.querySelectorAll('*'));
for (const element of all) {
  for (const type of ['mouseover', 'focus', 'toggle', 'load', 'error']) element.dispatchEvent(new Event(type));
  try { element.click(); } catch (error) {}
  if (element.localName === 'form') { try { element.requestSubmit(); } catch (error) {} try { element.submit(); } catch (error) {} }
}
return all.length;
"""


def test_a_hostile_page_cannot_run_code_in_or_navigate_the_agent_console(t):
    customer, agent, session_id = t.shared_session(path="/demo/hostile.html")
    wait_for("the agent's view shows the hostile page's markup as text", lambda: agent.element_text("#markup-text"),
             check=lambda text: text and text.startswith("<img src=x onerror="))
    customer.js(HOSTILE_LATER)
    wait_for("the agent's view shows the hostile page's later changes", lambda: agent.element_text("#hostile-sentinel"),
             check=lambda text: text == "PUBLIC-hostile-sentinel")
    assert customer.js("return location.pathname") == "/demo/hostile.html", "the hostile page navigated the customer away"
    attacked = agent.browser.js(ATTACK_THE_VIEW)
    assert attacked > 20, f"only {attacked} elements in the agent's view to attack"
    time.sleep(1.5)  # the 1 s meta refresh, late loads and error events
    assert_console_safe(agent, "after the hostile page and every click, submit and event in the view", "hostile-heading")
    assert agent.state() == "live", f"the agent console is {agent.state()!r}, not live"


# A snapshot no SDK or filter would pass: the console must still build it without running any
# of it (its own defence, behind the filter).
def _hostile_snapshot():
    def element(tag, attrs=None, children=None, **extra):
        _hostile_snapshot.next_id += 1
        node = {"id": _hostile_snapshot.next_id, "type": "element", "tag": tag, "attrs": attrs or {}}
        if children:
            node["children"] = children
        node.update(extra)
        return node

    def text(value):
        _hostile_snapshot.next_id += 1
        return {"id": _hostile_snapshot.next_id, "type": "text", "text": value}

    _hostile_snapshot.next_id = 0
    pwn = "top.__pwned='{}';parent.__pwned='{}'"
    body = element("body", {"onload": pwn.format("body-onload", "body-onload")}, [
        element("h1", {"id": "hand-heading"}, [text("Hand-written frames")]),
        element("script", {}, [text(pwn.format("script", "script"))]),
        element("img", {"src": "nope.png", "onerror": pwn.format("onerror", "onerror"), "OnLoad": "top.__pwned='OnLoad'"}),
        element("iframe", {"srcdoc": "<script>top.__pwned='srcdoc'</script>"}),
        element("iframe", {"src": "data:text/html,<script>top.__pwned='iframe-data'</script>"}),
        element("iframe", {"src": "javascript:top.__pwned='iframe-js'"}),
        element("object", {"data": "data:text/html,<script>top.__pwned='object'</script>"}),
        element("embed", {"src": "data:text/html,<script>top.__pwned='embed'</script>"}),
        element("a", {"id": "js-link", "href": "java\tscript:top.__pwned='link'", "target": "_top"}, [text("link")]),
        element("a", {"href": "data:text/html,<script>top.__pwned='data-link'</script>"}, [text("data link")]),
        element("a", {"href": "/agent/?navigated", "target": "_top"}, [text("top link")]),
        element("form", {"action": "javascript:top.__pwned='form'"}, [element("button", {}, [text("go")])]),
        element("form", {"action": "/agent/?form", "target": "_top"}, [element("button", {"formaction": " javascript:top.__pwned='fa'"}, [text("go")])]),
        element("svg", {}, [element("a", {"xlink:href": "javascript:top.__pwned='xlink'"}, [
            element("text", {"y": "10"}, [text("svg")]),
            element("animate", {"attributename": "href", "to": "javascript:top.__pwned='animate'", "dur": "0.01s"}),
            element("set", {"attributename": "onclick", "to": "top.__pwned='set'"}),
        ])]),
        element("div", {"style": "width: expression(top.__pwned='expression'); background: url(javascript:top.__pwned='css')"},
                [text("<img src=x onerror=top.__pwned='markup'>")]),
        element("details", {"open": "", "ontoggle": pwn.format("ontoggle", "ontoggle")}, [text("details")]),
        element("div", {"id": "shadow-host"}, shadow=[element("img", {"src": "x", "onerror": pwn.format("shadow", "shadow")}),
                                                      element("script", {}, [text("top.__pwned='shadow-script'")])]),
        element("noscript", {}, [text("<img src=x onerror=top.__pwned='noscript'>")]),
        element("portal", {"src": "/agent/?portal"}),
        element("div", {"id": "hand-area"}),
    ])
    head = element("head", {}, [
        element("meta", {"http-equiv": "refresh", "content": "0; url=data:text/html,<script>top.__pwned='refresh'</script>"}),
        element("meta", {"http-equiv": "Content-Security-Policy", "content": "default-src 'none'"}),
        element("base", {"href": "javascript:top.__pwned='base'//", "target": "_top"}),
        element("link", {"rel": "stylesheet", "href": "javascript:top.__pwned='link-css'"}),
        element("style", {}, [text("</style><script>top.__pwned='style'</script>")]),
    ])
    root = element("html", {}, [head, body])
    return {"t": "snapshot", "seq": 1, "stream": "hand", "url": "http://127.0.0.1:1/hostile", "title": "hostile",
            "doctype": "html", "viewport": {"w": 1000, "h": 700}, "scroll": {"x": 0, "y": 0}, "root": root}


HAND_FED_HOSTILE_MUTATIONS = {
    "t": "mutations", "seq": 2, "removes": [], "texts": [],
    "adds": [{"parent": None, "node": {"id": 9001, "type": "element", "tag": "div", "attrs": {"onmouseover": "top.__pwned='add'"},
                                       "children": [{"id": 9002, "type": "element", "tag": "script", "attrs": {},
                                                     "children": [{"id": 9003, "type": "text", "text": "top.__pwned='added-script'"}]},
                                                    {"id": 9004, "type": "element", "tag": "iframe", "attrs": {"srcdoc": "<script>top.__pwned=1</script>"}}]}}],
    "attrs": [{"id": 1, "name": "onclick", "value": "top.__pwned='attr'"}],
}


def test_the_agent_console_defends_itself_against_hand_written_hostile_frames(t):
    agent = t.agent()
    agent.browser.get(f"{t.relay_b.base_url}/agent/")
    agent.wait_state("signed-out")
    snapshot = _hostile_snapshot()
    mutations = json.loads(json.dumps(HAND_FED_HOSTILE_MUTATIONS))
    area_id = _id_of(snapshot["root"], "hand-area")
    mutations["adds"][0]["parent"] = area_id
    mutations["attrs"].append({"id": area_id, "name": "href", "value": "javascript:top.__pwned='attr-href'"})
    _show_hand_written_snapshot(agent, snapshot)
    agent.browser.js("window.cobrowseConsole.mirror.applyMutations(arguments[0]);", mutations)
    heading = agent.element_text("#hand-heading")
    assert heading == "Hand-written frames", f"the console did not build the hand-written snapshot: {heading!r}"
    assert agent.element_text("#hand-area") is not None, "the hand-written add's parent is missing"
    agent.browser.js(ATTACK_THE_VIEW)
    time.sleep(1.0)
    assert_console_safe(agent, "after hand-written hostile frames", "hand-heading")


def _show_hand_written_snapshot(agent, snapshot):
    """Applies a snapshot to a signed-out console's view as a live session would (no socket)."""
    agent.browser.js("""
        const { mirror, overlay } = window.cobrowseConsole;
        document.body.dataset.state = 'live';
        overlay.setViewport(arguments[0].viewport.w, arguments[0].viewport.h);
        mirror.loadSnapshot(arguments[0]);""", snapshot)


def _id_of(node, element_id):
    """The mirror id of the serialized element whose `id` attribute is `element_id`."""
    if (node.get("attrs") or {}).get("id") == element_id:
        return node["id"]
    for child in (node.get("children") or []) + (node.get("shadow") or []):
        found = _id_of(child, element_id)
        if found is not None:
            return found
    return None


def test_the_agent_console_draws_the_filters_view_markers(t):
    # Hand-written frames as the filter sends them (data-cb-* markers, rect): the console's part alone.
    agent = t.agent()
    agent.browser.get(f"{t.relay_b.base_url}/agent/")
    agent.wait_state("signed-out")
    snapshot = {
        "t": "snapshot", "seq": 1, "stream": "hand", "url": "http://127.0.0.1:1/marked", "title": "marked", "doctype": "html",
        "viewport": {"w": 1000, "h": 700}, "scroll": {"x": 0, "y": 0},
        "root": {"id": 1, "type": "element", "tag": "html", "attrs": {}, "children": [
            {"id": 2, "type": "element", "tag": "head", "attrs": {}, "children": [
                {"id": 3, "type": "element", "tag": "style", "attrs": {},
                 "children": [{"id": 4, "type": "text", "text": "#blocked { width: 10px; height: 10px; background: red }"}]}]},
            {"id": 5, "type": "element", "tag": "body", "attrs": {}, "children": [
                {"id": 6, "type": "element", "tag": "p", "attrs": {"id": "masked", "data-cb-masked": ""},
                 "children": [{"id": 7, "type": "text", "text": "****"}]},
                {"id": 8, "type": "element", "tag": "div", "attrs": {"id": "blocked", "data-cb-blocked": "", "style": "color: red"},
                 "rect": {"w": 321, "h": 123}},
                {"id": 9, "type": "element", "tag": "img", "attrs": {"id": "image", "data-cb-masked-image": "", "alt": "****"},
                 "rect": {"w": 80, "h": 60}},
                {"id": 10, "type": "element", "tag": "button", "attrs": {"id": "no-agent", "data-cb-noagent": ""},
                 "children": [{"id": 11, "type": "text", "text": "Delete"}]},
                {"id": 12, "type": "element", "tag": "span", "attrs": {"id": "inline-blocked", "data-cb-blocked": ""},
                 "rect": {"w": 50, "h": 20}},
                {"id": 13, "type": "element", "tag": "div", "attrs": {"id": "host"}, "shadow": [
                    {"id": 14, "type": "element", "tag": "b", "attrs": {"id": "shadow-masked", "data-cb-masked": ""},
                     "children": [{"id": 15, "type": "text", "text": "****"}]}]},
                {"id": 16, "type": "element", "tag": "p", "attrs": {"id": "plain"}, "children": [{"id": 17, "type": "text", "text": "plain"}]},
            ]}]},
    }
    _show_hand_written_snapshot(agent, snapshot)
    # The customer's page changes the blocked element's style: it stays the customer's size.
    agent.browser.js("window.cobrowseConsole.mirror.applyMutations(arguments[0]);",
                     {"t": "mutations", "seq": 2, "adds": [], "removes": [], "texts": [],
                      "attrs": [{"id": 8, "name": "style", "value": "width: 5px; height: 5px"}]})
    styles = agent.in_view("""
        const get = (element) => { const s = getComputedStyle(element); const box = element.getBoundingClientRect();
          return { outline: s.outlineStyle + ' ' + s.outlineColor, background: s.backgroundColor, w: box.width, h: box.height,
                   src: element.getAttribute('src') }; };
        const out = {};
        for (const id of ['masked', 'blocked', 'image', 'no-agent', 'inline-blocked', 'plain']) out[id] = get(doc.getElementById(id));
        out['shadow-masked'] = get(doc.getElementById('host').shadowRoot.getElementById('shadow-masked'));
        return out;""")
    purple, green = f"solid {PURPLE}", f"solid {GREEN}"
    problems = []
    for element_id, outline in (("masked", purple), ("blocked", purple), ("image", purple), ("no-agent", green),
                                ("shadow-masked", purple), ("inline-blocked", purple)):
        if styles[element_id]["outline"] != outline:
            problems.append(f"#{element_id} outline {styles[element_id]['outline']!r}, not {outline!r}")
    if not styles["plain"]["outline"].startswith("none"):
        problems.append(f"#plain is framed: {styles['plain']['outline']!r}")
    for element_id, size in (("blocked", (321, 123)), ("image", (80, 60)), ("inline-blocked", (50, 20))):
        shown = (styles[element_id]["w"], styles[element_id]["h"])
        if shown != size:
            problems.append(f"#{element_id} is {shown[0]}×{shown[1]} px, not its rect {size[0]}×{size[1]}")
        if styles[element_id]["background"] != GREY:
            problems.append(f"#{element_id} is not a grey box: background {styles[element_id]['background']}")
    if not (styles["image"]["src"] or "").startswith("data:image/gif;base64,"):
        problems.append(f"the masked image's src is {styles['image']['src']!r}, not a blank GIF")
    assert not problems, "; ".join(problems)
