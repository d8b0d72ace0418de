// Observe: the page's changes per MutationObserver callback, form values (events and the
// value setters), scrolls, the customer's pointer and clicks, as frames to send.
import { controlState } from './serialize.js';
import { notePasswordToggles } from './password-history.js';
import { isFrameElement, readableFrameDocument, windowOf, topPagePoint } from './frames.js';
import { viewportState } from './visual-viewport.js';

const SCROLL_THROTTLE_MS = 100;
const CURSOR_THROTTLE_MS = 50;
const RESIZE_THROTTLE_MS = 200;
/** Longest wait for the layout pass when no animation frame comes (a hidden page). */
const LAYOUT_PASS_MS = 100;

export class PageObserver {
  /**
   * @param send (frame without seq) → void
   * @param hooks urlChanged() → whether the page's address changed (a snapshot is on its way);
   *   statusChanged() when an element became masked or blocked, or stopped being
   */
  constructor(mirror, serializer, send, hooks) {
    this.mirror = mirror;
    this.serializer = serializer;
    this.send = send;
    this.hooks = hooks;
    this.mutationObserver = new MutationObserver((records) => this.mutations(records));
    this.listeners = [];
    this.timers = new Map();
    this.pendingScroll = new Set();
    this.pendingInputs = new Set();
    /** The last state sent per control: a masked field sends one frame when it fills, not one per keystroke. */
    this.sentInputs = new WeakMap();
    this.restoreSetters = [];
    /** The scheduled layout pass ({ frame, timer }), or null. */
    this.layoutPass = null;
  }

  start() {
    this.watchedDocuments = new WeakSet();
    this.hookedWindows = new WeakSet();
    this.watchDocument(document);
    // The layout viewport (resize) and the visual one (pinch zoom, panning, a keyboard), as one frame.
    const viewportChanged = () => this.throttle('viewport', RESIZE_THROTTLE_MS, () => this.send({ t: 'viewport', ...viewportState() }));
    this.listen(window, 'resize', viewportChanged, true);
    if (window.visualViewport) {
      this.listen(window.visualViewport, 'resize', viewportChanged, false);
      this.listen(window.visualViewport, 'scroll', viewportChanged, false);
    }
  }

  /**
   * Changes, form values, scrolls, pointer and clicks of a document: the page's, or a
   * same-origin frame's (events do not cross documents). Frame positions are sent as the top
   * page's coordinates.
   */
  watchDocument(doc) {
    if (this.watchedDocuments.has(doc)) return;
    this.watchedDocuments.add(doc);
    const view = windowOf(doc);
    this.observe(doc);
    this.listen(doc, 'input', (event) => this.queueInput(event.composedPath()[0]), true);
    this.listen(doc, 'change', (event) => this.queueInput(event.composedPath()[0]), true);
    this.listen(doc, 'scroll', (event) => this.queueScroll(event.target), true);
    this.listen(doc, 'mousemove', (event) => {
      this.lastPointer = topPagePoint(view, event.clientX, event.clientY);
      this.throttle('cursor', CURSOR_THROTTLE_MS, () => this.send({ t: 'cursor', ...this.lastPointer }));
    }, true);
    this.listen(doc, 'click', (event) => {
      // The customer's own clicks: not the agent's (element.click()) nor the page's scripts'.
      if (!event.isTrusted) return;
      const id = this.mirror.id(event.composedPath()[0]);
      this.send({ t: 'click', ...topPagePoint(view, event.clientX, event.clientY), ...(id === undefined ? {} : { id }) });
    }, true);
    // A frame's `load` fires at its element (no bubbling; a capturing listener sees it).
    this.listen(doc, 'load', (event) => this.frameLoaded(event.target), true);
    this.hookValueSetters(view);
  }

