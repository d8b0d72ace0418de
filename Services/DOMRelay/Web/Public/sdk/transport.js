// Transport: the share session's one socket to the relay that served the SDK (/ws/share). Opens
// it with the relay's opening handshake (`start` or `resume`, answered by `started`, `resumed`
// or `error`), reconnects with backoff, closes it while the page is in the back-forward cache
// (and resumes when it is back), says how full its buffer is, and ends a session over HTTP
// when there is no socket to say it on.

/** Above this many unsent bytes the socket is too slow: stop queueing, snapshot when drained. */
const MAX_BUFFERED_BYTES = 4 << 20;
/** The relay's frame limit when it does not say its own. */
const DEFAULT_MAX_FRAME_BYTES = 4 << 20;
const RETRY_FIRST_MS = 500;
const RETRY_MAX_MS = 10000;
const DRAIN_CHECK_MS = 250;

/** The relay that served the SDK (these modules come from the same place as cobrowse.js). */
const relayURL = new URL(import.meta.url);
const relaySocketURL = `${relayURL.protocol === 'https:' ? 'wss:' : 'ws:'}//${relayURL.host}/ws/share`;
/** Where an Exit goes when there is no socket to say it on. */
const relayEndURL = `${relayURL.origin}/cobrowse/end`;

/**
 * Ends the session at the registry over HTTP, for an Exit pressed while reconnecting: the
 * registry then records that the customer ended it, not (a grace later) that they were gone.
 * A beacon is used because it is sent even if the customer closes the tab right after.
 */
export function endWithoutSocket({ sessionId, customerKey }) {
  const body = JSON.stringify({ sessionId, customerKey });
  if (navigator.sendBeacon && navigator.sendBeacon(relayEndURL, body)) return;
  fetch(relayEndURL, { method: 'POST', body, keepalive: true, credentials: 'omit' }).catch(() => {});
}

