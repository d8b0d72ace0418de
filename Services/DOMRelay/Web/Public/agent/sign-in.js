// Sign-in: how the agent's token and the session to join reach the console — the sign-in form,
// the address's `#token=…&session=…`, the contact-center desktop that frames the console
// (embedding.js), a voice call's code (voice-call.js), "Join another session" — and the token
// kept for the tab (sessionStorage), so that a reload never asks again; and signing out.
import { t } from './i18n/languages.js';
import { VoiceCall } from './voice-call.js';

/** Where the agent's token, and the session it joined last, are kept for this tab (sessionStorage). */
const STORAGE_KEY = 'cobrowse.console';

/** Exactly nine digits; spaces and dashes a person types are ignored, as the relay does. */
export function parseSessionId(text) {
  const digits = String(text ?? '').replace(/[\s-]/g, '');
  return /^[0-9]{9}$/.test(digits) ? digits : null;
}

/** The token and session kept for this tab, if any. */
function readKept() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
    if (kept && typeof kept.token === 'string' && kept.token) return { token: kept.token, sessionId: parseSessionId(kept.sessionId) };
  } catch { /* unreadable: none */ }
  return null;
}

/** The agent's sign-in, from every way a token comes in. */
export class SignIn {
  /** The agent's token while signed in, and the session to rejoin on a reload (null: none); kept in sessionStorage. */
  kept = null;
  #ui;
  #state;
  #connection;
  #clearView;
  #tellEmbedder;
  #voiceCall;

