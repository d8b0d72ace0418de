/*
 * cobrowse.js — the sharer SDK. One script tag on the customer's site; no build step.
 *
 *   <script src="https://cobrowse.example.com/cobrowse.js"></script>
 *   CoBrowse.start({ interactionToken }).then(({ sessionId }) => …)
 *
 * The page is serialized into a node-id mirror, then streamed as batched changes over a
 * WebSocket to the relay that served this script (docs/stream-protocol.md, docs/sdk.md).
 * Masking rules come from the same relay (docs/masking.md): masked data never leaves the page.
 * Sections, by job: mirror (id ↔ node), masking, serialize, observe, transport, bar, API.
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

  // MARK: masking — one set of rules for this page, applied here and again by masking-filter.

  const MASK_MARKERS = ['[data-cobrowse-mask]', '.cobrowse-mask'];
  const BLOCK_MARKERS = ['[data-cobrowse-block]', '.cobrowse-block'];
  /** Masked whatever the rules say; once masked, an element stays masked (a "show password" toggle reveals nothing). */
  const ALWAYS_MASKED = ['input[type=password i]', 'input[type=hidden i]',
    ...['cc-number', 'cc-csc', 'current-password', 'new-password', 'one-time-code'].map((token) => `[autocomplete~="${token}" i]`)];
  /** Attributes of masked elements sent as `****` (besides `data-*`, and `placeholder` when the rules say so). */
  const MASKED_ATTRIBUTES = new Set(['value', 'title', 'alt', 'aria-label']);
  /** All a blocked element keeps: it shows as a box of its size, nothing of what is inside. */
  const BLOCKED_ATTRIBUTES = new Set(['id', 'class', 'style', 'width', 'height', 'data-cobrowse-block']);
  const IMAGE_SOURCE_ATTRIBUTES = new Set(['src', 'srcset', 'sizes']);
  const DEFAULT_CUSTOMER_MARK = 'outline: 2px dashed rgba(124,58,237,.55); outline-offset: 2px';
  const RULES_TIMEOUT_MS = 5000;
  /** An element's own status (bits): what a change of rules or attributes can flip. */
  const OWN_MASKED = 1;
  const OWN_BLOCKED = 2;
  const OWN_MASKED_IMAGE = 4;
  /** Elements that were ever always-masked (a password field, say): they stay masked on this page. */
  const everAlwaysMasked = new WeakSet();

  /** The page's address as the rules see it (the fragment is left out: it may hold tokens). */
  function pageURL() {
    return location.href.split('#')[0];
  }

  function validSelector(selector) {
    if (typeof selector !== 'string' || selector.trim() === '') return false;
    try {
      document.createDocumentFragment().querySelector(selector);
      return true;
    } catch {
      console.warn('CoBrowse: masking rule ignored, not a selector this browser knows:', selector);
      return false;
    }
  }

  /**
   * Which attribute changes can change what the selectors match, so that not every `style` or
   * `aria-*` change re-matches the page. `any`: the selectors read state we cannot follow by
   * name (pseudo-classes, escapes); `structural`: adding or removing nodes can change matches.
   */
  function selectorDependencies(selectors) {
    const names = new Set(['class', 'type', 'autocomplete', 'data-cobrowse-mask', 'data-cobrowse-block']);
    let any = false;
    let structural = false;
    for (const selector of selectors) {
      const outside = selector.replace(/\[([^\]]*)\]/g, (_, inside) => {
        const name = /^\s*(?:[\w*-]*\|)?([\w-]+)/.exec(inside);
        if (name) names.add(name[1].toLowerCase());
        else any = true;
        return '[]';
      });
      if (/[\\"'[\]]/.test(outside)) any = true;
      if (outside.includes('#')) names.add('id');
      if (outside.includes('.')) names.add('class');
      if (/[+~]/.test(outside)) structural = true;
      for (const [pseudo] of outside.matchAll(/:+[\w-]*/g)) {
        if (pseudo !== ':not' && pseudo !== ':is' && pseudo !== ':where') any = structural = true;
      }
    }
    return { names, any, structural };
  }

  /**
   * The rules (from the relay's /cobrowse/rules, or none: the built-ins only) compiled to
   * selectors. `disabled` (testOnlyDisableMasking) sends everything as it is.
   */
  class Masking {
    constructor(rules, disabled = false) {
      this.disabled = disabled;
      const list = (value) => (Array.isArray(value) ? value.filter(validSelector) : []);
      rules = rules && typeof rules === 'object' ? rules : {};
      const mask = [...MASK_MARKERS, ...list(rules.mask)];
      const images = list(rules.maskImages);
      const block = [...BLOCK_MARKERS, ...list(rules.block)];
      if (rules.maskPage === true) {
        mask.push('html');
        images.push('img');
      }
      this.maskPlaceholders = rules.maskPlaceholders === true;
      this.maskSelector = mask.join(', ');
      this.alwaysSelector = ALWAYS_MASKED.join(', ');
      this.imageSelector = images.length ? images.join(', ') : null;
      this.blockSelector = block.join(', ');
      this.anySelector = [this.maskSelector, this.alwaysSelector, this.blockSelector, this.imageSelector].filter(Boolean).join(', ');
      this.dependencies = selectorDependencies([...mask, ...images, ...block]);
      // What the customer sees on the fields the agent does not: masked, masked images, blocked.
      const mark = typeof rules.customerMark === 'string' ? rules.customerMark.trim() : DEFAULT_CUSTOMER_MARK;
      this.markCSS = disabled || mark === 'none' || mark === '' ? null
        : `:is(${[...mask, ...ALWAYS_MASKED, ...images, ...block].join(', ')}) { ${/[{}<]/.test(mark) ? DEFAULT_CUSTOMER_MARK : mark} }`;
    }

    /** The element's own status bits (not inherited from its ancestors). */
    own(element) {
      if (this.disabled || (!element.matches(this.anySelector) && !everAlwaysMasked.has(element))) return 0;
      let bits = 0;
      if (element.matches(this.alwaysSelector)) everAlwaysMasked.add(element);
      if (everAlwaysMasked.has(element) || element.matches(this.maskSelector)) bits |= OWN_MASKED;
      if (element.matches(this.blockSelector)) bits |= OWN_BLOCKED;
      if (this.imageSelector && element.localName === 'img' && element.matches(this.imageSelector)) bits |= OWN_MASKED_IMAGE;
      return bits;
    }

    /** Whether a change of this attribute may change what the rules match. */
    watches(attributeName) {
      return !this.disabled && (this.dependencies.any || this.dependencies.names.has(attributeName.toLowerCase()));
    }

    get structural() { return !this.disabled && this.dependencies.structural; }

    /** Whether a masked element's attribute is sent as `****`. */
    masksAttribute(name) {
      if (MASKED_ATTRIBUTES.has(name)) return true;
      if (name.startsWith('data-')) return !name.startsWith('data-cobrowse-');
      return name === 'placeholder' && this.maskPlaceholders;
    }
  }

  function maskedText(text) {
    return /\S/.test(text) ? MASK : text;
  }

  function maskedValue(value) {
    return value === '' ? '' : MASK;
  }

  /** Rounded border-box size: what the agent sees instead of a blocked element or a masked image. */
  function renderedSize(element) {
    const box = element.getBoundingClientRect();
    return { w: Math.round(box.width), h: Math.round(box.height) };
  }

  // MARK: serialize — DOM → the protocol's nodes; scripts, handlers and secrets stay behind.

  function isScriptURL(value) {
    // Browsers ignore control characters and spaces inside the scheme: so must we.
    const cleaned = String(value).replace(/[\u0000-\u0020\u007f]/g, '').toLowerCase();
    return cleaned.startsWith('javascript:') || cleaned.startsWith('vbscript:') ||
      (cleaned.startsWith('data:') && !(cleaned.startsWith('data:image/') && !cleaned.startsWith('data:image/svg')));
  }

  /** The value to send for an attribute before masking, or undefined to leave it out. */
  function safeAttributeValue(element, name, value) {
    if (name.startsWith('on') || name === 'srcdoc') return undefined;
    if ((element.localName === 'iframe' || element.localName === 'frame') && name === 'src') return undefined;
    if (URL_ATTRIBUTES.has(name) || name === 'xlink:href') {
      if (isScriptURL(value)) return undefined;
      if (URL_ATTRIBUTES.has(name) && value !== '') {
        try { return new URL(value, document.baseURI).href; } catch { return value; }
      }
    }
    return value;
  }

  function cssText(sheet) {
    try {
      return Array.from(sheet.cssRules, (rule) => rule.cssText).join('\n');
    } catch {
      return null; // a cross-origin sheet: its <link> is sent, the agent's browser loads it
    }
  }

  /**
   * A form control's current state (the properties, which attributes do not follow). Masked:
   * values are `****` when not empty, and checked or selected states are not sent at all.
   */
  function controlState(element, node, masked) {
    switch (element.localName) {
      case 'input': {
        const type = (element.getAttribute('type') || 'text').toLowerCase();
        if (type === 'checkbox' || type === 'radio') {
          if (!masked) node.checked = element.checked;
        } else if (type !== 'file') {
          node.value = masked ? maskedValue(element.value) : element.value;
        }
        break;
      }
      case 'textarea':
      case 'select':
        node.value = masked ? maskedValue(element.value) : element.value;
        break;
      case 'option':
        if (!masked && element.selected !== element.defaultSelected) node.checked = element.selected;
        break;
    }
  }

  /**
   * Serializes nodes under the page's masking, and remembers for every node it sent whether it
   * is masked (itself or inside a masked element), blocked or a masked image, so that later
   * changes to it are masked the same way. A change of that status makes a new snapshot.
   */
  class Serializer {
    constructor(mirror, isOwnNode, onShadowRoot) {
      this.mirror = mirror;
      this.isOwnNode = isOwnNode;
      this.onShadowRoot = onShadowRoot;
      this.masking = new Masking(null);
      this.reset();
    }

    /** Forgets every node's status (a snapshot follows). */
    reset() {
      this.masked = new WeakSet();
      /** masked text node → the text last sent for it */
      this.maskedTexts = new WeakMap();
      this.blocked = new WeakSet();
      this.maskedImages = new WeakSet();
      /** element → own status bits, for the elements with any (compared after attribute changes). */
      this.statuses = new Map();
      this.shadowRoots = new Set();
    }

    isMasked(node) { return this.masked.has(node); }
    isBlocked(node) { return this.blocked.has(node); }

    /** A node and its subtree, or null for what is never sent. Assigns ids as it goes. */
    node(domNode, masked = false) {
      switch (domNode.nodeType) {
        case Node.ELEMENT_NODE:
          return this.element(domNode, masked);
        case Node.TEXT_NODE:
        case Node.COMMENT_NODE: {
          const node = { id: this.mirror.assign(domNode), type: domNode.nodeType === Node.TEXT_NODE ? 'text' : 'comment' };
          node.text = domNode.data;
          if (masked) {
            this.masked.add(domNode);
            node.text = maskedText(domNode.data);
            this.maskedTexts.set(domNode, node.text);
          }
          return node;
        }
        default:
          return null;
      }
    }

    /** What to send for a text or comment node's text. */
    text(domNode) {
      return this.masked.has(domNode) ? maskedText(domNode.data) : domNode.data;
    }

    /** Whether a text differs from what was last sent of its node (a masked text mostly repeats `****`). */
    textChanged(domNode, text) {
      if (!this.masked.has(domNode)) return true;
      if (this.maskedTexts.get(domNode) === text) return false;
      this.maskedTexts.set(domNode, text);
      return true;
    }

    element(element, inheritedMasked) {
      if (SKIPPED_TAGS.has(element.localName) || this.isOwnNode(element)) return null;
      const own = this.masking.own(element);
      if (own) this.statuses.set(element, own);
      const node = { id: this.mirror.assign(element), type: 'element', tag: element.localName, attrs: {} };
      if (own & OWN_BLOCKED) {
        this.blocked.add(element);
        for (const attribute of element.attributes) {
          const value = this.attribute(element, attribute.name, attribute.value);
          if (value !== undefined) node.attrs[attribute.name] = value;
        }
        node.rect = renderedSize(element);
        return node;
      }
      const masked = inheritedMasked || (own & OWN_MASKED) !== 0;
      const maskedImage = element.localName === 'img' && (masked || (own & OWN_MASKED_IMAGE) !== 0);
      if (masked || maskedImage) this.masked.add(element);
      if (maskedImage) this.maskedImages.add(element);
      for (const attribute of element.attributes) {
        const value = this.attribute(element, attribute.name, attribute.value);
        if (value !== undefined) node.attrs[attribute.name] = value;
      }
      if (maskedImage) node.rect = renderedSize(element);
      controlState(element, node, masked);
      const children = this.children(element.childNodes, masked);
      if (children.length) node.children = children;
      if (element.localName === 'style' && element.sheet) {
        // Rules added through the CSSOM (insertRule, CSS-in-JS) are not in the element's text.
        const css = cssText(element.sheet);
        if (css !== null && element.textContent.trim() === '' && css !== '') node.text = masked ? maskedText(css) : css;
      }
      if (element.scrollTop || element.scrollLeft) node.scroll = { x: element.scrollLeft, y: element.scrollTop };
      const shadow = element.shadowRoot; // open shadow roots only; closed ones stay private
      if (shadow) {
        // Masking carries through the host into its shadow root.
        node.shadow = this.children(shadow.childNodes, masked);
        const adopted = adoptedStyles(shadow);
        if (adopted.length) node.adoptedStyles = adopted;
        this.shadowRoots.add(shadow);
        this.onShadowRoot(shadow);
      }
      return node;
    }

    children(list, masked) {
      const result = [];
      for (const child of list) {
        const node = this.node(child, masked);
        if (node) result.push(node);
      }
      return result;
    }

    /** The value to send for one of a sent element's attributes, or undefined to leave it out. */
    attribute(element, name, value) {
      const lower = name.toLowerCase();
      if (this.masking.disabled) return safeAttributeValue(element, lower, value);
      if (lower.startsWith('data-cb-')) return undefined; // the filter's view markers: never from the page
      if (this.blocked.has(element) && !BLOCKED_ATTRIBUTES.has(lower)) return undefined;
      if (this.maskedImages.has(element) && IMAGE_SOURCE_ATTRIBUTES.has(lower)) return undefined;
      const sent = safeAttributeValue(element, lower, value);
      if (sent === undefined || sent === '' || !this.masked.has(element) || !this.masking.masksAttribute(lower)) return sent;
      return MASK;
    }

    /**
     * Whether any sent element's own status differs from when it was sent: an attribute
     * change made it masked or blocked (or no longer). Then only a snapshot is right.
     */
    statusChanged() {
      const checked = new Set();
      const differs = (element) => {
        if (checked.has(element) || !this.mirror.has(element)) return false;
        checked.add(element);
        return this.masking.own(element) !== (this.statuses.get(element) || 0);
      };
      for (const root of [document, ...this.shadowRoots]) {
        if (root !== document && !root.host.isConnected) continue;
        for (const element of root.querySelectorAll(this.masking.anySelector)) if (differs(element)) return true;
      }
      for (const element of this.statuses.keys()) if (differs(element)) return true;
      return false;
    }

    /** Drops what belongs to removed nodes. */
    prune() {
      for (const element of this.statuses.keys()) if (!this.mirror.has(element)) this.statuses.delete(element);
      for (const root of this.shadowRoots) if (!this.mirror.has(root.host)) this.shadowRoots.delete(root);
    }
  }

  /** The constructed sheet marking masked fields on the customer's page: never sent. */
  let markSheet = null;

  function adoptedStyles(root) {
    return Array.from(root.adoptedStyleSheets || [], (sheet) => (sheet === markSheet ? null : cssText(sheet))).filter((css) => css);
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
      // Another address (a single-page app navigated): its rules may differ, so a snapshot under them.
      if (this.hooks.urlChanged()) return;
      const mirror = this.mirror;
      const serializer = this.serializer;
      const removes = [];
      const added = new Set();
      let recheck = false;
      for (const record of records) {
        if (record.type === 'attributes') {
          if (!recheck && mirror.has(record.target) && serializer.masking.watches(record.attributeName)) recheck = true;
          continue;
        }
        if (record.type !== 'childList') continue;
        if (serializer.masking.structural) recheck = true;
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

      // Only the top-most new nodes are sent (each carries its subtree), latest sibling first,
      // so that every `next` names a node the agent's copy already has. Nothing goes into a
      // blocked element; a node under a masked one is masked.
      const fresh = new Set();
      const tops = [...added].filter((node) => node.isConnected && !mirror.has(node) && mirror.has(node.parentNode) &&
        !serializer.isBlocked(node.parentNode) && !hasAncestorIn(node, added));
      tops.sort((a, b) => (a.compareDocumentPosition(b) & Node.DOCUMENT_POSITION_FOLLOWING ? 1 : -1));
      const adds = [];
      for (const node of tops) {
        const serialized = serializer.node(node, serializer.isMasked(node.parentNode));
        if (!serialized) continue;
        const next = nextKnownSibling(node, mirror);
        adds.push({ parent: mirror.id(node.parentNode), ...(next === undefined ? {} : { next }), node: serialized });
        fresh.add(serialized.id);
      }

      // An element that became masked or blocked (or stopped being): what was sent of it is
      // wrong now, and only a fresh copy of the page is right.
      if (recheck && serializer.statusChanged()) {
        this.hooks.statusChanged();
        return;
      }

      const attrs = new Map();
      const texts = new Map();
      for (const record of records) {
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
        controlState(element, state, masked);
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

  /** The page's rules from the relay that served this script; null when they cannot be had. */
  function fetchRules(url) {
    const address = new URL('/cobrowse/rules', scriptURL);
    address.searchParams.set('url', url);
    const controller = new AbortController();
    const timer = setTimeout(() => controller.abort(), RULES_TIMEOUT_MS);
    return fetch(address.href, { credentials: 'omit', cache: 'no-store', signal: controller.signal })
      .then((response) => (response.ok ? response.json() : null))
      .catch(() => null)
      .then((rules) => {
        clearTimeout(timer);
        if (!rules) console.warn('CoBrowse: no masking rules from the relay; the built-in ones apply');
        return rules;
      });
  }

  // The customer's mark: a constructed sheet in the document (and open shadow roots) outlining
  // what the agent does not see. Never serialized (adoptedStyles leaves it out).

  function showMarks(css, shadowRoots) {
    if (!css) {
      if (markSheet) for (const root of [document, ...shadowRoots]) unadoptMarkSheet(root);
      markSheet = null;
      return;
    }
    try {
      if (!markSheet) markSheet = new CSSStyleSheet();
      markSheet.replaceSync(css);
    } catch {
      markSheet = null; // no constructable sheets (an old browser): no marks, masking is the same
      return;
    }
    for (const root of [document, ...shadowRoots]) adoptMarkSheet(root);
  }

  function adoptMarkSheet(root) {
    if (markSheet && root.adoptedStyleSheets && !root.adoptedStyleSheets.includes(markSheet)) {
      root.adoptedStyleSheets = [...root.adoptedStyleSheets, markSheet];
    }
  }

  function unadoptMarkSheet(root) {
    if (root.adoptedStyleSheets && root.adoptedStyleSheets.includes(markSheet)) {
      root.adoptedStyleSheets = root.adoptedStyleSheets.filter((sheet) => sheet !== markSheet);
    }
  }

  // MARK: transport — one socket to the relay; reconnects and resumes; never buffers unbounded.

  class ShareSession {
    /** @param testOnlyDisableMasking sends everything unmasked (tests of the filter only) */
    constructor(events, testOnlyDisableMasking = false) {
      this.events = events;
      this.testOnlyDisableMasking = testOnlyDisableMasking === true;
      /** The address the rules in force are for (null: none fetched yet), and the fetch under way. */
      this.rulesURL = null;
      this.rulesLoading = null;
      /** A resync asked for the rules to be fetched again before the snapshot. */
      this.rulesStale = false;
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
      // The rules are fetched while the socket opens; the first snapshot waits for them.
      if (this.rulesURL !== pageURL()) this.loadRules();
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
        if (this.testOnlyDisableMasking) this.stored.testOnlyDisableMasking = true;
        sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
      }
      this.retryDelay = 500;
      this.maxFrameBytes = message.maxFrameBytes || 4 << 20;
      this.live = true;
      this.needsSnapshot = true; // nothing but a snapshot goes out first (it may wait for the rules)
      this.bar.show(message.sessionId);
      const session = message.session || {};
      this.bar.status(session.state === 'active' ? 'An agent is viewing this page' : 'Waiting for an agent to join');
      if (!this.observer) {
        const serializer = new Serializer(this.mirror, (node) => node === this.bar.host, (root) => {
          this.observer.observe(root);
          adoptMarkSheet(root);
        });
        serializer.masking = this.masking || new Masking(null, this.testOnlyDisableMasking);
        this.observer = new PageObserver(this.mirror, serializer, (frame) => this.send(frame), {
          urlChanged: () => {
            if (this.rulesURL === pageURL()) return false;
            this.snapshot();
            return true;
          },
          statusChanged: () => this.snapshot(),
        });
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
          // The filter also asks when the rules file changed: fetch them again first.
          this.rulesStale = true;
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

    /** Fetches this page's rules (the built-ins only if that fails), unless already under way. */
    loadRules() {
      const url = pageURL();
      if (this.rulesLoading && this.rulesLoading.url === url) return this.rulesLoading.promise;
      this.rulesStale = false;
      const fetched = this.testOnlyDisableMasking ? Promise.resolve(null) : fetchRules(url);
      const loading = {
        url,
        promise: fetched.then((rules) => {
          if (this.rulesLoading !== loading || this.closedForGood) return; // superseded: the page moved on
          this.rulesLoading = null;
          // A refetch that fails keeps this address's rules; a new address gets the built-ins.
          if (rules === null && this.rulesURL === url && this.masking) return;
          this.rulesURL = url;
          this.masking = new Masking(rules, this.testOnlyDisableMasking);
          if (this.observer) this.observer.serializer.masking = this.masking;
          showMarks(this.masking.markCSS, this.observer ? this.observer.serializer.shadowRoots : []);
        }),
      };
      this.rulesLoading = loading;
      return loading.promise;
    }

    /** A fresh full copy of the page under its rules: restarts the sequence and the mirror. */
    snapshot() {
      if (!this.live || !this.observer) return;
      if (this.rulesURL !== pageURL() || this.rulesStale) {
        // Nothing goes out until the rules for this address are known; then the snapshot.
        this.needsSnapshot = true;
        this.observer.discardPending();
        if (!this.snapshotAwaitsRules) {
          this.snapshotAwaitsRules = true;
          this.loadRules().then(() => {
            this.snapshotAwaitsRules = false;
            this.snapshot();
          });
        }
        return;
      }
      this.observer.discardPending();
      this.mirror.reset();
      const serializer = this.observer.serializer;
      serializer.reset();
      this.seq = 0;
      this.needsSnapshot = false;
      const root = serializer.node(document.documentElement);
      const titleElement = document.querySelector('title');
      const frame = {
        t: 'snapshot', stream: this.streamID, url: location.href,
        title: titleElement && serializer.isMasked(titleElement) ? maskedText(document.title) : document.title,
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
      showMarks(null, this.observer ? this.observer.serializer.shadowRoots : []);
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
    start({ interactionToken, testOnlyDisableMasking = false } = {}) {
      if (current && current.sessionId) return Promise.resolve({ sessionId: current.sessionId });
      if (!interactionToken) return Promise.reject(new Error('CoBrowse.start needs { interactionToken }'));
      if (testOnlyDisableMasking === true) console.warn('CoBrowse: testOnlyDisableMasking: this page is shared unmasked (tests only)');
      current = new ShareSession(events, testOnlyDisableMasking === true);
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
    current = new ShareSession(events, stored.testOnlyDisableMasking === true);
    current.stored = stored;
    current.connect({ t: 'resume' }).catch(() => {});
  }
  if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', resumeFromStorage, { once: true });
  else resumeFromStorage();
})();
