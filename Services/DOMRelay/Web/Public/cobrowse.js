/*
 * cobrowse.js — the sharer SDK. One script tag on the customer's site; no build step.
 *
 *   <script src="https://cobrowse.example.com/v1/cobrowse.js"></script>
 *   CoBrowse.start({ interactionToken }).then(({ sessionId }) => …)
 *
 * Or loaded without blocking the page by the snippet in docs/sdk.md, which defines a stub
 * `window.CoBrowse` (`stub: true`) that queues calls until this script replaces it and runs them.
 * Types: cobrowse.d.ts, next to this file.
 *
 * The page is serialized into a node-id mirror, then streamed as batched changes over a
 * WebSocket to the relay that served this script (docs/stream-protocol.md, docs/sdk.md).
 * Masking rules come from the same relay (docs/masking.md): masked data never leaves the page.
 * The agent's pointer, annotations and (in write mode, with the customer's consent) actions
 * come back over the same socket; the masking filter checked them, and the SDK checks again.
 *
 * This classic script only defines window.CoBrowse, keeps its subscribers, and notes the page's
 * password fields from the start (a "show password" toggle may come before sharing does). The
 * work is done by ES modules in sdk/ next to it, by job (mirror, masking, password-history, built-in-rules,
 * detectors, rules, customer-mark, serialize, frames, observe, bar, agent-marks, actions, end-notice,
 * transport (the socket), outbound-stream (frames in sequence, bounded), detection-reports
 * (what the PII detectors masked, told to the filter), share-session (one session's run),
 * session, and i18n/: the sentences in each language), imported from this script's own address
 * when a session starts or resumes: nothing more is downloaded before. The relay lets the sites
 * it allows read sdk/ across origins (CORS), as it lets them open its sockets. The rules
 * editor's side (sdk/editing.js) loads only when the relay's editor page frames this page and
 * asks for it.
 */
