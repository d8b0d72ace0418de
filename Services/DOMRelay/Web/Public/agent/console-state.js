// Console state: where the console is (signed out, connecting, waiting, live, paused, ended,
// refused), what this agent may do in the session (role, mode, a request for control), and
// what the header and the notices say about it: `body[data-state|data-role|data-mode]`,
// #session-state, #session-mode, #notice, #action-notice and the lead's controls.
import { t } from './i18n/languages.js';

const ACTION_NOTICE_MS = 5000;
/**
 * The console's words are in its catalogues (i18n/), in the agent's language: `ended.<reason>`
 * for each end reason of the registry, `endedBy.<kind>` for who ended it when the reason is not
 * known (customer, agent and administrator share the reasons' sentences: ENDED_BY_REASONS),
 * else `ended`; `control.<answer>` for the request for control (the filter's refusals bring
 * their own sentence); `state.<state>` for the header.
 */
const ENDED_BY_REASONS = { customer: 'customer-exited', agent: 'agent-exited', administrator: 'administrator' };
/** The session notices that answer a request for control. */
const CONTROL_EVENTS = ['mode-requested', 'mode-request-declined', 'mode-changed'];

/** The console's state and what the header and notices show of it. */
export class ConsoleState {
  /** `state.<name>` of the header (see the file's comment). */
  name = 'signed-out';
  /** Whether a token is kept for the tab (the sign-in says; a kept token makes `signed-out` read "not joined"). */
  signedIn = false;
  /**
   * What this agent may do: `role` from the join (`lead` acts, `observer` watches), `mode` and a
   * `pending` request for control from the registry's notices, `requested` between asking and
   * the registry's answer, `ending` after End session.
   */
  control = { role: null, mode: null, pending: false, requested: false, ending: false, leadAgentID: null };
  #ui;
  #overlay;
  #renderers = [];
  #actionNoticeTimer = null;

  /**
   * @param ui the console's elements (sessionLabel, sessionState, sessionMode, notice, actionNotice,
   *   requestControl, endSession, navBar, iframe, stage)
   * @param overlay the view's overlay (the customer's cursor goes when the page is not live)
   */
  constructor(ui, overlay) {
    this.#ui = ui;
    this.#overlay = overlay;
  }

  /** Also re-render `render()` on every change (the sign-in's forms follow the state too). */
  onRender(render) {
    this.#renderers.push(render);
  }

  /** Moves the console to state `name`. */
  set(name) {
    this.name = name;
    document.body.dataset.state = name;
    if (name !== 'live') this.#overlay.hideCursor();
    this.render();
  }

  /** In a session: joined, whether the page is live or not. */
  get joined() {
    return ['waiting', 'live', 'paused'].includes(this.name);
  }

  /** No role, no mode, nothing asked: a new join or a sign-out starts from here. */
  resetControl() {
    Object.assign(this.control, { role: null, mode: null, pending: false, requested: false, ending: false, leadAgentID: null });
  }

  /** One notice at a time; `kind` lets a snapshot clear a pause or reconnect notice and nothing else. */
  showNotice(text, kind) {
    const notice = this.#ui.notice;
    notice.textContent = text;
    notice.dataset.kind = kind;
    delete notice.dataset.reason;
    delete notice.dataset.by;
    notice.hidden = false;
  }

  /** The kind of the notice shown (undefined: none). */
  get noticeKind() {
    return this.#ui.notice.dataset.kind;
  }

  /** Clears the notice, or only a notice of one of `kinds`. */
  clearNotice(...kinds) {
    const notice = this.#ui.notice;
    if (kinds.length && !kinds.includes(notice.dataset.kind)) return;
    notice.textContent = '';
    delete notice.dataset.kind;
    delete notice.dataset.reason;
    delete notice.dataset.by;
    notice.hidden = true;
  }

  /** The session's ID in the header, and what the registry's view of it (if any) says of control. */
  showSession(sessionId, session) {
    const { control } = this;
    this.#ui.sessionLabel.textContent = sessionId ?? '';
    if (session?.mode) control.mode = session.mode === 'write' ? 'write' : 'pointer';
    if (session && 'leadAgentID' in session) control.leadAgentID = session.leadAgentID ?? null;
    if (session) control.pending = session.writeRequestPendingUntil != null && control.mode !== 'write';
    this.render();
  }

