// View stream: the filter's frames of the customer's page, applied in their sequence to the view
// (the rebuilt page, rebuild.js, and the overlay, overlay.js), with the page's address in the
// header; a gap, or a frame that no longer fits the view, asks the sharer for a fresh snapshot.
import { t } from './i18n/languages.js';

const PAUSE_DEBOUNCE_MS = 1500; // in-site navigation sends a snapshot well within this
const RESYNC_RETRY_MS = 5000;

/**
 * Applies a join's frames to the view. A join (connection.js) carries the stream's place:
 * `lastSeq`, `needsSnapshot`, `pauseTimer`, `resyncTimer`, and its `socket`.
 */
export class ViewStream {
  #page;
  #overlay;
  #state;
  #ui;
  #isCurrent;
  #actionDropped;

  /**
   * @param page the rebuilt page (rebuild.js)
   * @param overlay the view's overlay (overlay.js)
   * @param state the console's state (console-state.js)
   * @param ui the console's elements (customerURL, navURL)
   * @param isCurrent (join) => whether `join` is still the console's join
   * @param actionDropped (frame) => the filter's answer to one of this agent's actions
   */
  constructor({ page, overlay, state, ui, isCurrent, actionDropped }) {
    this.#page = page;
    this.#overlay = overlay;
    this.#state = state;
    this.#ui = ui;
    this.#isCurrent = isCurrent;
    this.#actionDropped = actionDropped;
  }

  /** Nothing of the last session stays in the view: its page, its address, its sequence. */
  clearView() {
    this.#page.clear();
    this.#overlay.hideCursor();
    this.#ui.customerURL.textContent = '';
    this.#ui.customerURL.removeAttribute('title');
    document.body.dataset.seq = '0';
  }

  /** Joined (again): everything before the snapshot the relay asked for is ignored. */
  restart(join) {
    join.needsSnapshot = true;
    join.lastSeq = null;
  }

  /** The stream's timers stop (the socket is gone, the session ended or was left). */
  stop(join) {
    clearTimeout(join.pauseTimer);
    clearTimeout(join.resyncTimer);
  }

  /**
   * A frame of `join`'s stream. Frames are applied in the filter's sequence. Before the first
   * snapshot (and after a gap, until the fresh snapshot) only a snapshot is taken; a gap asks
   * the sharer for one.
   */
  receive(join, frame) {
    // The filter's answer to one of this agent's actions: shown whatever the view's state, and
    // counted in the sequence like any frame (below).
    if (frame.t === 'action-dropped') this.#actionDropped(frame);
    if (frame.t === 'snapshot') {
      join.needsSnapshot = false;
      clearTimeout(join.resyncTimer);
      this.#apply(join, frame);
      return;
    }
    if (join.needsSnapshot || join.lastSeq === null) return;
    if (frame.seq !== join.lastSeq + 1) {
      this.#requestResync(join);
      return;
    }
    this.#apply(join, frame);
  }

  #apply(join, frame) {
    try {
      this.#applyFrame(join, frame);
    } catch (error) {
      // The view no longer matches the page: start again from a fresh snapshot.
      console.error('could not apply frame', frame.t, frame.seq, error);
      this.#requestResync(join);
      return;
    }
    join.lastSeq = frame.seq;
    document.body.dataset.seq = String(frame.seq);
  }

  #applyFrame(join, frame) {
    const page = this.#page;
    const overlay = this.#overlay;
    const ui = this.#ui;
    switch (frame.t) {
      case 'snapshot':
        clearTimeout(join.pauseTimer);
        overlay.setViewport(frame.viewport?.w, frame.viewport?.h, frame.viewport?.visual);
        page.loadSnapshot(frame);
        ui.customerURL.textContent = frame.url ?? '';
        ui.customerURL.title = [frame.title, frame.url].filter(Boolean).join('\n');
        if (document.activeElement !== ui.navURL) ui.navURL.value = frame.url ?? '';
        this.#state.clearNotice('paused', 'reconnecting');
        this.#state.set('live');
        overlay.refresh();
        break;
      case 'mutations':
        page.applyMutations(frame);
        break;
      case 'input':
        page.applyInput(frame);
        break;
      case 'scroll':
        page.applyScroll(frame);
        overlay.refresh();
        break;
      case 'viewport':
        overlay.setViewport(frame.w, frame.h, frame.visual);
        break;
      case 'cursor':
        overlay.moveCursor(frame.x, frame.y);
        break;
      case 'click':
        overlay.showClick(frame.x, frame.y);
        break;
      case 'paused':
        overlay.hideCursor();
        clearTimeout(join.pauseTimer);
        join.pauseTimer = setTimeout(() => {
          if (!this.#isCurrent(join) || this.#state.name !== 'live') return;
          this.#state.set('paused');
          this.#state.showNotice(t('notice.paused'), 'paused');
        }, PAUSE_DEBOUNCE_MS);
        break;
      default:
        // `action-dropped` (shown in receive), `resumed` and anything newer: a snapshot follows when it matters.
        break;
    }
  }

  #requestResync(join) {
    join.needsSnapshot = true;
    clearTimeout(join.resyncTimer);
    if (join.socket?.readyState === WebSocket.OPEN) join.socket.send(JSON.stringify({ t: 'resync' }));
    // Ask again if the snapshot does not come (the request may be throttled along the way).
    join.resyncTimer = setTimeout(() => {
      if (this.#isCurrent(join) && join.needsSnapshot && join.lastSeq !== null) this.#requestResync(join);
    }, RESYNC_RETRY_MS);
  }
}
