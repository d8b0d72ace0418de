"""Whether the agent console is still itself after a hostile page or hand-written frames: no
code of the page ran in it or its view, it did not navigate, the view's sandbox and the
console's scripts are as served, and nothing dangerous was built into the view."""

# In the agent's page, with the id of the heading the rebuilt page must still show.
CONSOLE_SAFETY = r"""
const iframe = document.getElementById('cobrowse-view');
let view = null, viewPwned = null, viewProblem = null;
try {
  view = iframe.contentDocument;
  viewPwned = iframe.contentWindow.__pwned ?? null;
  if (!view) viewProblem = 'no document of the console\'s origin';
  else if (!view.getElementById(arguments[0])) viewProblem = 'no #' + arguments[0] + ' (at ' + iframe.contentWindow.location.href + ')';
} catch (error) { viewProblem = 'not readable: ' + error.message; }
const squeeze = (value) => value.replace(/[\u0000-\u0020\u007f]+/g, '').toLowerCase();
const found = [];
if (view) {
  const all = [...view.querySelectorAll('*')];
  for (const host of all) if (host.shadowRoot) all.push(...host.shadowRoot.querySelectorAll('*'));
  for (const element of all) {
    const tag = element.localName.toLowerCase();
    if (['script', 'object', 'embed', 'applet', 'portal', 'set', 'animate', 'animatemotion', 'animatetransform'].includes(tag)) found.push('<' + tag + '>');
    if (tag === 'iframe' && (element.hasAttribute('srcdoc') || element.hasAttribute('src'))) found.push('iframe with ' + (element.hasAttribute('srcdoc') ? 'srcdoc' : 'src'));
    if (tag === 'base' && element.getAttribute('href') !== view.querySelector('base').getAttribute('href')) found.push('a second <base>');
    if (tag === 'base' && element.hasAttribute('target')) found.push('<base target>');
    if (tag === 'meta' && element.hasAttribute('http-equiv')) found.push('meta http-equiv');
    for (const attribute of element.attributes) {
      const value = squeeze(attribute.value);
      if (attribute.name.toLowerCase().startsWith('on')) found.push(tag + ' ' + attribute.name);
      if (value.startsWith('javascript:') || value.startsWith('vbscript:') || value.startsWith('data:text')) found.push(tag + ' ' + attribute.name + '=' + attribute.value.slice(0, 30));
    }
  }
}
return {
  pwned: window.__pwned ?? null,
  viewPwned,
  viewProblem,
  path: location.pathname + location.search,
  sandbox: iframe.getAttribute('sandbox'),
  consoleScripts: [...document.querySelectorAll('script')].map((s) => s.getAttribute('src')),
  found,
};
"""


def assert_console_safe(agent, where, heading_id):
    """The console is safe (see above) and its view still holds #`heading_id`."""
    state = agent.browser.js(CONSOLE_SAFETY, heading_id)
    problems = []
    if state["pwned"] is not None:
        problems.append(f"the console's window has __pwned = {state['pwned']!r}")
    if state["viewPwned"] is not None:
        problems.append(f"the view's window has __pwned = {state['viewPwned']!r}")
    if state["viewProblem"]:
        problems.append(f"the view frame lost the rebuilt page (navigated?): {state['viewProblem']}")
    if state["path"] != "/agent/":
        problems.append(f"the console navigated to {state['path']!r}")
    if (state["sandbox"] or "").split() != ["allow-same-origin"]:
        problems.append(f"the view's sandbox is {state['sandbox']!r}, not 'allow-same-origin'")
    if state["consoleScripts"] != ["console.js"]:
        problems.append(f"the console's scripts are {state['consoleScripts']}")
    if state["found"]:
        problems.append("the view holds " + ", ".join(sorted(set(state["found"]))[:12]))
    assert not problems, f"{where}: " + "; ".join(problems)
