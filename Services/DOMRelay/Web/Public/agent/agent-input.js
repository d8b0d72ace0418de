// Agent input: what the lead agent does with the mouse and the keyboard, as actions for the
// customer's page, all checked by the masking filter on the way — the pointer and annotations
// (any mode), and in write mode clicks, typing, scrolling and navigation; the view's tab stop
// and its keys (the keyboard path into the view); Request control and End session; and the
// filter's refusals of these actions, put back in the view.
import { UNTYPABLE_INPUT_TYPES } from '../sdk/built-in-rules.js';
import { t } from './i18n/languages.js';

const POINTER_THROTTLE_MS = 50;
const SCROLL_THROTTLE_MS = 100;
/** A scroll of the view this soon after the agent's wheel, key or mouse is the agent's own. */
const AGENT_SCROLL_WINDOW_MS = 600;
/** The customer's scroll frames do not move what the agent scrolled this recently. */
const AGENT_SCROLL_HOLD_MS = 1000;
/** Echoes of what the agent typed, coming back through the stream, are not applied over newer typing. */
const TYPED_ECHO_MS = 5000;
/** How far an arrow key scrolls the customer's page; Page Up, Page Down and Space: this much of a screen. */
const KEY_SCROLL_LINE_PX = 40;
const KEY_SCROLL_PAGE = 0.9;
/** Keys that scroll: after one, the view's scroll is the agent's own. */
const SCROLL_KEYS = ['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'PageUp', 'PageDown', 'Home', 'End', ' '];
/** Inputs the agent never types into (they are clicked, or are not the agent's business). */
const UNTYPABLE_INPUTS = new Set(UNTYPABLE_INPUT_TYPES);

function isField(node) {
  if (node?.nodeType !== Node.ELEMENT_NODE) return false;
  switch (node.localName) {
    case 'input': return !UNTYPABLE_INPUTS.has((node.getAttribute('type') ?? 'text').toLowerCase());
    case 'textarea':
    case 'select': return true;
    default: return node.isContentEditable === true;
  }
}

/** The lead agent's input, turned into actions sent to the relay. */
export class AgentInput {
  #ui;
  #page;
  #overlay;
  #state;
  #send;
  /** The last view field the agent typed into, and what they typed (recently), for echoes and refusals. */
  #lastTyped = null;
  #typedValues = new WeakMap();
  /** When the agent last used wheel, scrolling keys or the mouse in the view. */
  #agentInputAt = -Infinity;
  /** When this console last sent a scroll of each target (0: the page). */
  #scrollSentAt = new Map();
  #pendingScrolls = new Map();
  #scrollTimer = null;
  /** Held scroll targets: once the agent stops, the view goes where the customer's page actually is. */
  #scrollHolds = new Map();
  #pointerAt = null;
  #pointerTimer = null;

  /**
   * @param ui the console's elements (iframe, stage, requestControl, endSession, the nav bar's)
   * @param page the rebuilt page (rebuild.js), whose hooks are this object's `allowInput`,
   *   `acceptInput`, `acceptScroll` and `watchView`
   * @param overlay the view's overlay (the agent's own annotations)
   * @param state the console's state (console-state.js): the role, the mode, the action notices
   * @param send (message) => sends to the relay; whether it went
   */
  constructor({ ui, page, overlay, state, send }) {
    this.#ui = ui;
    this.#page = page;
    this.#overlay = overlay;
    this.#state = state;
    this.#send = send;
    ui.stage.addEventListener('keydown', (event) => this.#onStageKey(event));
    ui.requestControl.addEventListener('click', () => {
      const { control } = state;
      if (control.role !== 'lead' || control.mode === 'write' || control.pending) return;
      if (send({ t: 'request-write' })) {
        control.requested = true;
        state.render();
      }
    });
    ui.endSession.addEventListener('click', () => {
      const { control } = state;
      if (control.role !== 'lead' || control.ending) return;
      if (send({ t: 'end' })) {
        control.ending = true;
        state.render();
      }
    });
    ui.navBack.addEventListener('click', () => this.#navigate('back'));
    ui.navForward.addEventListener('click', () => this.#navigate('forward'));
    ui.navReload.addEventListener('click', () => this.#navigate('reload'));
    ui.navBar.addEventListener('submit', (event) => {
      event.preventDefault();
      const url = ui.navURL.value.trim();
      if (url) this.#navigate('url', url);
    });
  }

  /** The lead agent, on a live page: may point and annotate (any mode), and act in write mode. */
  #canAct() {
    return this.#state.control.role === 'lead' && this.#state.name === 'live';
  }

  #writing() {
    return this.#canAct() && this.#state.control.mode === 'write';
  }

  /** Listeners on each new view document (document.open() drops the old ones), and on its frames' documents. */
  watchView(doc) {
    const options = { capture: true, passive: true };
    const agentInput = () => { this.#agentInputAt = performance.now(); };
    doc.addEventListener('mousemove', (event) => {
      if (!event.isTrusted || !this.#canAct()) return;
      const point = this.#viewPagePoint(event);
      this.#queuePointer(point.x, point.y);
    }, options);
    doc.addEventListener('click', (event) => this.#onViewClick(event), true);
    doc.addEventListener('input', (event) => this.#onViewInput(event), true);
    doc.addEventListener('wheel', agentInput, options);
    doc.addEventListener('mousedown', agentInput, options);
    doc.addEventListener('touchmove', agentInput, options);
    doc.addEventListener('keydown', (event) => {
      if (SCROLL_KEYS.includes(event.key)) agentInput();
    }, options);
    doc.addEventListener('scroll', (event) => this.#onViewScroll(event), options);
    // Escape inside the customer's page: back to the view's tab stop (the keyboard's way out).
    doc.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') this.#ui.stage.focus({ preventScroll: true });
    }, options);
  }

  /** The view lets the lead agent type only in write mode, only into fields. */
  allowInput(event) {
    const target = event.composedPath()[0];
    if (this.#writing() && isField(target)) return true;
    if (this.#canAct() && isField(target)) this.#state.showActionNotice(t('control.pointer-mode'), 'pointer-mode');
    return false;
  }

  /** The customer's echo of what the agent just typed is not applied over what they typed since. */
  acceptInput(node, frame) {
    const recent = this.#typedValues.get(node);
    if (!recent || frame.value == null) return true;
    const now = performance.now();
    return !recent.some((typed) => now - typed.at < TYPED_ECHO_MS && typed.value === String(frame.value));
  }

  /** The customer's scroll of `id` is applied unless the agent scrolled it just now (then once they stop). */
  acceptScroll(id) {
    const held = AGENT_SCROLL_HOLD_MS - (performance.now() - (this.#scrollSentAt.get(id) ?? -Infinity));
    if (held <= 0) return true;
    clearTimeout(this.#scrollHolds.get(id));
    this.#scrollHolds.set(id, setTimeout(() => {
      this.#scrollHolds.delete(id);
      if (this.acceptScroll(id)) this.#page.reapplyScroll(id);
    }, held + 50));
    return false;
  }

  /** The filter did not let an action through: say why; a refused edit is put back in the view. */
  actionDropped(frame) {
    if (this.#state.control.role !== 'lead') return;
    this.#state.showActionNotice(frame.message || t('action.notAllowed', { action: frame.action ?? 'action' }), frame.reason ?? 'dropped', frame.action);
    if (frame.action === 'type' && this.#lastTyped) {
      this.#typedValues.delete(this.#lastTyped);
      this.#page.restoreValue(this.#lastTyped);
    }
  }

  /**
   * A mouse event's position as page coordinates of the view: events in a same-origin frame of the
   * customer's page are in that frame's viewport, so its frame elements' offsets are added.
   */
  #viewPagePoint(event) {
    let x = event.clientX;
    let y = event.clientY;
    const view = this.#ui.iframe.contentWindow;
    for (let current = event.view; current && current !== view && current.frameElement; current = current.parent) {
      const box = current.frameElement.getBoundingClientRect();
      x += box.left + current.frameElement.clientLeft;
      y += box.top + current.frameElement.clientTop;
    }
    return { x: x + (view?.scrollX ?? 0), y: y + (view?.scrollY ?? 0) };
  }

  /**
   * The view's tab stop (#view-stage, docs/agent-console.md "Accessibility"): in write mode the
   * scroll keys scroll the view, and #onViewScroll sends that to the customer's page as it does the
   * agent's wheel; in pointer mode the lead is told to ask for control. Tab, in write mode, goes on
   * into the page itself (ConsoleState.render).
   */
  #onStageKey(event) {
    if (event.target !== this.#ui.stage || event.altKey || event.ctrlKey || event.metaKey) return;
    const view = this.#ui.iframe.contentWindow;
    const screen = (view?.innerHeight ?? 0) * KEY_SCROLL_PAGE * (event.shiftKey ? -1 : 1);
    const steps = {
      ArrowDown: [0, KEY_SCROLL_LINE_PX], ArrowUp: [0, -KEY_SCROLL_LINE_PX],
      ArrowRight: [KEY_SCROLL_LINE_PX, 0], ArrowLeft: [-KEY_SCROLL_LINE_PX, 0],
      PageDown: [0, Math.abs(screen)], PageUp: [0, -Math.abs(screen)], ' ': [0, screen],
    };
    const { key } = event;
    if (!Object.hasOwn(steps, key) && key !== 'Home' && key !== 'End') return;
    event.preventDefault(); // the console itself does not scroll
    if (!this.#canAct() || !view) return;
    if (!this.#writing()) return this.#state.showActionNotice(t('control.pointer-mode'), 'pointer-mode');
    this.#agentInputAt = performance.now();
    if (key === 'Home') view.scrollTo({ left: view.scrollX, top: 0, behavior: 'instant' });
    else if (key === 'End') view.scrollTo({ left: view.scrollX, top: view.document.documentElement.scrollHeight, behavior: 'instant' });
    else view.scrollBy({ left: steps[key][0], top: steps[key][1], behavior: 'instant' });
  }

  /** The agent's pointer, at most every 50 ms (the latest position wins). */
  #queuePointer(x, y) {
    this.#pointerAt = { x: Math.round(x), y: Math.round(y) };
    if (this.#pointerTimer) return;
    this.#pointerTimer = setTimeout(() => {
      this.#pointerTimer = null;
      if (this.#pointerAt && this.#canAct()) this.#send({ t: 'pointer', ...this.#pointerAt });
    }, POINTER_THROTTLE_MS);
  }

  /** Pointer mode: an annotation on both sides. Write mode: a click on the customer's element. */
  #onViewClick(event) {
    if (!event.isTrusted || !this.#canAct()) return; // the rebuilt page already cancelled it: the view does nothing itself
    if (this.#state.control.mode === 'write') {
      const known = this.#page.closestKnown(event.composedPath()[0]);
      if (known) this.#send({ t: 'click', id: known.id });
      return;
    }
    const point = this.#viewPagePoint(event);
    const x = Math.round(point.x);
    const y = Math.round(point.y);
    this.#overlay.showAnnotation(x, y);
    this.#send({ t: 'annotate', x, y });
  }

  /** What the agent typed goes to the customer's page whole (the field's new value). */
  #onViewInput(event) {
    const target = event.composedPath()[0];
    const known = this.#page.closestKnown(target);
    if (!event.isTrusted || !this.#writing() || !isField(target) || known?.node !== target) {
      // Read-only: a <select> changes without `beforeinput`; put it back.
      this.#page.restoreValue(target);
      return;
    }
    const value = ['input', 'textarea', 'select'].includes(target.localName) ? String(target.value) : target.textContent;
    const now = performance.now();
    const recent = (this.#typedValues.get(target) ?? []).filter((typed) => now - typed.at < TYPED_ECHO_MS);
    recent.push({ value, at: now });
    this.#typedValues.set(target, recent.slice(-50));
    this.#lastTyped = target;
    this.#send({ t: 'type', id: known.id, value });
  }

  /** Write mode: the agent's own scrolling of the view (not the stream's) scrolls the customer's page. */
  #onViewScroll(event) {
    if (!this.#writing() || performance.now() - this.#agentInputAt > AGENT_SCROLL_WINDOW_MS) return;
    const page = this.#page;
    const target = event.target;
    let id;
    let position;
    if (target.nodeType === Node.DOCUMENT_NODE && target !== this.#ui.iframe.contentDocument) {
      // A frame's own page scroll: its scrolling element's (its <html>).
      id = page.idOf(target.scrollingElement);
      if (id === undefined) return;
      position = { x: target.scrollingElement.scrollLeft, y: target.scrollingElement.scrollTop };
    } else if (target.nodeType === Node.DOCUMENT_NODE) {
      id = 0;
      position = { x: target.defaultView.scrollX, y: target.defaultView.scrollY };
    } else {
      id = page.idOf(target);
      if (id === undefined) return;
      position = { x: target.scrollLeft, y: target.scrollTop };
    }
    position = { x: Math.round(position.x), y: Math.round(position.y) };
    const customer = page.streamScroll(id);
    if (customer && Math.abs(customer.x - position.x) < 1 && Math.abs(customer.y - position.y) < 1) return;
    this.#pendingScrolls.set(id, position);
    if (this.#scrollTimer) return;
    this.#scrollTimer = setTimeout(() => {
      this.#scrollTimer = null;
      if (!this.#writing()) return this.#pendingScrolls.clear();
      for (const [scrolled, at] of this.#pendingScrolls) {
        this.#scrollSentAt.set(scrolled, performance.now());
        this.#send({ t: 'scroll', id: scrolled, ...at });
      }
      this.#pendingScrolls.clear();
    }, SCROLL_THROTTLE_MS);
  }

  #navigate(to, url) {
    if (!this.#writing()) return;
    this.#send(url === undefined ? { t: 'navigate', to } : { t: 'navigate', to, url });
  }
}
