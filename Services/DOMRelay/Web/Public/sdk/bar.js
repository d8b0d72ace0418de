// The bar: what the customer sees of the session: the ID to read out, whether an agent is
// watching (or reconnecting), the agent's request for control (Allow / Deny), Stop control while
// the agent has it, and Exit.

export class SessionBar {
  /** @param handlers {exit(), answer(approve), revoke()} */
  constructor(handlers) {
    this.host = document.createElement('div');
    this.host.id = 'cobrowse-bar';
    const root = this.host.attachShadow({ mode: 'open' });
    root.innerHTML = `
      <style>
        :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
        [hidden] { display: none !important; }
        .bar { display: flex; flex-direction: column; gap: 10px; padding: 10px 14px; border-radius: 10px;
               background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
               box-shadow: 0 4px 16px rgba(0,0,0,.25); max-width: min(30rem, calc(100vw - 32px)); }
        .row { display: flex; align-items: center; gap: 12px; }
        .grow { flex: 1; }
        .session-id { font: 600 18px/1 ui-monospace, monospace; letter-spacing: .12em; }
        .status { font-size: 12px; opacity: .8; }
        .bar[data-mode="write"] .status { opacity: 1; color: #ffd166; font-weight: 600; }
        .bar[data-lead="reconnecting"] .status { opacity: 1; color: #fff; font-weight: 400; font-style: italic; }
        .consent { padding-top: 10px; border-top: 1px solid rgba(255,255,255,.2); }
        button { font: inherit; padding: 6px 12px; border: 0; border-radius: 6px; background: #e5484d; color: #fff;
                 cursor: pointer; white-space: nowrap; }
        button.allow-control { background: #2f9e44; }
        button.deny-control { background: #4b5567; }
        button.revoke-control { background: #ffd166; color: #1d2433; font-weight: 600; }
        button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
        .mark-explanation { font-size: 12px; opacity: .9; }
        .mark-sample { display: inline-block; width: 1.6em; height: .8em; margin: 0 .5em 0 .2em; vertical-align: middle; }
      </style>
      <style class="mark-style"></style>
      <div class="bar" role="region" aria-label="Co-browsing" data-mode="pointer" data-lead="connected">
        <div class="row">
          <div class="grow">
            <div>Co-browsing · session <span class="session-id"></span></div>
            <div class="status" role="status" aria-live="polite"></div>
          </div>
          <button class="revoke-control" type="button" hidden>Stop control</button>
          <button class="exit" type="button">Exit</button>
        </div>
        <div class="mark-explanation" hidden><span class="mark-sample" aria-hidden="true"></span><span class="mark-text"></span></div>
        <div class="consent row" role="group" aria-label="Request for control" hidden>
          <span class="grow" role="alert">The agent asks to control this page</span>
          <button class="allow-control" type="button">Allow</button>
          <button class="deny-control" type="button">Deny</button>
        </div>
      </div>`;
    /** [button, handler]: removed with the bar. */
    this.clicks = [
      ['.exit', () => handlers.exit()],
      ['.allow-control', () => handlers.answer(true)],
      ['.deny-control', () => handlers.answer(false)],
      ['.revoke-control', () => handlers.revoke()],
    ].map(([selector, handler]) => [root.querySelector(selector), handler]);
    for (const [button, handler] of this.clicks) button.addEventListener('click', handler);
    this.root = root;
  }
  show(sessionId) {
    this.root.querySelector('.session-id').textContent = sessionId;
    if (!this.host.isConnected) (document.body || document.documentElement).appendChild(this.host);
  }
  status(text) { this.root.querySelector('.status').textContent = text; }
  /**
   * Tells the customer what the outlines on the page mean, drawn with the page's own mark
   * (`declarations`: the rules' `customerMark`, never containing braces); on a private page,
   * that the agent sees its layout only. Hidden when fields are not marked and the page is not private.
   */
  explainMarks(declarations, privatePage) {
    const explanation = this.root.querySelector('.mark-explanation');
    this.root.querySelector('.mark-style').textContent = declarations ? `.mark-sample { ${declarations} }` : '';
    this.root.querySelector('.mark-sample').hidden = !declarations;
    const texts = [];
    if (privatePage) texts.push('This page is private: the agent sees its layout, not its text.');
    if (declarations) texts.push('Fields outlined like this are hidden from the agent.');
    this.root.querySelector('.mark-text').textContent = texts.join(' ');
    explanation.hidden = texts.length === 0;
  }
  /** Write mode shows Stop control. */
  setMode(mode) {
    this.root.querySelector('.bar').dataset.mode = mode;
    this.root.querySelector('.revoke-control').hidden = mode !== 'write';
  }
  /** `reconnecting` while the lead agent's console is away (within its grace), else `connected`. */
  setLead(state) { this.root.querySelector('.bar').dataset.lead = state; }
  get asking() { return !this.root.querySelector('.consent').hidden; }
  askConsent() { this.root.querySelector('.consent').hidden = false; }
  hideConsent() { this.root.querySelector('.consent').hidden = true; }
  remove() {
    for (const [button, handler] of this.clicks) button.removeEventListener('click', handler);
    this.clicks = [];
    this.host.remove();
  }
}