  /** A frame (re)loaded: its document is not the one sent (or is readable now, or no longer). */
  frameLoaded(element) {
    if (!element || element.nodeType !== Node.ELEMENT_NODE || !isFrameElement(element)) return;
    if (!this.mirror.has(element) || this.serializer.isBlocked(element)) return;
    if ((readableFrameDocument(element) || null) === (this.mirror.frames.get(element) || null)) return;
    this.hooks.frameChanged();
  }

  /** Starts watching a document or open shadow root for changes. */
  observe(root) {
    this.mutationObserver.observe(root, {
      childList: true, subtree: true, attributes: true, attributeOldValue: true, characterData: true,
    });
  }

  stop() {
    this.mutationObserver.disconnect();
    for (const [target, type, handler, capture] of this.listeners) target.removeEventListener(type, handler, capture);
    this.listeners = [];
    for (const timer of this.timers.values()) clearTimeout(timer);
    this.timers.clear();
    this.cancelLayoutPass();
    for (const restore of this.restoreSetters) restore();
    this.restoreSetters = [];
  }

  /**
   * Changes not yet delivered to the callback are dropped: a snapshot is about to follow. What
   * they say about password fields is kept (the snapshot must mask a field just shown).
   */
  discardPending() {
    notePasswordToggles(this.mutationObserver.takeRecords());
    this.cancelLayoutPass();
    this.serializer.needLayout = [];
    this.pendingInputs.clear();
    this.pendingScroll.clear();
    this.sentInputs = new WeakMap();
  }

  listen(target, type, handler, capture) {
    target.addEventListener(type, handler, { capture, passive: true });
    this.listeners.push([target, type, handler, capture]);
  }

  /** Runs `work` at most once per `ms` for `key`, at the end of the window (trailing edge). */
  throttle(key, ms, work) {
    if (this.timers.has(key)) return;
    this.timers.set(key, setTimeout(() => {
      this.timers.delete(key);
      work();
    }, ms));
  }

  mutations(records) {
    // First of all, fields that were password fields until a record of this batch (a "show
    // password" toggle; or a field created as one and shown in the same task, which arrives
    // as an add with its type already text): they stay masked, in the adds below too.
    notePasswordToggles(records);
    // Another address (a single-page app navigated): its rules may differ, so a snapshot under them.
    if (this.hooks.urlChanged()) return;
    const mirror = this.mirror;
    const serializer = this.serializer;
    const removes = [];
    const added = new Set();
    /** Adds or removes may have changed what the rules match anywhere (sibling selectors, pseudo-classes). */
    let recheckAll = false;
    /** Sent elements with an attribute the rules read changed: their status, and their subtrees', may differ. */
    const retargeted = new Set();
    for (const record of records) {
      if (record.type === 'attributes') {
        if (mirror.has(record.target) && serializer.masking.watches(record.attributeName)) retargeted.add(record.target);
        continue;
      }
      if (record.type !== 'childList') continue;
      if (serializer.masking.structural) recheckAll = true;
      for (const node of record.removedNodes) {
        const id = mirror.id(node);
        if (id !== undefined) {
          removes.push({ id });
          mirror.forget(node);
        }
        added.delete(node);
      }
      for (const node of record.addedNodes) added.add(node);
    }
    if (removes.length) serializer.prune();

    // Only the top-most new nodes are sent (each carries its subtree). Each names as `next` its
    // nearest following sibling the agent's copy has at that point (sent before, or earlier in
    // this frame), so any order places them right: no sorting by document position. Nothing
    // goes into a blocked element; a node under a masked one is masked.
    const fresh = new Set();
    const tops = [...added].filter((node) => node.isConnected && !mirror.has(node) && mirror.has(node.parentNode) &&
      !serializer.isBlocked(node.parentNode) && !hasAncestorIn(node, added));
    const adds = [];
    // No layout is read in here (it would force a layout of the page on every change): what
    // needs it waits for the next layout pass.
    serializer.readsLayout = false;
    try {
      for (const node of tops) {
        const serialized = serializer.node(node, serializer.maskState(node.parentNode), serializer.masksImagesInside(node.parentNode));
        if (!serialized) continue;
        const next = nextKnownSibling(node, mirror);
        adds.push({ parent: mirror.id(node.parentNode), ...(next === undefined ? {} : { next }), node: serialized });
        fresh.add(serialized.id);
      }
    } finally {
      serializer.readsLayout = true;
    }
    if (serializer.needLayout.length) this.scheduleLayoutPass();

    // An element that became masked or blocked (or stopped being): what was sent of it is
    // wrong now, and only a fresh copy of the page is right.
    if ((recheckAll || retargeted.size) && serializer.statusChanged(recheckAll ? null : retargeted)) {
      this.hooks.statusChanged();
      return;
    }

    const attrs = new Map();
    const texts = new Map();
    for (const record of records) {
      if (record.type === 'childList') continue; // done above
      const id = mirror.id(record.target);
      if (id === undefined || isInside(record.target, fresh, mirror)) continue;
      if (record.type === 'attributes') {
        const value = record.target.getAttribute(record.attributeName);
        if (value === record.oldValue && !attrs.has(`${id} ${record.attributeName}`)) continue; // set to what it was
        const sent = value === null
          ? (serializer.attribute(record.target, record.attributeName, '') === undefined ? undefined : null)
          : serializer.attribute(record.target, record.attributeName, value);
        if (sent === undefined) continue;
        attrs.set(`${id} ${record.attributeName}`, { id, name: record.attributeName, value: sent });
      } else if (record.type === 'characterData') {
        // A masked text reads `****` whatever is typed: sent when it fills or empties, not per keystroke.
        const text = serializer.text(record.target);
        if (!serializer.textChanged(record.target, text)) continue;
        texts.set(id, { id, text });
      }
    }
    if (removes.length || adds.length || attrs.size || texts.size) {
      this.send({ t: 'mutations', adds, removes, attrs: [...attrs.values()], texts: [...texts.values()] });
    }
  }

