/*
 * cobrowse.js — the sharer SDK. One script tag on the customer's site; no build step.
 *
 *   <script src="https://cobrowse.example.com/cobrowse.js"></script>
 *   CoBrowse.start({ interactionToken }).then(({ sessionId }) => …)
 *
 * The page is serialized into a node-id mirror, then streamed as batched changes over a
 * WebSocket to the relay that served this script (docs/stream-protocol.md, docs/sdk.md).
 * Sections, by job: mirror (id ↔ node), serialize, observe, transport, bar, API.
 */
(() => {
  'use strict';
  if (window.CoBrowse) return; // included twice: keep the first

  const MASK = '****';
  const STORAGE_KEY = 'cobrowse.session';
  /** Above this many unsent bytes the socket is too slow: stop queueing, snapshot when drained. */
  const MAX_BUFFERED_BYTES = 4 << 20;
  const SCROLL_THROTTLE_MS = 100;
  const CURSOR_THROTTLE_MS = 50;
  const RESIZE_THROTTLE_MS = 200;
  /** Elements never sent, with everything inside them. */
  const SKIPPED_TAGS = new Set(['script', 'noscript', 'template']);
  /** Attributes whose relative URLs are made absolute, so the agent's copy loads the same files. */
  const URL_ATTRIBUTES = new Set(['href', 'src', 'action', 'formaction', 'poster', 'background']);

  const scriptURL = new URL(document.currentScript ? document.currentScript.src : location.href);
  const relaySocketURL = `${scriptURL.protocol === 'https:' ? 'wss:' : 'ws:'}//${scriptURL.host}/ws/share`;

  // MARK: mirror — every sent node has an id, never reused within a page.

  class NodeMirror {
    constructor() {
      this.ids = new WeakMap();
      this.nodes = new Map();
      this.nextID = 1;
    }
    id(node) { return this.ids.get(node); }
    has(node) { return this.ids.has(node); }
    assign(node) {
      const id = this.nextID++;
      this.ids.set(node, id);
      this.nodes.set(id, node);
      return id;
    }
    /** Forgets a removed node and everything under it (including open shadow roots). */
    forget(node) {
      const id = this.ids.get(node);
      if (id === undefined) return;
      this.ids.delete(node);
      this.nodes.delete(id);
      for (const child of node.childNodes) this.forget(child);
      if (node.shadowRoot) for (const child of node.shadowRoot.childNodes) this.forget(child);
    }
    reset() {
      this.ids = new WeakMap();
      this.nodes.clear();
    }
  }

  // MARK: serialize — DOM → the protocol's nodes; scripts, handlers and secrets stay behind.

  function isPassword(element) {
    return element.localName === 'input' && (element.getAttribute('type') || '').toLowerCase() === 'password';
  }

  function isScriptURL(value) {
    // Browsers ignore control characters and spaces inside the scheme: so must we.
    const cleaned = String(value).replace(/[\u0000-\u0020\u007f]/g, '').toLowerCase();
    return cleaned.startsWith('javascript:') || cleaned.startsWith('vbscript:') ||
      (cleaned.startsWith('data:') && !(cleaned.startsWith('data:image/') && !cleaned.startsWith('data:image/svg')));
  }

  /** The value to send for an attribute, or undefined to leave it out. */
  function attributeValue(element, name, value) {
    name = name.toLowerCase();
    if (name.startsWith('on') || name === 'srcdoc') return undefined;
    if ((element.localName === 'iframe' || element.localName === 'frame') && name === 'src') return undefined;
    if (URL_ATTRIBUTES.has(name) || name === 'xlink:href') {
      if (isScriptURL(value)) return undefined;
      if (URL_ATTRIBUTES.has(name) && value !== '') {
        try { return new URL(value, document.baseURI).href; } catch { return value; }
      }
    }
    if (name === 'value' && isPassword(element)) return value === '' ? '' : MASK;
    return value;
  }

  function cssText(sheet) {
    try {
      return Array.from(sheet.cssRules, (rule) => rule.cssText).join('\n');
    } catch {
      return null; // a cross-origin sheet: its <link> is sent, the agent's browser loads it
    }
  }

  /** A form control's current state (the properties, which attributes do not follow). */
  function controlState(element, node) {
    switch (element.localName) {
      case 'input': {
        const type = (element.getAttribute('type') || 'text').toLowerCase();
        if (type === 'checkbox' || type === 'radio') node.checked = element.checked;
        else if (type === 'password') node.value = element.value === '' ? '' : MASK;
        else if (type !== 'file') node.value = element.value;
        break;
      }
      case 'textarea':
      case 'select':
        node.value = element.value;
        break;
      case 'option':
        if (element.selected !== element.defaultSelected) node.checked = element.selected;
        break;
    }
  }

  class Serializer {
    constructor(mirror, isOwnNode, onShadowRoot) {
      this.mirror = mirror;
      this.isOwnNode = isOwnNode;
      this.onShadowRoot = onShadowRoot;
    }

    /** A node and its subtree, or null for what is never sent. Assigns ids as it goes. */
    node(domNode) {
      switch (domNode.nodeType) {
        case Node.ELEMENT_NODE:
          return this.element(domNode);
        case Node.TEXT_NODE:
          return { id: this.mirror.assign(domNode), type: 'text', text: domNode.data };
        case Node.COMMENT_NODE:
          return { id: this.mirror.assign(domNode), type: 'comment', text: domNode.data };
        default:
          return null;
      }
    }

    element(element) {
      if (SKIPPED_TAGS.has(element.localName) || this.isOwnNode(element)) return null;
      const node = { id: this.mirror.assign(element), type: 'element', tag: element.localName, attrs: {} };
      for (const attribute of element.attributes) {
        const value = attributeValue(element, attribute.name, attribute.value);
        if (value !== undefined) node.attrs[attribute.name] = value;
      }
      controlState(element, node);
      const children = this.children(element.childNodes);
      if (children.length) node.children = children;
      if (element.localName === 'style' && element.sheet) {
        // Rules added through the CSSOM (insertRule, CSS-in-JS) are not in the element's text.
        const css = cssText(element.sheet);
        if (css !== null && element.textContent.trim() === '' && css !== '') node.text = css;
      }
      if (element.scrollTop || element.scrollLeft) node.scroll = { x: element.scrollLeft, y: element.scrollTop };
      const shadow = element.shadowRoot; // open shadow roots only; closed ones stay private
      if (shadow) {
        node.shadow = this.children(shadow.childNodes);
        const adopted = adoptedStyles(shadow);
        if (adopted.length) node.adoptedStyles = adopted;
        this.onShadowRoot(shadow);
      }
      return node;
    }

    children(list) {
      const result = [];
      for (const child of list) {
        const node = this.node(child);
        if (node) result.push(node);
      }
      return result;
    }
  }

  function adoptedStyles(root) {
    return Array.from(root.adoptedStyleSheets || [], cssText).filter((css) => css);
  }

  /** The first following sibling the agent's copy knows, to insert before. */
  function nextKnownSibling(node, mirror) {
    for (let sibling = node.nextSibling; sibling; sibling = sibling.nextSibling) {
      const id = mirror.id(sibling);
      if (id !== undefined) return id;
    }
    return undefined;
  }

  // MARK: observe — mutations per MutationObserver callback, form values, scroll, pointer.

  class PageObserver {
    /** @param send (frame without seq) → void */
    constructor(mirror, serializer, send) {
      this.mirror = mirror;
      this.serializer = serializer;
      this.send = send;
      this.mutationObserver = new MutationObserver((records) => this.mutations(records));
      this.listeners = [];
      this.timers = new Map();
      this.pendingScroll = new Set();
      this.pendingInputs = new Set();
      /** The last state sent per control: a masked field sends one frame when it fills, not one per keystroke. */
      this.sentInputs = new WeakMap();
      this.restoreSetters = [];
    }

    start() {
      this.observe(document);
      this.listen(document, 'input', (event) => this.queueInput(event.composedPath()[0]), true);
      this.listen(document, 'change', (event) => this.queueInput(event.composedPath()[0]), true);
      this.listen(document, 'scroll', (event) => this.queueScroll(event.target), true);
      this.listen(window, 'resize', () => this.throttle('viewport', RESIZE_THROTTLE_MS, () =>
        this.send({ t: 'viewport', w: window.innerWidth, h: window.innerHeight })), true);
      this.listen(document, 'mousemove', (event) => {
        this.lastPointer = { x: event.pageX, y: event.pageY };
        this.throttle('cursor', CURSOR_THROTTLE_MS, () => this.send({ t: 'cursor', ...this.lastPointer }));
      }, true);
      this.listen(document, 'click', (event) => {
        const id = this.mirror.id(event.composedPath()[0]);
        this.send({ t: 'click', x: event.pageX, y: event.pageY, ...(id === undefined ? {} : { id }) });
      }, true);
      this.hookValueSetters();
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
      for (const restore of this.restoreSetters) restore();
      this.restoreSetters = [];
    }

    /** Changes not yet delivered to the callback are dropped: a snapshot is about to follow. */
    discardPending() {
      this.mutationObserver.takeRecords();
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
      const mirror = this.mirror;
      const removes = [];
      const added = new Set();
      for (const record of records) {
        if (record.type !== 'childList') continue;
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

      // Only the top-most new nodes are sent (each carries its subtree), latest sibling first,
      // so that every `next` names a node the agent's copy already has.
      const fresh = new Set();
      const tops = [...added].filter((node) => node.isConnected && !mirror.has(node) && mirror.has(node.parentNode) &&
        !hasAncestorIn(node, added));
      tops.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? 1 : -1));
      const adds = [];
      for (const node of tops) {
        const serialized = this.serializer.node(node);
        if (!serialized) continue;
        const next = nextKnownSibling(node, mirror);
        adds.push({ parent: mirror.id(node.parentNode), ...(next === undefined ? {} : { next }), node: serialized });
        fresh.add(serialized.id);
      }

      const attrs = new Map();
      const texts = new Map();
      for (const record of records) {
        const id = mirror.id(record.target);
        if (id === undefined || isInside(record.target, fresh, mirror)) continue;
        if (record.type === 'attributes') {
          const value = record.target.getAttribute(record.attributeName);
          if (value === record.oldValue && !attrs.has(`${id} ${record.attributeName}`)) continue; // set to what it was
          const sent = value === null ? null : attributeValue(record.target, record.attributeName, value);
          if (sent === undefined) continue;
          attrs.set(`${id} ${record.attributeName}`, { id, name: record.attributeName, value: sent });
        } else if (record.type === 'characterData') {
          texts.set(id, { id, text: record.target.data });
        }
      }
      if (removes.length || adds.length || attrs.size || texts.size) {
        this.send({ t: 'mutations', adds, removes, attrs: [...attrs.values()], texts: [...texts.values()] });
      }
    }

    queueInput(target) {
      if (!target || this.mirror.id(target) === undefined) return;
      this.pendingInputs.add(target);
      if (this.pendingInputs.size === 1) queueMicrotask(() => this.flushInputs());
    }

    flushInputs() {
      for (const element of this.pendingInputs) {
        const id = this.mirror.id(element);
        if (id === undefined) continue;
        const state = {};
        controlState(element, state);
        let frame = null;
        if (element.localName === 'select' && element.multiple) {
          frame = { t: 'input', id, selected: Array.from(element.options).flatMap((o, i) => (o.selected ? [i] : [])) };
        } else if ('checked' in state && element.localName === 'input') {
          frame = { t: 'input', id, checked: state.checked };
        } else if ('value' in state) {
          frame = { t: 'input', id, value: state.value };
        }
        if (!frame) continue;
        const key = JSON.stringify(frame);
        if (this.sentInputs.get(element) === key) continue;
        this.sentInputs.set(element, key);
        this.send(frame);
      }
      this.pendingInputs.clear();
    }

    /** Values set by the page's own scripts fire no events: watch the property setters too. */
    hookValueSetters() {
      const hooks = [
        [HTMLInputElement.prototype, 'value'], [HTMLInputElement.prototype, 'checked'],
        [HTMLTextAreaElement.prototype, 'value'], [HTMLSelectElement.prototype, 'value'],
        [HTMLSelectElement.prototype, 'selectedIndex'],
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

  // MARK: bar — what the customer sees: the session ID to read out, and Exit.

  class SessionBar {
    constructor(onExit) {
      this.host = document.createElement('div');
      this.host.id = 'cobrowse-bar';
      const root = this.host.attachShadow({ mode: 'open' });
      root.innerHTML = `
        <style>
          :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
          .bar { display: flex; align-items: center; gap: 12px; padding: 10px 14px; border-radius: 10px;
                 background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
                 box-shadow: 0 4px 16px rgba(0,0,0,.25); }
          .session-id { font: 600 18px/1 ui-monospace, monospace; letter-spacing: .12em; }
          .status { font-size: 12px; opacity: .8; }
          button { font: inherit; padding: 6px 12px; border: 0; border-radius: 6px; background: #e5484d; color: #fff;
                   cursor: pointer; }
          button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
        </style>
        <div class="bar" role="region" aria-label="Co-browsing">
          <div>
            <div>Co-browsing · session <span class="session-id"></span></div>
            <div class="status" role="status" aria-live="polite"></div>
          </div>
          <button class="exit" type="button">Exit</button>
        </div>`;
      root.querySelector('.exit').addEventListener('click', onExit);
      this.root = root;
    }
    show(sessionId) {
      this.root.querySelector('.session-id').textContent = sessionId;
      if (!this.host.isConnected) (document.body || document.documentElement).appendChild(this.host);
    }
    status(text) { this.root.querySelector('.status').textContent = text; }
    remove() { this.host.remove(); }
  }

  // MARK: transport — one socket to the relay; reconnects and resumes; never buffers unbounded.

  class ShareSession {
    constructor(events) {
      this.events = events;
      this.mirror = new NodeMirror();
      this.observer = null;
      this.bar = new SessionBar(() => api.end());
      this.socket = null;
      this.seq = 0;
      this.stored = null; // { sessionId, customerKey }
      this.live = false; // started/resumed and streaming
      this.needsSnapshot = false;
      this.retryDelay = 500;
      this.closedForGood = false;
      this.pageHidden = false;
      // A page leaving for the back-forward cache keeps its sockets open unless told: close
      // ours, so the relay tells the agent the customer is gone (paused) until they return.
      this.onPageHide = () => {
        this.pageHidden = true;
        const socket = this.socket;
        this.socket = null;
        this.live = false;
        if (socket) socket.close(1000, 'page hidden');
      };
      this.onPageShow = (event) => {
        this.pageHidden = false;
        if (event.persisted && !this.closedForGood && !this.socket) this.connect({ t: 'resume' }); // back from bfcache
      };
      addEventListener('pagehide', this.onPageHide);
      addEventListener('pageshow', this.onPageShow);
    }

    get sessionId() { return this.stored ? this.stored.sessionId : null; }

    /** Opens the socket and sends `opening` (start or resume); resolves on started/resumed. */
    connect(opening) {
      return new Promise((resolve, reject) => {
        const socket = new WebSocket(relaySocketURL);
        this.socket = socket;
        // Names this connection's sequences, so a late "paused" for an old socket is ignored.
        this.streamID = Math.random().toString(36).slice(2, 12);
        let settled = false;
        socket.onopen = () => {
          const message = opening.t === 'resume'
            ? { t: 'resume', sessionId: this.stored.sessionId, customerKey: this.stored.customerKey }
            : opening;
          socket.send(JSON.stringify(message));
        };
        socket.onmessage = (event) => {
          let message;
          try { message = JSON.parse(event.data); } catch { return; }
          if (!settled && (message.t === 'started' || message.t === 'resumed')) {
            settled = true;
            this.opened(message);
            resolve({ sessionId: message.sessionId });
          } else if (!settled && message.t === 'error') {
            settled = true;
            reject(Object.assign(new Error(message.message), { code: message.code }));
            this.refused(message);
          } else {
            this.received(message);
          }
        };
        socket.onclose = () => {
          if (this.socket === socket) this.socket = null;
          this.live = false;
          if (!settled) {
            settled = true;
            reject(Object.assign(new Error('could not reach the co-browse service'), { code: 'unavailable' }));
            if (opening.t === 'start') return;
          }
          this.scheduleReconnect();
        };
      });
    }

    opened(message) {
      if (message.t === 'started') {
        this.stored = { sessionId: message.sessionId, customerKey: message.customerKey };
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
      }
      this.retryDelay = 500;
      this.maxFrameBytes = message.maxFrameBytes || 4 << 20;
      this.live = true;
      this.bar.show(message.sessionId);
      const session = message.session || {};
      this.bar.status(session.state === 'active' ? 'An agent is viewing this page' : 'Waiting for an agent to join');
      if (!this.observer) {
        const serializer = new Serializer(this.mirror, (node) => node === this.bar.host, (root) => this.observer.observe(root));
        this.observer = new PageObserver(this.mirror, serializer, (frame) => this.send(frame));
        this.observer.start();
      }
      this.snapshot();
      this.events.emit(message.t, { sessionId: message.sessionId });
    }

    refused(message) {
      // A session that cannot be resumed (ended meanwhile, unknown) is over for this page too.
      if (message.code === 'session-ended' || message.code === 'unknown-session' || message.code === 'not-allowed') {
        this.finish(message.code === 'session-ended' ? 'ended' : message.code);
      } else {
        this.events.emit('error', { code: message.code, message: message.message });
      }
    }

    received(message) {
      switch (message.t) {
        case 'resync':
          this.snapshot();
          break;
        case 'session':
          if (message.event === 'activated') {
            this.bar.status('An agent is viewing this page');
            this.events.emit('agentJoined', { agentId: message.session && message.session.leadAgentID });
          }
          this.events.emit('session', { event: message.event, session: message.session });
          break;
        case 'ended':
          this.finish(message.reason);
          break;
        case 'error':
          this.events.emit('error', { code: message.code, message: message.message });
          break;
      }
    }

    scheduleReconnect() {
      if (this.closedForGood || this.pageHidden || !this.stored) return;
      this.bar.status('Reconnecting…');
      const delay = this.retryDelay;
      this.retryDelay = Math.min(this.retryDelay * 2, 10000);
      setTimeout(() => {
        if (!this.closedForGood && !this.socket) this.connect({ t: 'resume' }).catch(() => {});
      }, delay);
    }

    /** A fresh full copy of the page: restarts the sequence and the mirror. */
    snapshot() {
      if (!this.live || !this.observer) return;
      this.observer.discardPending();
      this.mirror.reset();
      this.seq = 0;
      this.needsSnapshot = false;
      const root = this.observer.serializer.node(document.documentElement);
      const frame = {
        t: 'snapshot', stream: this.streamID, url: location.href, title: document.title,
        doctype: document.doctype ? document.doctype.name : null,
        viewport: { w: window.innerWidth, h: window.innerHeight },
        scroll: { x: window.scrollX, y: window.scrollY },
        root,
      };
      const adopted = adoptedStyles(document);
      if (adopted.length) frame.adoptedStyles = adopted;
      this.send(frame);
    }

    send(frame) {
      const socket = this.socket;
      if (!this.live || !socket || socket.readyState !== WebSocket.OPEN) {
        this.needsSnapshot = true; // dropped: the next connection starts from a snapshot
        return;
      }
      if (this.needsSnapshot && frame.t !== 'snapshot') return;
      if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
        // The network cannot keep up: drop, and start again from a snapshot once it drains.
        this.needsSnapshot = true;
        this.waitForDrain();
        return;
      }
      const text = JSON.stringify({ ...frame, seq: this.seq + 1 });
      // Over the relay's limit the socket would be closed: drop it, and say so once.
      if (text.length * 3 > this.maxFrameBytes && new TextEncoder().encode(text).length > this.maxFrameBytes) {
        // Nothing more goes out until a snapshot does: later frames would name nodes the
        // filter never saw. A too-large snapshot waits for the next resync request.
        this.needsSnapshot = true;
        if (frame.t !== 'snapshot') setTimeout(() => this.snapshot(), 0);
        this.events.emit('error', { code: 'frame-too-large', message: `a ${frame.t} frame is over ${this.maxFrameBytes} bytes` });
        return;
      }
      this.seq += 1;
      socket.send(text);
    }

    waitForDrain() {
      if (this.drainTimer) return;
      this.drainTimer = setInterval(() => {
        const socket = this.socket;
        if (!socket || socket.bufferedAmount < MAX_BUFFERED_BYTES / 4) {
          clearInterval(this.drainTimer);
          this.drainTimer = null;
          if (socket) this.snapshot();
        }
      }, 250);
    }

    end() {
      const socket = this.socket;
      if (socket && socket.readyState === WebSocket.OPEN) {
        socket.send(JSON.stringify({ t: 'end', seq: this.seq + 1 }));
        // The relay answers `ended`; if it does not in time, clean up here all the same.
        setTimeout(() => this.finish('customer-exited'), 3000);
      } else {
        this.finish('customer-exited');
      }
    }

    /** The session is over: no bar, no listeners, no socket, nothing stored. */
    finish(reason) {
      if (this.closedForGood) return;
      this.closedForGood = true;
      this.live = false;
      if (this.observer) this.observer.stop();
      if (this.drainTimer) clearInterval(this.drainTimer);
      removeEventListener('pagehide', this.onPageHide);
      removeEventListener('pageshow', this.onPageShow);
      sessionStorage.removeItem(STORAGE_KEY);
      this.bar.remove();
      const socket = this.socket;
      this.socket = null;
      if (socket) socket.close(1000, 'session ended');
      current = null;
      this.events.emit('ended', { reason });
    }
  }

  // MARK: API

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
  let current = null;

  const api = {
    /** Starts sharing this page inside the customer's live interaction. */
    start({ interactionToken } = {}) {
      if (current && current.sessionId) return Promise.resolve({ sessionId: current.sessionId });
      if (!interactionToken) return Promise.reject(new Error('CoBrowse.start needs { interactionToken }'));
      current = new ShareSession(events);
      const session = current;
      return session.connect({ t: 'start', interactionToken }).catch((error) => {
        if (current === session) current = null;
        session.closedForGood = true;
        throw error;
      });
    },
    /** Ends the session for everyone, as the customer. */
    end() {
      if (current) current.end();
    },
    /** Subscribes to started, resumed, agentJoined, session, ended, error; returns an unsubscribe function. */
    on(event, handler) {
      return events.on(event, handler);
    },
    /** The live session's nine-digit ID, or null. */
    get sessionId() {
      return current ? current.sessionId : null;
    },
  };
  Object.defineProperty(window, 'CoBrowse', { value: Object.freeze(api), enumerable: true });

  // A session started on an earlier page of this site continues here.
  function resumeFromStorage() {
    let stored = null;
    try { stored = JSON.parse(sessionStorage.getItem(STORAGE_KEY)); } catch { /* unreadable: none */ }
    if (!stored || !stored.sessionId || !stored.customerKey) return;
    current = new ShareSession(events);
    current.stored = stored;
    current.connect({ t: 'resume' }).catch(() => {});
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', resumeFromStorage, { once: true });
  else resumeFromStorage();
})();
