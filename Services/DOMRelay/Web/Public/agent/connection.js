// Connection: the console's socket to the relay (/ws/view). Joins a session with the agent's
// token, rejoins with backoff when the socket drops, leaves while the page is in the
// back-forward cache or frozen (and rejoins when it is shown again), and hands the relay's
// messages on: refusals, session notices, the end, and the stream's frames (view-stream.js).
import { t } from './i18n/languages.js';

const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;
/** Join refusals that say the token itself is no good: it is forgotten, never tried again. */
const TOKEN_REFUSALS = new Set(['invalid-token', 'expired-token']);
/** States in which there is nothing to rejoin. */
const NOT_JOINING = ['ended', 'refused', 'signed-out'];

function relayURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/view`;
}

/** The console's one join at a time: its socket, and what the relay says on it. */
export class Connection {
  /** The current join (token, socket, sequence, timers); replaced whole on joining another session. */
  current = null;
  /** Called when a relay in dev mode says the test hooks are on (`testHooks` in `joined`). */
  onTestHooks = null;
  /**
   * The page is in the back-forward cache (the agent navigated away) or frozen: a page kept there
   * keeps its socket open unless told, and the session would never learn that the agent left.
   */
  #suspended = false;
  #state;
  #stream;
  #signIn;
  #tellEmbedder;

  /**
   * @param state the console's state (console-state.js)
   * @param stream the view's stream (view-stream.js)
   * @param signIn what a join does to the sign-in: `keep(token, sessionId)` (the session a reload
   *   rejoins; null: none), `forget()` (a token refused), `askAgain(sessionId)` (the form, after a refusal)
   * @param tellEmbedder (message) => news for the contact-center desktop that frames the console
   */
  constructor({ state, stream, signIn, tellEmbedder }) {
    this.#state = state;
    this.#stream = stream;
    this.#signIn = signIn;
    this.#tellEmbedder = tellEmbedder;
    addEventListener('pagehide', () => this.#suspend());
    addEventListener('pageshow', (event) => { if (event.persisted) this.#wake(); });
    document.addEventListener('freeze', () => this.#suspend());
    document.addEventListener('resume', () => this.#wake());
  }

  /** The join under way or held (not ended, not refused, not signed out), or null. */
  get joining() {
    return this.current !== null && !NOT_JOINING.includes(this.#state.name) ? this.current : null;
  }

  /** Starts (or switches to) a session: the view is cleared only when the session changes. */
  start(token, sessionId) {
    const sameSession = this.current?.sessionId === sessionId;
    this.stop();
    this.#signIn.keep(token, sessionId);
    this.current = {
      token,
      sessionId,
      socket: null,
      joinedOnce: false,
      reconnectDelay: RECONNECT_FIRST_MS,
      reconnectTimer: null,
      /** Who ended the session (`session.endedBy` of the registry's `ended` notice). */
      endedBy: null,
      lastSeq: null,
      needsSnapshot: true,
      pauseTimer: null,
      resyncTimer: null,
    };
    this.#state.resetControl();
    if (!sameSession) this.#stream.clearView();
    this.#state.showSession(sessionId, null);
    this.#state.clearNotice();
    this.#connect(this.current);
  }

  /** Forgets the current join: its socket closes without a reconnect. */
  stop() {
    if (!this.current) return;
    const old = this.current;
    this.current = null;
    clearTimeout(old.reconnectTimer);
    this.#stream.stop(old);
    old.socket?.close(1000, 'the agent left');
  }

  /** Sends `message` on the current join's socket; whether it went. */
  send(message) {
    const socket = this.current?.socket;
    if (socket?.readyState !== WebSocket.OPEN) return false;
    socket.send(JSON.stringify(message));
    return true;
  }

  /** Leaves the session for now: the socket closes (the relay and the watch see the agent go), nothing is retried. */
  #suspend() {
    if (this.#suspended) return;
    this.#suspended = true;
    const current = this.current;
    if (!current) return;
    clearTimeout(current.reconnectTimer);
    this.#stream.stop(current);
    const socket = current.socket;
    current.socket = null; // its close is not a dropped connection: no reconnect
    socket?.close(1000, 'the console was hidden');
  }

  /** Shown again: rejoins the same session with the same token, as after a dropped socket (within the grace it goes on). */
  #wake() {
    if (!this.#suspended) return;
    this.#suspended = false;
    const current = this.current;
    if (!current || current.socket || NOT_JOINING.includes(this.#state.name)) return;
    this.#connect(current);
  }

  #connect(current) {
    this.#state.set('connecting');
    const socket = new WebSocket(relayURL());
    current.socket = socket;
    // Before this socket is joined an error is a refusal; after, it is only a complaint.
    let joined = false;
    let retryable = true;
    const live = () => this.current === current && current.socket === socket;

    socket.addEventListener('open', () => {
      if (!live()) return;
      socket.send(JSON.stringify({ t: 'join', agentToken: current.token, sessionId: current.sessionId }));
    });
    socket.addEventListener('message', (event) => {
      if (!live()) return;
      let message;
      try {
        message = JSON.parse(event.data);
      } catch {
        return;
      }
      if (!message || typeof message !== 'object') return;
      switch (message.t) {
        case 'joined':
          joined = true;
          this.#joined(current, message);
          break;
        case 'error':
          if (joined) this.#state.showRefusedRequest(message);
          else retryable = this.#refused(current, message);
          break;
        case 'session':
          // Who ended it comes with the registry's notice, just before the relay's `ended`.
          if (message.event === 'ended') current.endedBy = message.session?.endedBy ?? null;
          this.#state.showSessionNotice(current.sessionId, message);
          break;
        case 'ended':
          retryable = false;
          this.#ended(current, message.reason);
          break;
        default:
          if (typeof message.seq === 'number') this.#stream.receive(current, message);
      }
    });
    socket.addEventListener('close', () => {
      if (!live() || !retryable) return;
      this.#scheduleReconnect(current);
    });
  }

  #scheduleReconnect(current) {
    if (this.#suspended) return; // #wake() rejoins
    this.#stream.stop(current);
    this.#state.set('connecting');
    if (this.#state.noticeKind !== 'reconnecting') {
      this.#state.showNotice(t(current.joinedOnce ? 'notice.reconnecting' : 'notice.unreachable'), 'reconnecting');
    }
    const delay = current.reconnectDelay;
    current.reconnectDelay = Math.min(delay * 2, RECONNECT_MAX_MS);
    current.reconnectTimer = setTimeout(() => {
      if (this.current === current) this.#connect(current);
    }, delay);
  }

  #joined(current, message) {
    const state = this.#state;
    const first = !current.joinedOnce;
    current.joinedOnce = true;
    if (message.testHooks === true && this.onTestHooks) this.onTestHooks();
    current.reconnectDelay = RECONNECT_FIRST_MS;
    // The relay has asked the sharer for a snapshot; everything before it is ignored.
    this.#stream.restart(current);
    // Only the lead agent acts; a supervisor observes (and an older relay that does not say: observe).
    state.control.role = message.role === 'lead' ? 'lead' : 'observer';
    state.control.requested = false;
    state.showSession(message.sessionId ?? current.sessionId, message.session);
    state.clearNotice('reconnecting');
    state.set('waiting');
    if (first) this.#tellEmbedder({ t: 'joined', sessionId: current.sessionId, role: state.control.role });
  }

  /** A refused join; returns whether to try again (only when the relay says it is not ready). */
  #refused(current, { code, message }) {
    const state = this.#state;
    if (code === 'unavailable') {
      state.showNotice(t('notice.relayNotReady', { message }), 'reconnecting');
      return true;
    }
    // The session ended while this console was reconnecting.
    if (code === 'session-ended' && current.joinedOnce) {
      this.#ended(current, null);
      return false;
    }
    this.#stream.stop(current);
    // A token that is no good is forgotten (a reload or the desktop must bring a new one); any
    // other refusal is the session's: the token stays, the session is not rejoined on a reload.
    const tokenRefused = TOKEN_REFUSALS.has(code);
    if (tokenRefused) this.#signIn.forget();
    else this.#signIn.keep(current.token, null);
    state.set('refused');
    state.showNotice(t('notice.refused', { sessionId: current.sessionId, message: message || code || 'refused' }), 'refused');
    this.#signIn.askAgain(current.sessionId);
    this.#tellEmbedder({ t: 'refused', sessionId: current.sessionId, code: code ?? null, message: message ?? null, tokenForgotten: tokenRefused });
    return false;
  }

  #ended(current, reason) {
    this.#stream.stop(current);
    // The token stays for the next session ("Join another session"); this one is not rejoined on a reload.
    this.#signIn.keep(current.token, null);
    const by = current.endedBy ?? null;
    this.#state.showEnded(reason, by);
    this.#tellEmbedder({ t: 'ended', sessionId: current.sessionId, reason: reason ?? null, by });
  }
}