/** One share session's connection to the relay, socket after socket until it is closed for good. */
export class ShareTransport {
  /** Started or resumed on the current socket, and that socket still open: frames may go. */
  live = false;
  /** Names the current socket's sequences, so a late "paused" for an old socket is ignored. */
  streamID = null;
  /** The largest frame the relay takes (it says in `started`/`resumed`). */
  maxFrameBytes = DEFAULT_MAX_FRAME_BYTES;
  #socket = null;
  #handlers;
  #retryDelay = RETRY_FIRST_MS;
  #closed = false;
  #pageHidden = false;
  #drainTimer = null;
  // A page leaving for the back-forward cache keeps its sockets open unless told: close
  // ours, so the relay tells the agent the customer is gone (paused) until they return.
  #onPageHide = () => {
    this.#pageHidden = true;
    const socket = this.#socket;
    this.#socket = null;
    this.live = false;
    if (socket) socket.close(1000, 'page hidden');
  };
  #onPageShow = (event) => {
    this.#pageHidden = false;
    if (event.persisted && !this.#closed && !this.#socket) this.connect({ t: 'resume' }).catch(() => {}); // back from bfcache
  };

  /**
   * @param handlers.connecting () => a socket is about to open (the session fetches its rules meanwhile)
   * @param handlers.credentials () => `{ sessionId, customerKey }` of the session to resume (null: none yet)
   * @param handlers.opened (message) => the relay's `started` or `resumed`; the socket is live
   * @param handlers.refused (message, opening) => the relay's `error` answering `opening`
   * @param handlers.received (message) => any later message of the relay
   * @param handlers.lost () => a socket that was (or was to be resumed) is gone: the session
   *   decides whether to reconnect (`reconnectLater`)
   */
  constructor(handlers) {
    this.#handlers = handlers;
    addEventListener('pagehide', this.#onPageHide);
    addEventListener('pageshow', this.#onPageShow);
  }

  /** Whether a socket is open or opening. */
  get connected() {
    return this.#socket !== null;
  }

  /**
   * Opens a socket and sends `opening` (`{ t: 'start', … }`, or `{ t: 'resume' }` for the
   * session `credentials()` names); resolves with `{ sessionId }` on started/resumed, rejects
   * with the relay's refusal (its `code`) or `unavailable`.
   */
  connect(opening) {
    this.#handlers.connecting();
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(relaySocketURL);
      this.#socket = socket;
      this.streamID = Math.random().toString(36).slice(2, 12);
      let settled = false;
      socket.onopen = () => {
        const message = opening.t === 'resume' ? { t: 'resume', ...this.#resumeCredentials() } : opening;
        socket.send(JSON.stringify(message));
      };
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch { return; }
        if (!settled && (message.t === 'started' || message.t === 'resumed')) {
          settled = true;
          this.#retryDelay = RETRY_FIRST_MS;
          this.maxFrameBytes = message.maxFrameBytes || DEFAULT_MAX_FRAME_BYTES;
          this.live = true;
          this.#handlers.opened(message);
          resolve({ sessionId: message.sessionId });
        } else if (!settled && message.t === 'error') {
          settled = true;
          reject(Object.assign(new Error(message.message), { code: message.code }));
          this.#handlers.refused(message, opening);
        } else {
          this.#handlers.received(message);
        }
      };
      let gone = false;
      const onGone = () => {
        if (gone) return;
        gone = true;
        if (this.#socket === socket) this.#socket = null;
        this.live = false;
        if (!settled) {
          settled = true;
          reject(Object.assign(new Error('could not reach the co-browse service'), { code: 'unavailable' }));
          if (opening.t === 'start') return;
        }
        this.#handlers.lost();
      };
      socket.onclose = onGone;
      // A socket the page's CSP (connect-src) refuses is closed at once with an `error` and, in
      // Chromium, no `close`: it is gone all the same (a `close` that follows changes nothing).
      socket.onerror = () => {
        if (socket.readyState === WebSocket.CLOSED) onGone();
      };
    });
  }

  #resumeCredentials() {
    const { sessionId, customerKey } = this.#handlers.credentials();
    return { sessionId, customerKey };
  }

  /**
   * Resumes on a new socket after a backoff (500 ms doubling to 10 s), unless closed for good,
   * hidden in the back-forward cache (it resumes when shown) or never started; whether it will.
   */
  reconnectLater() {
    if (this.#closed || this.#pageHidden || !this.#handlers.credentials()) return false;
    const delay = this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
    setTimeout(() => {
      if (!this.#closed && !this.#socket) this.connect({ t: 'resume' }).catch(() => {});
    }, delay);
    return true;
  }

  /** Sends `message` (an object) if the socket is open, live or not; whether it went. */
  sendMessage(message) {
    return this.sendText(JSON.stringify(message));
  }

  /** Sends `text` as is if the socket is open; whether it went. */
  sendText(text) {
    const socket = this.#socket;
    if (!socket || socket.readyState !== WebSocket.OPEN) return false;
    socket.send(text);
    return true;
  }

  /** Whether the socket is open and live (started or resumed): frames may go. */
  get open() {
    return this.live && this.#socket !== null && this.#socket.readyState === WebSocket.OPEN;
  }

  /** More is waiting to leave than the network keeps up with: frames are dropped until it drains. */
  get congested() {
    return this.#socket !== null && this.#socket.bufferedAmount > MAX_BUFFERED_BYTES;
  }

  /** Calls `drained` once the socket's buffer is down to a quarter of the limit (not if the socket went meanwhile). */
  whenDrained(drained) {
    if (this.#drainTimer) return;
    this.#drainTimer = setInterval(() => {
      const socket = this.#socket;
      if (!socket || socket.bufferedAmount < MAX_BUFFERED_BYTES / 4) {
        clearInterval(this.#drainTimer);
        this.#drainTimer = null;
        if (socket) drained();
      }
    }, DRAIN_CHECK_MS);
  }

  /** Closed for good (`reason` goes to the relay): no socket, no reconnect, no listeners, no timers. */
  close(reason) {
    this.#closed = true;
    this.live = false;
    clearInterval(this.#drainTimer);
    removeEventListener('pagehide', this.#onPageHide);
    removeEventListener('pageshow', this.#onPageShow);
    const socket = this.#socket;
    this.#socket = null;
    if (socket) socket.close(1000, reason);
  }
}
