// Edited page: the rules editor's link to the page being edited, which runs the SDK in editor
// mode (sdk/editing.js) in #site-frame or, for a page that may not be framed, in a window of
// its own. Says hello to each page it loads, learns its origin from the answer, and from then
// on talks to that origin only (`{ cobrowseEditor: 1, t, … }` messages).

/** How long an opened page has to answer before the editor says it cannot edit it. */
const READY_WITHIN_MS = 5000;
/** How often a window of its own is greeted (it says nothing when it loads a page). */
const WINDOW_HELLO_MS = 1000;

/** The page being edited, in the editor's frame or in a window of its own. */
export class EditedPage {
  /** The page's address as its SDK says it (null until it answered). */
  url = null;
  /** The page's origin and editing instance, from its `ready` (null until then). */
  #origin = null;
  #instance = null;
  /** The window the page is in: the frame's, or a window the editor opened. */
  #target = null;
  #frame;
  #hooks;
  #readyTimer = null;
  #window = null;
  #windowHello = null;

  /**
   * @param frame #site-frame
   * @param hooks notice(text): a sentence for the editor's notice ('' clears it); ready(url): a
   *   page answered (a new one, or at a new address); snapshot(frame), picked(message),
   *   probed(message): what its SDK sends
   */
  constructor(frame, hooks) {
    this.#frame = frame;
    this.#hooks = hooks;
    frame.addEventListener('load', () => {
      if (this.#target !== frame.contentWindow) return;
      // Whatever the frame loaded (a link followed, a form sent), ask its SDK for editor mode.
      this.#origin = null;
      this.#instance = null;
      frame.contentWindow.postMessage({ cobrowseEditor: 1, t: 'hello' }, '*');
      this.#awaitReady();
    });
    window.addEventListener('message', (event) => this.#received(event));
  }

  /** Opens `url` in the editor's frame. */
  openInFrame(url) {
    const address = this.#address(url);
    if (!address) return;
    this.#closeWindow();
    this.#forget();
    this.#target = this.#frame.contentWindow;
    document.body.dataset.pageIn = 'frame';
    this.#frame.src = address;
  }

  /** Opens `url` in a window of its own, for a page that may not be framed (X-Frame-Options, frame-ancestors). */
  openInWindow(url) {
    const address = this.#address(url);
    if (!address) return;
    this.#frame.removeAttribute('src');
    this.#forget();
    const opened = window.open(address, 'cobrowse-rules-editor-page');
    this.#window = opened;
    if (!opened) {
      this.#hooks.notice('The browser blocked the window: allow pop-ups for this page.');
      return;
    }
    this.#target = opened;
    document.body.dataset.pageIn = 'window';
    // A window says nothing when it loads a page: say hello until each new page answers (an
    // answering page ignores the repeats).
    clearInterval(this.#windowHello);
    this.#windowHello = setInterval(() => {
      if (opened.closed) {
        this.#closeWindow();
        this.#hooks.notice('The page\'s window was closed.');
        return;
      }
      opened.postMessage({ cobrowseEditor: 1, t: 'hello' }, '*');
    }, WINDOW_HELLO_MS);
    this.#awaitReady();
  }

  /** Sends `message` to the page, once it answered (to its origin only). */
  send(message) {
    if (!this.#origin || !this.#target) return;
    this.#target.postMessage({ cobrowseEditor: 1, ...message }, this.#origin);
  }

  /** The page's address, absolute; null (with a notice) when it is not one. */
  #address(url) {
    try {
      return new URL(url, location.href).href;
    } catch {
      this.#hooks.notice('Type the page\'s full address.');
      return null;
    }
  }

  #forget() {
    this.url = null;
    this.#origin = null;
    this.#instance = null;
    this.#hooks.notice('');
  }

  #closeWindow() {
    clearInterval(this.#windowHello);
    this.#windowHello = null;
    if (this.#window && !this.#window.closed) this.#window.close();
    this.#window = null;
  }

  #awaitReady() {
    clearTimeout(this.#readyTimer);
    this.#readyTimer = setTimeout(() => {
      if (!this.#origin) this.#hooks.notice(`This page did not answer: it must load cobrowse.js from this relay (${location.origin}).`);
    }, READY_WITHIN_MS);
  }

  #received(event) {
    if (!this.#target || event.source !== this.#target) return;
    const message = event.data;
    if (!message || message.cobrowseEditor !== 1) return;
    switch (message.t) {
      case 'ready':
        // A repeated hello's answer from the same page, at the same address: nothing new.
        if (message.instance === this.#instance && message.url === this.url && event.origin === this.#origin) break;
        clearTimeout(this.#readyTimer);
        this.#origin = event.origin;
        this.#instance = message.instance;
        this.url = message.url;
        this.#hooks.ready(message.url);
        break;
      case 'snapshot':
        this.#hooks.snapshot(message.frame);
        break;
      case 'picked':
        this.#hooks.picked(message);
        break;
      case 'probed':
        this.#hooks.probed(message);
        break;
      default:
        break;
    }
  }
}