  /** Something about the agent's last action or request, for a few seconds. */
  showActionNotice(text, reason, action) {
    const notice = this.#ui.actionNotice;
    notice.textContent = text;
    notice.dataset.reason = reason;
    if (action) notice.dataset.action = action;
    else delete notice.dataset.action;
    notice.hidden = false;
    clearTimeout(this.#actionNoticeTimer);
    this.#actionNoticeTimer = setTimeout(() => { notice.hidden = true; }, ACTION_NOTICE_MS);
  }

  /** A request or action the relay or registry refused once joined (write mode disabled, say). */
  showRefusedRequest({ code, message }) {
    console.warn('relay:', code, message);
    this.control.requested = false;
    this.render();
    this.showActionNotice(message || code || t('action.refused'), code || 'error');
  }

  /** A session notice: the mode, a request for control, and what the customer answered. */
  showSessionNotice(sessionId, message) {
    const { control } = this;
    const before = control.mode;
    this.showSession(sessionId, message.session);
    if (!CONTROL_EVENTS.includes(message.event)) return;
    control.requested = false;
    this.render();
    if (control.role !== 'lead') return;
    if (message.event === 'mode-request-declined') {
      const timedOut = message.session?.modeChanges?.at(-1)?.kind === 'timed-out';
      this.showActionNotice(t(timedOut ? 'control.timed-out' : 'control.declined'), timedOut ? 'timed-out' : 'declined');
    } else if (message.event === 'mode-changed' && control.mode !== before) {
      const reason = control.mode === 'write' ? 'approved' : 'revoked';
      this.showActionNotice(t(`control.${reason}`), reason);
    }
  }

  /** The session ended (`reason` and who ended it, when known): the state and the notice say so. */
  showEnded(reason, by) {
    this.control.pending = this.control.requested = false;
    this.set('ended');
    this.showNotice(this.#endSentence(reason, by), 'ended');
    if (reason) this.#ui.notice.dataset.reason = reason;
    if (by) this.#ui.notice.dataset.by = by;
  }

  /** Why the session ended, and who ended it when it was a person: "You" for this console's own agent. */
  #endSentence(reason, by) {
    const { control } = this;
    const [kind, id] = typeof by === 'string' ? [by.split(':')[0], by.slice(by.indexOf(':') + 1)] : [null, null];
    if (reason === 'agent-exited' && kind === 'agent' && id) {
      return control.role === 'lead' && id === control.leadAgentID ? t('ended.byYou') : t('ended.byAgent', { agent: id });
    }
    if (reason && t.has(`ended.${reason}`)) return t(`ended.${reason}`);
    if (kind && Object.hasOwn(ENDED_BY_REASONS, kind)) return t(`ended.${ENDED_BY_REASONS[kind]}`);
    return kind && t.has(`endedBy.${kind}`) ? t(`endedBy.${kind}`) : t('ended');
  }

  /** The header's controls follow the role, the mode and the state: only a lead in a joined session acts. */
  render() {
    const ui = this.#ui;
    const { control } = this;
    const lead = control.role === 'lead' && this.joined;
    document.body.dataset.role = control.role ?? '';
    document.body.dataset.mode = control.mode ?? '';
    ui.sessionMode.textContent = control.mode ? t(`mode.${control.mode}`) : '';
    const waiting = control.pending || control.requested;
    ui.requestControl.hidden = !lead;
    ui.requestControl.disabled = waiting || control.mode === 'write';
    ui.requestControl.textContent = t(waiting ? 'header.waitingForCustomer' : 'header.requestControl');
    ui.endSession.hidden = !lead;
    ui.endSession.disabled = control.ending;
    ui.navBar.hidden = !(lead && control.mode === 'write');
    // Write mode: Tab goes on from the view's tab stop into the customer's page (its fields and
    // links); otherwise the page's controls are no tab stops, and a focus left inside comes back out.
    if (lead && control.mode === 'write') {
      ui.iframe.removeAttribute('tabindex');
    } else {
      ui.iframe.tabIndex = -1;
      if (document.activeElement === ui.iframe) ui.stage.focus({ preventScroll: true });
    }
    // Signed out but for the token kept: only not joined.
    const label = this.name === 'signed-out' && this.signedIn ? 'refused' : this.name;
    ui.sessionState.textContent = t.has(`state.${label}`) ? t(`state.${label}`) : label;
    for (const render of this.#renderers) render();
  }
}
