// The bar: what the customer sees of the session: the ID to read out, whether an agent is
// watching (or reconnecting), the agent's request for control (Allow / Deny), Stop control while
// the agent has it, and Exit. Its words come from the session's catalogue (sdk/i18n/).
import { escapeHTML } from './i18n/translate.js';
import { followVisualViewport } from './visual-viewport.js';
import { insertFirstInTabOrder } from './tab-order.js';

export class SessionBar {
  /**
   * @param handlers {exit(), answer(approve), revoke()}
   * @param t the session's sentences (sdk/i18n/languages.js): `lang` of the host, and every word of the bar
   */
  constructor(handlers, t) {
    this.t = t;
    this.host = document.createElement('div');
    this.host.id = 'cobrowse-bar';
    this.host.lang = t.language; // screen readers pronounce the bar in its own language
    const [sessionBefore, sessionAfter] = t.around('bar.session', 'id');
    const root = this.host.attachShadow({ mode: 'open' });
    root.innerHTML = `
      <style>
        :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
        [hidden] { display: none !important; }
        .bar { display: flex; flex-direction: column; gap: 10px; padding: 10px 14px; border-radius: 10px;
               background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
               box-shadow: 0 4px 16px rgba(0,0,0,.25); max-width: min(30rem, var(--cobrowse-visual-width, calc(100vw - 32px)));
               max-height: var(--cobrowse-visual-height, none); overflow: auto; box-sizing: border-box; }
        /* A narrow screen wraps the buttons under the text rather than pushing them off the screen. */
        .row { display: flex; flex-wrap: wrap; align-items: center; gap: 12px; }
        .grow { flex: 1 1 auto; min-width: 0; }
        .session-id { font: 600 18px/1 ui-monospace, monospace; letter-spacing: .12em; }
        /* Solid colours, no opacity: every text keeps at least 4.5:1 against the bar (WCAG 1.4.3). */
        .status { font-size: 12px; color: #d5d9e0; }
        .bar[data-mode="write"] .status { opacity: 1; color: #ffd166; font-weight: 600; }
        .bar[data-lead="reconnecting"] .status { opacity: 1; color: #fff; font-weight: 400; font-style: italic; }
        .consent { padding-top: 10px; border-top: 1px solid rgba(255,255,255,.2); }
        button { font: inherit; padding: 6px 12px; border: 0; border-radius: 6px; background: #c62a2f; color: #fff;
                 cursor: pointer; white-space: nowrap; }
        button.allow-control { background: #1e7d36; }
        button.deny-control { background: #4b5567; }
        button.revoke-control { background: #ffd166; color: #1d2433; font-weight: 600; }
        button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
        .mark-explanation { font-size: 12px; color: #e3e6eb; }
        /* The bar itself takes the focus after a keyboard answer to the consent question or Stop control. */
        .bar:focus { outline: none; }
        .bar:focus-visible { outline: 2px solid #ffd166; outline-offset: 2px; }
        .mark-sample { display: inline-block; width: 1.6em; height: .8em; margin: 0 .5em 0 .2em; vertical-align: middle; }
      </style>
      <style class="mark-style"></style>
      <div class="bar" tabindex="-1" role="region" aria-label="${t.html('bar.label')}" data-mode="pointer" data-lead="connected">
        <div class="row">
          <div class="grow">
            <div>${escapeHTML(sessionBefore)}<span class="session-id"></span>${escapeHTML(sessionAfter)}</div>
            <div class="status" role="status" aria-live="polite"></div>
          </div>
          <button class="revoke-control" type="button" hidden>${t.html('bar.stopControl')}</button>
          <button class="exit" type="button">${t.html('bar.exit')}</button>
        </div>
        <div class="mark-explanation" hidden><span class="mark-sample" aria-hidden="true"></span><span class="mark-text"></span></div>
        <div class="consent row" role="group" aria-label="${t.html('bar.consentLabel')}" hidden>
          <span class="grow" role="alert">${t.html('bar.consentQuestion')}</span>
          <button class="allow-control" type="button">${t.html('bar.allow')}</button>
          <button class="deny-control" type="button">${t.html('bar.deny')}</button>
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
    if (!this.host.isConnected) insertFirstInTabOrder(this.host); // one Tab from the page's start reaches it
    // Pinch zoom or an on-screen keyboard: the bar stays where the customer can see it.
    if (!this.stopFollowing) this.stopFollowing = followVisualViewport(this.host, 'corner');
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
    if (privatePage) texts.push(this.t('bar.privatePage'));
    if (declarations) texts.push(this.t('bar.markedFields'));
    this.root.querySelector('.mark-text').textContent = texts.join(' ');
    explanation.hidden = texts.length === 0;
  }
  /** Write mode shows Stop control. */
  setMode(mode) {
    this.root.querySelector('.bar').dataset.mode = mode;
    const revoke = this.root.querySelector('.revoke-control');
    this.hideKeepingFocus(revoke, () => { revoke.hidden = mode !== 'write'; });
  }
  /** `reconnecting` while the lead agent's console is away (within its grace), else `connected`. */
  setLead(state) { this.root.querySelector('.bar').dataset.lead = state; }
  /** How many people are viewing (`data-viewers` on the bar: the lead and every observer). */
  setViewers(count) { this.root.querySelector('.bar').dataset.viewers = String(count); }
  get asking() { return !this.root.querySelector('.consent').hidden; }
  /** Shows the question (role=alert: announced as it shows); the focus stays where the customer is. */
  askConsent() { this.root.querySelector('.consent').hidden = false; }
  hideConsent() {
    this.hideKeepingFocus(this.root.querySelector('.consent'), () => { this.root.querySelector('.consent').hidden = true; });
  }
  /**
   * Hides something with `hide()`; if the keyboard focus was on it (Allow, Deny, Stop control just
   * pressed with a key), it goes to the bar itself rather than to the page's start: the next Tab
   * reaches the bar's first button. Not after a tap or a click (no focus ring): moving the focus
   * would pan a pinch-zoomed screen to the bar.
   */
  hideKeepingFocus(element, hide) {
    const focused = this.root.activeElement;
    const byKeyboard = focused !== null && element.contains(focused) && focused.matches(':focus-visible');
    hide();
    if (byKeyboard) this.root.querySelector('.bar').focus({ preventScroll: true });
  }
  remove() {
    for (const [button, handler] of this.clicks) button.removeEventListener('click', handler);
    this.clicks = [];
    if (this.stopFollowing) this.stopFollowing();
    this.stopFollowing = null;
    this.host.remove();
  }
}