  /**
   * The next layout pass: at the next animation frame, when the browser lays the page out
   * anyway, or after LAYOUT_PASS_MS if no frame comes first (a hidden page gets none).
   */
  scheduleLayoutPass() {
    if (this.layoutPass) return;
    const run = () => {
      cancelAnimationFrame(this.layoutPass.frame);
      clearTimeout(this.layoutPass.timer);
      this.layoutPass = null;
      this.sendNeedingLayout();
    };
    this.layoutPass = { frame: requestAnimationFrame(run), timer: setTimeout(run, LAYOUT_PASS_MS) };
  }

  cancelLayoutPass() {
    if (!this.layoutPass) return;
    cancelAnimationFrame(this.layoutPass.frame);
    clearTimeout(this.layoutPass.timer);
    this.layoutPass = null;
  }

  /**
   * The elements a change left out because they need layout (blocked elements and masked
   * images: their rendered size), as adds of their own, where they are now. One that is gone,
   * was sent meanwhile or now sits where nothing is sent is skipped: a later change or
   * snapshot carries it.
   */
  sendNeedingLayout() {
    // Changes not delivered yet come first, so that the mirror is the page as it is now.
    const records = this.mutationObserver.takeRecords();
    if (records.length) this.mutations(records);
    const { mirror, serializer } = this;
    const waiting = serializer.needLayout;
    serializer.needLayout = [];
    const adds = [];
    for (const element of waiting) {
      const parent = element.parentNode;
      if (!element.isConnected || mirror.has(element) || !mirror.has(parent) || serializer.isBlocked(parent)) continue;
      const node = serializer.node(element, serializer.maskState(parent), serializer.masksImagesInside(parent));
      if (!node) continue;
      const next = nextKnownSibling(element, mirror);
      adds.push({ parent: mirror.id(parent), ...(next === undefined ? {} : { next }), node });
    }
    if (adds.length) this.send({ t: 'mutations', adds, removes: [], attrs: [], texts: [] });
  }