(() => {
  'use strict';
  // The loading snippet's stub (docs/sdk.md) is replaced, and the calls it queued run here.
  // Anything else: included twice, keep the first.
  const stub = window.CoBrowse && window.CoBrowse.stub === true ? window.CoBrowse : null;
  if (window.CoBrowse && !stub) return;

  /** Where a session is kept across the pages of the site (sdk/share-session.js writes it). */
  const STORAGE_KEY = 'cobrowse.session';
  const scriptURL = document.currentScript ? document.currentScript.src : location.href;
  /**
   * The parts, all imported at once so that they download side by side (session.js alone would
   * pull in the others one level of imports at a time). The first one is the entry.
   */
  const PARTS = ['session.js', 'share-session.js', 'transport.js', 'outbound-stream.js', 'detection-reports.js',
    'mirror.js', 'masking.js', 'password-history.js',
    'built-in-rules.js', 'detectors.js', 'rules.js',
    'customer-mark.js', 'serialize.js', 'frames.js', 'observe.js', 'bar.js', 'agent-marks.js', 'actions.js', 'end-notice.js',
    'code-prompt.js', 'tab-order.js', 'visual-viewport.js', 'i18n/languages.js', 'i18n/translate.js', 'i18n/en.js', 'i18n/ja.js'];
  /** The value setters as the browser made them, taken now: the agent types with these (sdk/actions.js). */
  const NATIVE_VALUE_SETTERS = new Map([HTMLInputElement, HTMLTextAreaElement, HTMLSelectElement].map((type) =>
    [type, Object.getOwnPropertyDescriptor(type.prototype, 'value').set]));

  /**
   * Inputs that are or ever were password fields on this page, from its load on: sdk/masking.js
   * keeps them masked whatever their type becomes. A "show password" toggle sets `type` to
   * text, so every `type` change whose old value was password is noted (one observer, for that
   * attribute only), and the password fields there are at load.
   */
  const everPassword = new WeakSet();
  const notePasswords = () => {
    for (const input of document.querySelectorAll('input[type=password i]')) everPassword.add(input);
  };
  const noteToggles = (records) => {
    for (const { target, oldValue } of records) {
      if (target.localName === 'input' && typeof oldValue === 'string' && oldValue.toLowerCase() === 'password') everPassword.add(target);
    }
  };
  const typeWatch = new MutationObserver(noteToggles);
  typeWatch.observe(document, { subtree: true, attributeFilter: ['type'], attributeOldValue: true });
  notePasswords();
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', notePasswords, { once: true });
  /** What the sdk/ modules get: the set, and a way to take the changes not delivered yet. */
  const PASSWORD_HISTORY = Object.freeze({ everPassword, catchUp: () => noteToggles(typeWatch.takeRecords()) });

  class Events {
    constructor() { this.handlers = new Map(); }
    on(event, handler) {
      if (!this.handlers.has(event)) this.handlers.set(event, new Set());
      this.handlers.get(event).add(handler);
      return () => this.handlers.get(event).delete(handler);
    }
    emit(event, detail) {
      for (const handler of this.handlers.get(event) || []) {
        try { handler(detail); } catch (error) { console.error('CoBrowse handler failed', error); }
      }
    }
  }

  const events = new Events();
  /** sdk/session.js's side of the API, once loaded; `loading` while it loads. */
  let sharing = null;
  let loading = null;
  /** The stored session being resumed while the parts load (what sessionId and mode report meanwhile). */
  let pendingResume = null;

  /** The parts, loaded once; calls made meanwhile wait for them, in the order they were made. */
  function load() {
    if (!loading) {
      loading = Promise.all(PARTS.map((part) => import(new URL(`sdk/${part}`, scriptURL).href))).then(([session]) => {
        sharing = session.createSharing({ events, nativeValueSetters: NATIVE_VALUE_SETTERS, passwordHistory: PASSWORD_HISTORY });
        return sharing;
      }, (error) => {
        loading = null; // a later call tries again
        throw Object.assign(new Error('could not reach the co-browse service'), { code: 'unavailable', cause: error });
      });
    }
    return loading;
  }

  const api = {
    /**
     * Starts sharing this page inside the customer's live interaction:
     * `{ interactionToken, endNoticeSeconds }` (how long the end notice stays; default 8, 0: none),
     * `language` (the SDK's words: 'en', 'ja', …; default: the page's `<html lang>`, else English).
     */
    start(options) {
      resumeFromStorage(); // a stored session first, so that this call finds it (not a second session)
      if (sharing) return sharing.start(options);
      // Nothing loaded nor loading: no session can be running, and nothing is fetched for a call without a token.
      const { interactionToken } = options === undefined ? {} : options; // null throws, as ever
      if (!loading && !interactionToken) {
        return Promise.reject(new Error('CoBrowse.start needs { interactionToken }'));
      }
      return load().then((loaded) => loaded.start(options));
    },
    /**
     * Starts sharing inside a voice call with the six-digit code the agent reads out (a string):
     * at once with `code`, or without one through the SDK's own prompt, which asks for it (and
     * for another try after a wrong one) until a session starts or the customer cancels
     * (`cancelled`). The same options as `start`, without the token.
     */
    startWithCode(code, options) {
      resumeFromStorage(); // a stored session first, as for start
      if (sharing) return sharing.startWithCode(code, options);
      return load().then((loaded) => loaded.startWithCode(code, options));
    },
    /** Ends the session for everyone, as the customer. */
    end() {
      resumeFromStorage(); // a stored session is the one to end
      if (sharing) sharing.end();
      else if (loading) loading.then((loaded) => loaded.end(), () => {});
    },
    /**
     * Subscribes to started, resumed, agentJoined, session, controlRequested, modeChanged, ended,
     * error; returns an unsubscribe function.
     */
    on(event, handler) {
      return events.on(event, handler);
    },
    /** The live session's nine-digit ID, or null. */
    get sessionId() {
      if (pendingResume) return pendingResume.sessionId;
      return sharing ? sharing.sessionId : null;
    },
    /** What the agent may do: `pointer` (point and annotate) or `write` (act, as the customer allowed); null without a session. */
    get mode() {
      if (pendingResume) return 'pointer'; // as every session starts
      return sharing ? sharing.mode : null;
    },
  };
  // Read-only and for good, also where it replaces the snippet's stub (an assignable property).
  Object.defineProperty(window, 'CoBrowse', { value: Object.freeze(api), enumerable: true, writable: false, configurable: false });

  /**
   * The snippet's stub queued `[method, arguments, resolve, reject]` for each call made before
   * this script ran: they run now, in the order they were made, and settle the promises the stub
   * handed out with the real results (start's session, on's unsubscribe function). The stub
   * itself, which the site may still hold, then leads to the real API.
   */
  function adoptStub(stubbed) {
    const run = (entry) => {
      const [method, args, resolve, reject] = Array.isArray(entry) ? entry : [];
      if (typeof resolve !== 'function' || typeof reject !== 'function') return;
      if (typeof method !== 'string' || !Object.prototype.hasOwnProperty.call(api, method) || typeof api[method] !== 'function') {
        reject(new TypeError(`CoBrowse has no method ${method}`));
        return;
      }
      try {
        resolve(api[method](...(args || [])));
      } catch (error) {
        reject(error);
      }
    };
    const queued = Array.isArray(stubbed.q) ? stubbed.q.slice() : [];
    try {
      stubbed.q = { push: run };
      for (const [method, value] of Object.entries(api)) if (typeof value === 'function') stubbed[method] = value;
      for (const name of ['sessionId', 'mode']) {
        Object.defineProperty(stubbed, name, { get: () => api[name], enumerable: true, configurable: true });
      }
    } catch { /* a frozen stub: what it queued still runs */ }
    for (const entry of queued) run(entry);
  }

  // The rules editor (docs/masking.md): a page of the relay that served this script may frame
  // this page, or open it in a window, and turn on editor mode (sdk/editing.js). Only that
  // origin, and only the window that framed or opened this page.
  const relayOrigin = new URL(scriptURL).origin;
  let editing = null;
  function startEditing(event) {
    const framer = window.parent !== window ? window.parent : null;
    if (editing || !event.source || (event.source !== framer && event.source !== window.opener) || event.origin !== relayOrigin) return;
    const message = event.data;
    if (!message || message.cobrowseEditor !== 1 || message.t !== 'hello') return;
    editing = import(new URL('sdk/editing.js', scriptURL).href).then((module) =>
      module.startEditing({ editor: event.source, origin: relayOrigin, passwordHistory: PASSWORD_HISTORY }));
    editing.catch((error) => console.warn('CoBrowse: the rules editor could not start', error));
  }
  window.addEventListener('message', startEditing);

  // A session started on an earlier page of this site continues here: once the page is parsed,
  // or at once if start() or end() is called before (they act on that session).
  let resumeChecked = false;
  function resumeFromStorage() {
    if (resumeChecked) return;
    resumeChecked = true;
    // A frame of a page of the same site: that page's SDK shares this document (in its frame).
    if (window.frameElement) return;
    let stored = null;
    try { stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY)); } catch { /* unreadable: none */ }
    if (!stored || !stored.sessionId || !stored.customerKey) return;
    pendingResume = stored;
    load().then((loaded) => {
      pendingResume = null;
      loaded.resume(stored);
    }, (error) => {
      pendingResume = null;
      console.warn('CoBrowse: the session could not be resumed on this page', error);
    });
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', resumeFromStorage, { once: true });
  else resumeFromStorage();

  // Last, once all of the above is in place: what the page asked of the snippet's stub.
  if (stub) adoptStub(stub);
})();