  /**
   * @param ui the console's elements (the sign-in form, #join-another, #sign-out, the voice call's)
   * @param state the console's state (console-state.js)
   * @param connection the socket to the relay (connection.js): start, stop, joining
   * @param clearView () => nothing of the last session stays in the view
   * @param tellEmbedder (message) => news for the desktop that frames the console
   */
  constructor({ ui, state, connection, clearView, tellEmbedder }) {
    this.#ui = ui;
    this.#state = state;
    this.#connection = connection;
    this.#clearView = clearView;
    this.#tellEmbedder = tellEmbedder;
    state.onRender(() => this.#render());
    ui.form.addEventListener('submit', (event) => {
      event.preventDefault();
      const token = this.kept?.token ?? ui.token.value.trim();
      const sessionId = parseSessionId(ui.session.value);
      if (!token) return this.#showFormError(t('signIn.noToken'), ui.token);
      if (!sessionId) return this.#showFormError(t('signIn.badSessionId'), ui.session);
      this.#showFormError(null);
      connection.start(token, sessionId);
    });
    ui.joinAnother.addEventListener('submit', (event) => {
      event.preventDefault();
      const sessionId = parseSessionId(ui.nextSession.value);
      if (!this.kept) return;
      if (!sessionId) return this.#showJoinAnotherError(t('signIn.badSessionId'));
      this.#showJoinAnotherError(null);
      ui.nextSession.value = '';
      connection.start(this.kept.token, sessionId);
    });
    ui.signOut.addEventListener('click', () => this.signOut());
    /** A voice call's code (docs/agent-console.md, "Voice calls"): the console joins what it starts. */
    this.#voiceCall = new VoiceCall({
      ...ui.voice,
      agentToken: () => this.kept?.token ?? ui.token.value.trim(),
      join: (token, sessionId) => this.signIn(token, sessionId, sessionId),
    });
    window.addEventListener('hashchange', () => this.joinFromAddress());
  }

  /** The token kept for the tab, as the page loads (a reload joins its session again: `kept.sessionId`). */
  restore() {
    this.kept = readKept();
    this.#state.signedIn = this.kept !== null;
    this.#state.render();
  }

  /** Signed in with `token`; `sessionId` is the session a reload rejoins (null: none, the form asks). */
  keep(token, sessionId) {
    this.kept = { token, sessionId: sessionId ?? null };
    this.#ui.token.value = ''; // the field is hidden now; the token is not left in it
    try {
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.kept));
    } catch { /* storage refused: kept in this page only */ }
    this.#state.signedIn = true;
    this.#state.render();
  }

  /** Signed out: the token is gone from the page and from storage. */
  forget() {
    this.kept = null;
    try {
      sessionStorage.removeItem(STORAGE_KEY);
    } catch { /* nothing kept */ }
    this.#state.signedIn = false;
    this.#state.render();
  }

  /** The form, with the session ID filled in (the token field shows only when no token is kept). */
  askAgain(sessionId) {
    if (sessionId != null) this.#ui.session.value = sessionId;
    this.#showFormError(null);
  }

  /**
   * A token and/or a session handed over by the address or the desktop that frames the console.
   * A token replaces the kept one; with a session (or a session alone, with a token kept) it
   * joins. The session being joined already is not joined again: a new token for it is used from
   * its next connection on. Otherwise the form asks for what is missing. Returns whether it joins.
   * `sessionText`: the session as handed over (an error names it when it is not nine digits).
   */
  signIn(token, sessionId, sessionText) {
    const ui = this.#ui;
    const current = this.#connection.joining;
    if (current && (sessionId === current.sessionId || (token && !sessionId))) {
      if (token) {
        current.token = token;
        this.keep(token, current.sessionId);
      }
      return true;
    }
    if (token) this.keep(token, null);
    if (this.kept && sessionId) {
      this.#connection.start(this.kept.token, sessionId);
      return true;
    }
    if (current) return true; // a session ID that is not one: the session goes on
    if (this.#state.name !== 'ended') {
      this.askAgain(sessionId ?? sessionText ?? null);
      if (sessionText != null && !sessionId) this.#showFormError(t('signIn.badSessionId'), ui.session);
    } else if (sessionText != null && !sessionId) {
      ui.nextSession.value = sessionText;
      this.#showJoinAnotherError(t('signIn.badSessionId'));
    }
    return false;
  }

  /** Leaves the session (without ending it: the customer's bar says the agent is reconnecting) and forgets the token. */
  signOut() {
    const state = this.#state;
    this.#connection.stop();
    this.forget();
    state.resetControl();
    this.#clearView();
    state.showSession(null, null);
    state.clearNotice();
    state.set('signed-out');
    this.#ui.session.value = '';
    this.#showFormError(null);
    this.#tellEmbedder({ t: 'signed-out' });
  }

  /** Whether the address hands something over (`#token=…`, `#session=…`, `#voice=…`). */
  addressHandsOver() {
    const params = new URLSearchParams(location.hash.slice(1));
    return params.has('token') || params.has('session') || params.has('voice');
  }

  /**
   * `#token=…&session=…` (either alone, too) hands over a token and a session. It is read once:
   * the fragment leaves the address at once, replacing this history entry, so neither the
   * address bar nor the history keeps the token; the token is then kept for the tab.
   */
  joinFromAddress() {
    if (!this.addressHandsOver()) return false;
    const params = new URLSearchParams(location.hash.slice(1));
    history.replaceState(null, '', `${location.pathname}${location.search}`);
    const token = params.get('token')?.trim() || null;
    const sessionText = params.get('session');
    const joined = this.signIn(token, parseSessionId(sessionText), sessionText);
    // `voice=<the call's interaction token>`: ask for a voice code for it at once.
    const call = params.get('voice')?.trim();
    if (call && !joined) this.#voiceCall.ask(call);
    return joined;
  }

  /** Says `message` in the form's #sign-in-error (null clears it), marking `field` and moving the focus to it (live-sessions.js). */
  showFormError(message, field) {
    this.#showFormError(message, field);
  }

  #showFormError(message, field) {
    const ui = this.#ui;
    ui.formError.textContent = message ?? '';
    ui.formError.hidden = !message;
    for (const input of [ui.token, ui.session]) {
      if (input === field) input.setAttribute('aria-invalid', 'true');
      else input.removeAttribute('aria-invalid');
    }
    field?.focus();
  }

  #showJoinAnotherError(message) {
    const ui = this.#ui;
    ui.joinAnotherError.textContent = message ?? '';
    ui.joinAnotherError.hidden = !message;
    if (message) {
      ui.nextSession.setAttribute('aria-invalid', 'true');
      ui.nextSession.focus();
    } else {
      ui.nextSession.removeAttribute('aria-invalid');
    }
  }

  /** With a token kept the form asks only for the session, and after an end the header offers the next one. */
  #render() {
    const ui = this.#ui;
    const signedIn = this.kept !== null;
    ui.tokenField.hidden = signedIn;
    ui.tokenKept.hidden = !signedIn;
    ui.signOut.hidden = !signedIn;
    const offerAnother = signedIn && this.#state.name === 'ended';
    if (offerAnother && ui.joinAnother.hidden) this.#showJoinAnotherError(null);
    ui.joinAnother.hidden = !offerAnother;
  }
}