  queueInput(target) {
    if (!target || this.mirror.id(target) === undefined) return;
    this.pendingInputs.add(target);
    if (this.pendingInputs.size === 1) queueMicrotask(() => this.flushInputs());
  }

  flushInputs() {
    const serializer = this.serializer;
    for (const element of this.pendingInputs) {
      const id = this.mirror.id(element);
      if (id === undefined || serializer.isBlocked(element)) continue;
      const masked = serializer.isMasked(element);
      const state = {};
      controlState(element, state, masked, serializer.isValueMasked(element), (text) => serializer.masking.redact(text));
      let frame = null;
      if (element.localName === 'select' && element.multiple && !masked) {
        frame = { t: 'input', id, selected: Array.from(element.options).flatMap((o, i) => (o.selected ? [i] : [])) };
      } else if ('checked' in state && element.localName === 'input') {
        frame = { t: 'input', id, checked: state.checked };
      } else if ('value' in state) {
        frame = { t: 'input', id, value: state.value };
      }
      if (!frame) continue;
      // A masked field's value is `****` whatever is typed: one frame when it fills or empties.
      const key = JSON.stringify(frame);
      if (this.sentInputs.get(element) === key) continue;
      this.sentInputs.set(element, key);
      this.send(frame);
    }
    this.pendingInputs.clear();
  }

  /** Values set by the page's own scripts fire no events: watch the property setters too. */
  hookValueSetters(view = window) {
    if (this.hookedWindows.has(view)) return;
    this.hookedWindows.add(view);
    const hooks = [
      [view.HTMLInputElement.prototype, 'value'], [view.HTMLInputElement.prototype, 'checked'],
      [view.HTMLTextAreaElement.prototype, 'value'], [view.HTMLSelectElement.prototype, 'value'],
      [view.HTMLSelectElement.prototype, 'selectedIndex'],
    ];
    const observer = this;
    for (const [prototype, property] of hooks) {
      const original = Object.getOwnPropertyDescriptor(prototype, property);
      if (!original || !original.set) continue;
      Object.defineProperty(prototype, property, {
        ...original,
        set(value) {
          original.set.call(this, value);
          observer.queueInput(this);
        },
      });
      this.restoreSetters.push(() => Object.defineProperty(prototype, property, original));
    }
  }

  queueScroll(target) {
    // A frame's own page scroll is its scrolling element's (its <html>, in standards mode).
    if (target.nodeType === Node.DOCUMENT_NODE && target !== document) target = target.scrollingElement;
    if (!target) return;
    this.pendingScroll.add(target === document ? document : target);
    this.throttle('scroll', SCROLL_THROTTLE_MS, () => {
      for (const scrolled of this.pendingScroll) {
        if (scrolled === document) {
          this.send({ t: 'scroll', id: 0, x: window.scrollX, y: window.scrollY });
        } else {
          const id = this.mirror.id(scrolled);
          if (id !== undefined) this.send({ t: 'scroll', id, x: scrolled.scrollLeft, y: scrolled.scrollTop });
        }
      }
      this.pendingScroll.clear();
    });
  }
}

function hasAncestorIn(node, set) {
  for (let parent = node.parentNode; parent; parent = parent.parentNode) {
    if (set.has(parent)) return true;
  }
  return false;
}

/** Whether a node was sent whole in this batch (its own later changes are already in it). */
function isInside(node, freshIDs, mirror) {
  for (let current = node; current; current = current.parentNode) {
    if (freshIDs.has(mirror.id(current))) return true;
  }
  return false;
}

/** The first following sibling the agent's copy knows, to insert before. */
function nextKnownSibling(node, mirror) {
  for (let sibling = node.nextSibling; sibling; sibling = sibling.nextSibling) {
    const id = mirror.id(sibling);
    if (id !== undefined) return id;
  }
  return undefined;
}
