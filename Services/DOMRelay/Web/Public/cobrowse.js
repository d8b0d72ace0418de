/*
 * cobrowse.js — the sharer SDK. One script tag on the customer's site; no build step.
 *
 *   <script src="https://cobrowse.example.com/cobrowse.js"></script>
 *   CoBrowse.start({ interactionToken }).then(({ sessionId }) => …)
 *
 * The page is serialized into a node-id mirror, then streamed as batched changes over a
 * WebSocket to the relay that served this script (docs/stream-protocol.md, docs/sdk.md).
 * Masking rules come from the same relay (docs/masking.md): masked data never leaves the page.
 * The agent's pointer, annotations and (in write mode, with the customer's consent) actions
 * come back over the same socket; the masking filter checked them, and this script checks again.
 *
 * Sections, by job: mirror (id ↔ node), masking, serialize, observe, bar, agent marks,
 * agent actions, transport, API. One classic script on purpose: the customer's site includes
 * it from the relay's origin, and module scripts from another origin would need CORS.
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
  /**
   * Elements never sent, with everything inside them: scripts, and what the masking filter
   * removes anyway (plugins, <base>, SVG animations, which can set any attribute of their target).
   */
  const SKIPPED_TAGS = new Set(['script', 'noscript', 'template', 'object', 'embed', 'applet', 'base', 'portal',
    'set', 'animate', 'animatemotion', 'animatetransform']);
  /** Attributes whose relative URLs are made absolute, so the agent's copy loads the same files. */
  const URL_ATTRIBUTES = new Set(['href', 'src', 'action', 'formaction', 'poster', 'background']);
  /** Attributes holding a URL the agent's browser would follow or load: never a script URL. */
  const SCRIPT_URL_ATTRIBUTES = new Set([...URL_ATTRIBUTES, 'xlink:href', 'data', 'ping', 'srcset', 'cite']);

  const scriptURL = new URL(document.currentScript ? document.currentScript.src : location.href);
  const relaySocketURL = `${scriptURL.protocol === 'https:' ? 'wss:' : 'ws:'}//${scriptURL.host}/ws/share`;

  // MARK: mirror — every sent node has an id, never reused within a page.

  class NodeMirror {
    constructor() {
      this.ids = new WeakMap();
      this.nodes = new Map();
      this.nextID = 1;
      /** <iframe>/<frame> element → the document its `frame` was serialized from (same-origin frames). */
      this.frames = new WeakMap();
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
      const frameDocument = this.frames.get(node);
      if (frameDocument) {
        this.frames.delete(node);
        for (const child of frameDocument.childNodes) this.forget(child);
      }
    }
    reset() {
      this.ids = new WeakMap();
      this.nodes.clear();
      this.frames = new WeakMap();
    }
  }

  // MARK: masking — one set of rules for this page, applied here and again by masking-filter.

  const MASK_MARKERS = ['[data-cobrowse-mask]', '.cobrowse-mask'];
  const BLOCK_MARKERS = ['[data-cobrowse-block]', '.cobrowse-block'];
  /** Masked whatever the rules say; once masked, an element stays masked (a "show password" toggle reveals nothing). */
  const ALWAYS_MASKED = ['input[type=password i]', 'input[type=hidden i]',
    ...['cc-number', 'cc-csc', 'current-password', 'new-password', 'one-time-code'].map((token) => `[autocomplete~="${token}" i]`)];
  /** Attributes of masked elements sent as `****` (besides `data-*`, and `placeholder` when the rules say so). */
  const MASKED_ATTRIBUTES = new Set(['value', 'title', 'alt', 'aria-label', 'label', 'aria-description', 'aria-valuetext',
    'aria-placeholder']);
  /** Attributes of masked elements not sent at all: a control's choice, and URLs (they name accounts, photos, documents). */
  const DROPPED_WHEN_MASKED = new Set(['checked', 'selected', 'href', 'src', 'srcset', 'poster', 'action', 'formaction',
    'background', 'xlink:href', 'ping', 'cite', 'data']);
  /** All a blocked element keeps: it shows as a box of its size, nothing of what is inside. */
  const BLOCKED_ATTRIBUTES = new Set(['id', 'class', 'style', 'width', 'height', 'data-cobrowse-block']);
  const IMAGE_SOURCE_ATTRIBUTES = new Set(['src', 'srcset', 'sizes']);
  const DEFAULT_CUSTOMER_MARK = 'outline: 2px dashed rgba(124,58,237,.55); outline-offset: 2px';
  const RULES_TIMEOUT_MS = 5000;
  /** An element's own status (bits): what a change of rules or attributes can flip. */
  const OWN_MASKED = 1;
  const OWN_BLOCKED = 2;
  const OWN_MASKED_IMAGE = 4;
  /** Matched by `maskImages` without being an image (a <picture>, a gallery): every image inside is masked. */
  const OWN_MASKS_IMAGES = 8;
  const NO_AGENT_MARKERS = ['[data-cobrowse-noagent]', '.cobrowse-noagent'];
  /** The customer can always submit; the agent never does it for them. */
  const NO_AGENT_DEFAULTS = ['input[type=submit i]', 'input[type=image i]', 'button[type=submit i]', 'form button:not([type])'];
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
      this.maskPage = !disabled && rules.maskPage === true;
      if (rules.maskPage === true) {
        mask.push('html');
        images.push('img');
      }
      this.maskPlaceholders = rules.maskPlaceholders === true;
      // Not masking: which elements the agent may not act on (checked in any case, even disabled).
      this.noAgentSelector = [...NO_AGENT_MARKERS, ...NO_AGENT_DEFAULTS, ...list(rules.noAgent)].join(', ');
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
      if (this.imageSelector && element.matches(this.imageSelector)) bits |= element.localName === 'img' ? OWN_MASKED_IMAGE : OWN_MASKS_IMAGES;
      return bits;
    }

    /** Whether a change of this attribute may change what the rules match. */
    watches(attributeName) {
      return !this.disabled && (this.dependencies.any || this.dependencies.names.has(attributeName.toLowerCase()));
    }

    get structural() { return !this.disabled && this.dependencies.structural; }

    /**
     * A masked element's attribute as sent (lower-case name, value already safe), or undefined
     * when it is not sent: content masked, choices and URLs left out, images in inline styles
     * removed. The masking filter does exactly this (NodeMirror.rendered).
     */
    maskedAttribute(name, value, tag) {
      if (MASKED_ATTRIBUTES.has(name) || (name.startsWith('data-') && !name.startsWith('data-cobrowse-')) ||
          (name === 'placeholder' && this.maskPlaceholders)) return maskedValue(value);
      // A stylesheet's address is not content: a masked page keeps its look.
      if (DROPPED_WHEN_MASKED.has(name) && !(name === 'href' && tag === 'link')) return undefined;
      if (name === 'style') return withoutURLs(value);
      return value;
    }
  }

  function maskedText(text) {
    return /\S/.test(text) ? MASK : text;
  }

  function maskedValue(value) {
    return value === '' ? '' : MASK;
  }

  /** An inline style with every `url(…)` replaced by `none` (a masked element's background image is content too). */
  function withoutURLs(style) {
    let result = '';
    let rest = style;
    for (;;) {
      const start = rest.search(/url\(/i);
      if (start < 0) return result + rest;
      result += `${rest.slice(0, start)}none`;
      const end = rest.indexOf(')', start + 4);
      if (end < 0) return result;
      rest = rest.slice(end + 1);
    }
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
    if (SCRIPT_URL_ATTRIBUTES.has(name)) {
      if (isScriptURL(value)) return undefined;
      if (URL_ATTRIBUTES.has(name) && value !== '') {
        // A frame's document resolves against its own address.
        try { return new URL(value, element.baseURI || document.baseURI).href; } catch { return value; }
      }
    }
    return value;
  }

  /** Elements never sent (scripts, plugins, SVG animations, refreshing <meta>), with everything inside. */
  function isSkipped(element) {
    const tag = element.localName.toLowerCase();
    if (SKIPPED_TAGS.has(tag)) return true;
    return tag === 'meta' && (element.getAttribute('http-equiv') || '').toLowerCase() === 'refresh';
  }

  function isFrameElement(element) {
    return element.localName === 'iframe' || element.localName === 'frame';
  }

  /** A frame element's document when this page may read it (same origin, and there), else null. */
  function readableFrameDocument(element) {
    try {
      const doc = element.contentDocument;
      return doc && doc.documentElement ? doc : null;
    } catch {
      return null;
    }
  }

  /** The window a node belongs to: the page's, or a same-origin frame's. */
  function windowOf(node) {
    const doc = node.nodeType === Node.DOCUMENT_NODE ? node : node.ownerDocument;
    return (doc && doc.defaultView) || window;
  }

  /** A point in a (possibly framed) window's viewport as page coordinates of the top page. */
  function topPagePoint(view, x, y) {
    for (let current = view; current && current !== window; current = current.parent) {
      let element;
      try { element = current.frameElement; } catch { element = null; }
      if (!element) break;
      const box = element.getBoundingClientRect();
      x += box.left + element.clientLeft;
      y += box.top + element.clientTop;
    }
    return { x: Math.round(x + window.scrollX), y: Math.round(y + window.scrollY) };
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
    constructor(mirror, isOwnNode, onShadowRoot, onFrameDocument = () => {}) {
      this.mirror = mirror;
      this.isOwnNode = isOwnNode;
      this.onShadowRoot = onShadowRoot;
      this.onFrameDocument = onFrameDocument;
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
      /** Elements whose images (img, source) are all masked: matched by `maskImages`, or inside one. */
      this.imagesMaskedInside = new WeakSet();
      /** A masked <title> element was sent: the snapshot's title is masked too (as the filter does). */
      this.titleMasked = false;
      /** element → own status bits, for the elements with any (compared after attribute changes). */
      this.statuses = new Map();
      this.shadowRoots = new Set();
      /** Same-origin frame documents sent (in `frame`), keyed by their frame element. */
      this.frameDocuments = new Map();
    }

    isMasked(node) { return this.masked.has(node); }
    isBlocked(node) { return this.blocked.has(node); }
    masksImagesInside(node) { return this.imagesMaskedInside.has(node); }

    /**
     * A node and its subtree, or null for what is never sent. Assigns ids as it goes.
     * @param masked inside a masked element
     * @param imagesMasked inside an element whose images are masked
     */
    node(domNode, masked = false, imagesMasked = false) {
      switch (domNode.nodeType) {
        case Node.ELEMENT_NODE:
          return this.element(domNode, masked, imagesMasked);
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

    element(element, inheritedMasked, parentImagesMasked) {
      if (isSkipped(element) || this.isOwnNode(element)) return null;
      const own = this.masking.own(element);
      if (own) this.statuses.set(element, own);
      const tag = element.localName;
      const node = { id: this.mirror.assign(element), type: 'element', tag, attrs: {} };
      // As the filter classifies: images (and a <picture>'s sources) inside masked content or
      // inside a `maskImages` element are masked images, and a masked image is masked content.
      const maskedImage = (own & OWN_MASKED_IMAGE) !== 0 || ((tag === 'img' || tag === 'source') &&
        (inheritedMasked || parentImagesMasked || (own & OWN_MASKED) !== 0));
      const masked = inheritedMasked || maskedImage || (own & OWN_MASKED) !== 0;
      if (masked) {
        this.masked.add(element);
        // The page's own <title> (in its <head>), not an SVG's or a frame's.
        if (tag === 'title' && element.ownerDocument === document && element.parentElement &&
            element.parentElement.localName === 'head') this.titleMasked = true;
      }
      if (maskedImage) this.maskedImages.add(element);
      if (own & OWN_BLOCKED) {
        this.blocked.add(element);
        this.attributes(element, node);
        node.rect = renderedSize(element);
        return node;
      }
      const imagesMasked = parentImagesMasked || (own & OWN_MASKS_IMAGES) !== 0;
      if (imagesMasked) this.imagesMaskedInside.add(element);
      this.attributes(element, node);
      if (maskedImage && tag === 'img') node.rect = renderedSize(element);
      controlState(element, node, masked);
      const children = this.children(element.childNodes, masked, imagesMasked);
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
        node.shadow = this.children(shadow.childNodes, masked, imagesMasked);
        const adopted = adoptedStyles(shadow);
        if (adopted.length) node.adoptedStyles = adopted;
        this.shadowRoots.add(shadow);
        this.onShadowRoot(shadow);
      }
      if (isFrameElement(element)) {
        // A same-origin frame's document travels inside its element, masked as if it were its
        // content (the frame element's masking carries in; rules match inside it). A frame we
        // cannot read (another origin, not loaded) stays an empty box.
        const frameDocument = readableFrameDocument(element);
        if (frameDocument) {
          this.mirror.frames.set(element, frameDocument);
          this.frameDocuments.set(element, frameDocument);
          node.frame = this.children(frameDocument.childNodes, masked, imagesMasked);
          this.onFrameDocument(frameDocument);
        }
      }
      return node;
    }

    children(list, masked, imagesMasked) {
      const result = [];
      for (const child of list) {
        const node = this.node(child, masked, imagesMasked);
        if (node) result.push(node);
      }
      return result;
    }

    attributes(element, node) {
      for (const attribute of element.attributes) {
        const value = this.attribute(element, attribute.name, attribute.value);
        if (value !== undefined) node.attrs[attribute.name] = value;
      }
    }

    /** The value to send for one of a sent element's attributes, or undefined to leave it out. */
    attribute(element, name, value) {
      const lower = name.toLowerCase();
      if (this.masking.disabled) return safeAttributeValue(element, lower, value);
      if (lower.startsWith('data-cb-')) return undefined; // the filter's view markers: never from the page
      if (this.blocked.has(element) && !BLOCKED_ATTRIBUTES.has(lower)) return undefined;
      if (this.maskedImages.has(element) && IMAGE_SOURCE_ATTRIBUTES.has(lower)) return undefined;
      const sent = safeAttributeValue(element, lower, value);
      if (sent === undefined || !this.masked.has(element)) return sent;
      return this.masking.maskedAttribute(lower, sent, element.localName);
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
      const frameDocuments = [...this.frameDocuments].filter(([element, doc]) => element.isConnected && readableFrameDocument(element) === doc)
        .map(([, doc]) => doc);
      for (const root of [document, ...frameDocuments, ...this.shadowRoots]) {
        if (root.host && !root.host.isConnected) continue;
        for (const element of root.querySelectorAll(this.masking.anySelector)) if (differs(element)) return true;
      }
      for (const element of this.statuses.keys()) if (differs(element)) return true;
      return false;
    }

    /** Drops what belongs to removed nodes. */
    prune() {
      for (const element of this.statuses.keys()) if (!this.mirror.has(element)) this.statuses.delete(element);
      for (const root of this.shadowRoots) if (!this.mirror.has(root.host)) this.shadowRoots.delete(root);
      for (const element of this.frameDocuments.keys()) if (!this.mirror.has(element)) this.frameDocuments.delete(element);
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
      this.watchedDocuments = new WeakSet();
      this.hookedWindows = new WeakSet();
      this.watchDocument(document);
      this.listen(window, 'resize', () => this.throttle('viewport', RESIZE_THROTTLE_MS, () =>
        this.send({ t: 'viewport', w: window.innerWidth, h: window.innerHeight })), true);
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
        const serialized = serializer.node(node, serializer.isMasked(node.parentNode), serializer.masksImagesInside(node.parentNode));
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

  // MARK: rules and the customer's mark

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

  // MARK: bar — what the customer sees: the session ID to read out, the agent's request for
  // control (Allow / Deny), Stop control while the agent has it, and Exit.

  class SessionBar {
    /** @param handlers {exit(), answer(approve), revoke()} */
    constructor(handlers) {
      this.host = document.createElement('div');
      this.host.id = 'cobrowse-bar';
      const root = this.host.attachShadow({ mode: 'open' });
      root.innerHTML = `
        <style>
          :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
          [hidden] { display: none !important; }
          .bar { display: flex; flex-direction: column; gap: 10px; padding: 10px 14px; border-radius: 10px;
                 background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
                 box-shadow: 0 4px 16px rgba(0,0,0,.25); max-width: min(30rem, calc(100vw - 32px)); }
          .row { display: flex; align-items: center; gap: 12px; }
          .grow { flex: 1; }
          .session-id { font: 600 18px/1 ui-monospace, monospace; letter-spacing: .12em; }
          .status { font-size: 12px; opacity: .8; }
          .bar[data-mode="write"] .status { opacity: 1; color: #ffd166; font-weight: 600; }
          .consent { padding-top: 10px; border-top: 1px solid rgba(255,255,255,.2); }
          button { font: inherit; padding: 6px 12px; border: 0; border-radius: 6px; background: #e5484d; color: #fff;
                   cursor: pointer; white-space: nowrap; }
          button.allow-control { background: #2f9e44; }
          button.deny-control { background: #4b5567; }
          button.revoke-control { background: #ffd166; color: #1d2433; font-weight: 600; }
          button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
        </style>
        <div class="bar" role="region" aria-label="Co-browsing" data-mode="pointer">
          <div class="row">
            <div class="grow">
              <div>Co-browsing · session <span class="session-id"></span></div>
              <div class="status" role="status" aria-live="polite"></div>
            </div>
            <button class="revoke-control" type="button" hidden>Stop control</button>
            <button class="exit" type="button">Exit</button>
          </div>
          <div class="consent row" role="group" aria-label="Request for control" hidden>
            <span class="grow" role="alert">The agent asks to control this page</span>
            <button class="allow-control" type="button">Allow</button>
            <button class="deny-control" type="button">Deny</button>
          </div>
        </div>`;
      const on = (selector, handler) => root.querySelector(selector).addEventListener('click', handler);
      on('.exit', () => handlers.exit());
      on('.allow-control', () => handlers.answer(true));
      on('.deny-control', () => handlers.answer(false));
      on('.revoke-control', () => handlers.revoke());
      this.root = root;
    }
    show(sessionId) {
      this.root.querySelector('.session-id').textContent = sessionId;
      if (!this.host.isConnected) (document.body || document.documentElement).appendChild(this.host);
    }
    status(text) { this.root.querySelector('.status').textContent = text; }
    /** Write mode shows Stop control. */
    setMode(mode) {
      this.root.querySelector('.bar').dataset.mode = mode;
      this.root.querySelector('.revoke-control').hidden = mode !== 'write';
    }
    get asking() { return !this.root.querySelector('.consent').hidden; }
    askConsent() { this.root.querySelector('.consent').hidden = false; }
    hideConsent() { this.root.querySelector('.consent').hidden = true; }
    remove() { this.host.remove(); }
  }

  // MARK: agent marks — the agent's pointer and annotations on the customer's page, each in a
  // shadow root of its own that is never serialized and never takes a click.

  const POINTER_IDLE_MS = 3000;
  const ANNOTATION_MS = 1500;

  /** A fixed, zero-size host at the viewport's corner; its children are placed in viewport pixels. */
  function overlayHost(id, css, html = '') {
    const host = document.createElement('div');
    host.id = id;
    host.setAttribute('aria-hidden', 'true');
    host.style.cssText = 'all: initial !important; position: fixed !important; left: 0 !important; top: 0 !important;' +
      ' width: 0 !important; height: 0 !important; overflow: visible !important; pointer-events: none !important;' +
      ' z-index: 2147483646 !important; display: block !important;';
    host.attachShadow({ mode: 'open' }).innerHTML = `<style>:host { pointer-events: none; } ${css}</style>${html}`;
    return host;
  }

  class AgentMarks {
    constructor() {
      this.pointerHost = null;
      this.annotationHost = null;
      /** The agent's pointer in page coordinates, while shown. */
      this.at = null;
      this.idleTimer = null;
      this.onScroll = () => this.place();
    }

    owns(node) { return node != null && (node === this.pointerHost || node === this.annotationHost); }

    /** The agent's pointer moved to (x, y), page coordinates. */
    pointer(x, y) {
      if (!this.pointerHost) {
        this.pointerHost = overlayHost('cobrowse-agent-pointer', `
          .pointer { position: absolute; left: 0; top: 0; will-change: transform; }
          .pointer[hidden] { display: none; }
          svg { display: block; }
          .label { position: absolute; left: 16px; top: 20px; padding: 1px 6px; border-radius: 4px; background: #1f5fd1;
                   color: #fff; font: 600 11px/1.4 system-ui, sans-serif; white-space: nowrap; }`, `
          <div class="pointer" hidden>
            <svg width="20" height="26" viewBox="0 0 20 26"><path d="M1 1 L1 21 L6 16 L10 25 L13.5 23.5 L9.5 15 L17 15 Z"
              fill="#1f5fd1" stroke="#fff" stroke-width="1.5" stroke-linejoin="round"/></svg>
            <span class="label">Agent</span>
          </div>`);
        addEventListener('scroll', this.onScroll, { passive: true });
      }
      if (!this.pointerHost.isConnected) (document.body || document.documentElement).appendChild(this.pointerHost);
      this.at = { x, y };
      this.place();
      clearTimeout(this.idleTimer);
      this.idleTimer = setTimeout(() => {
        this.at = null;
        this.place();
      }, POINTER_IDLE_MS);
    }

    /** Where the pointer is on screen: its page position less the page's scroll. */
    place() {
      if (!this.pointerHost) return;
      const arrow = this.pointerHost.shadowRoot.querySelector('.pointer');
      arrow.hidden = this.at === null;
      if (this.at) arrow.style.transform = `translate(${this.at.x - window.scrollX}px, ${this.at.y - window.scrollY}px)`;
    }

    /** A red circle where the agent clicked (page coordinates), fading out. */
    annotate(x, y) {
      if (!this.annotationHost) {
        this.annotationHost = overlayHost('cobrowse-agent-annotations', `
          .cobrowse-annotation { position: absolute; width: 28px; height: 28px; margin: -17px 0 0 -17px; border-radius: 50%;
            border: 3px solid #e02424; background: rgba(224,36,36,.18); animation: fade ${ANNOTATION_MS}ms ease-out forwards; }
          @keyframes fade { from { opacity: 1; transform: scale(.6); } to { opacity: 0; transform: scale(1.6); } }
          @media (prefers-reduced-motion: reduce) { .cobrowse-annotation { animation-name: plain; }
            @keyframes plain { from { opacity: 1; } to { opacity: 0; } } }`);
      }
      if (!this.annotationHost.isConnected) (document.body || document.documentElement).appendChild(this.annotationHost);
      const circle = document.createElement('div');
      circle.className = 'cobrowse-annotation';
      circle.style.left = `${x - window.scrollX}px`;
      circle.style.top = `${y - window.scrollY}px`;
      this.annotationHost.shadowRoot.appendChild(circle);
      setTimeout(() => circle.remove(), ANNOTATION_MS);
    }

    remove() {
      clearTimeout(this.idleTimer);
      removeEventListener('scroll', this.onScroll);
      if (this.pointerHost) this.pointerHost.remove();
      if (this.annotationHost) this.annotationHost.remove();
      this.pointerHost = this.annotationHost = null;
      this.at = null;
    }
  }

  // MARK: agent actions — what the masking filter let through, done here only in write mode and
  // only where the rules allow it: the second gate, in case the filter's view of the page or of
  // the mode is behind. A refusal is silent for the customer (the filter told the agent).

  /** The value setters as the browser made them (the observer wraps them later on this page). */
  const NATIVE_VALUE_SETTERS = new Map([HTMLInputElement, HTMLTextAreaElement, HTMLSelectElement].map((type) =>
    [type, Object.getOwnPropertyDescriptor(type.prototype, 'value').set]));
  /** Inputs the agent does not type into: choices (clicked instead), files, buttons, secrets. */
  const UNTYPABLE_INPUTS = new Set(['checkbox', 'radio', 'file', 'hidden', 'password', 'submit', 'image', 'reset', 'button']);
  const DEFAULT_MASKING = new Masking(null);

  /** The element above, across shadow roots (a shadow root's children belong to its host). */
  function parentElementOf(node) {
    const parent = node.parentNode;
    if (!parent) return null;
    if (parent.nodeType === Node.DOCUMENT_FRAGMENT_NODE) return parent.host || null;
    if (parent.nodeType === Node.DOCUMENT_NODE && parent !== document) {
      // A same-origin frame's <html>: its frame element is above it (as the filter sees the page).
      try { return (parent.defaultView && parent.defaultView.frameElement) || null; } catch { return null; }
    }
    return parent.nodeType === Node.ELEMENT_NODE ? parent : null;
  }

  function sameSiteURL(text) {
    let url;
    try { url = new URL(String(text), location.href); } catch { return null; }
    return url.origin === location.origin && (url.protocol === 'http:' || url.protocol === 'https:') ? url : null;
  }

  class AgentActions {
    /** @param share the ShareSession: its mode, mirror, serializer and rules */
    constructor(share) { this.share = share; }

    perform(action) {
      const reason = this.refusal(action);
      if (reason) {
        console.debug(`CoBrowse: the agent's ${action.t} was not performed (${reason})`, action);
        return;
      }
      const element = this.element(action.id);
      switch (action.t) {
        case 'click':
          if (typeof element.focus === 'function') element.focus({ preventScroll: true });
          element.click();
          break;
        case 'type':
          setFieldValue(element, String(action.value));
          break;
        case 'scroll': {
          const x = Number(action.x) || 0;
          const y = Number(action.y) || 0;
          if (action.id === 0) window.scrollTo(x, y);
          else {
            element.scrollLeft = x;
            element.scrollTop = y;
          }
          break;
        }
        case 'navigate':
          if (action.to === 'back') history.back();
          else if (action.to === 'forward') history.forward();
          else if (action.to === 'reload') location.reload();
          else location.assign(sameSiteURL(action.url).href);
          break;
      }
    }

    /** Why this page will not do it (null: it will). */
    refusal(action) {
      const share = this.share;
      if (!share.live || !share.observer) return 'no-page';
      if (share.mode !== 'write') return 'pointer-mode';
      switch (action.t) {
        case 'click': {
          const element = this.element(action.id);
          if (!element) return 'unknown-element';
          return this.untouchable(element) || (leavesTheSite(element) ? 'off-site' : null);
        }
        case 'type': {
          const element = this.element(action.id);
          if (!element) return 'unknown-element';
          return this.untouchable(element) || (typeof action.value !== 'string' ? 'no-value' : null) ||
            (isTypable(element) ? null : 'not-a-field');
        }
        case 'scroll':
          return action.id === 0 || this.element(action.id) ? null : 'unknown-element';
        case 'navigate':
          if (['back', 'forward', 'reload'].includes(action.to)) return null;
          return action.to === 'url' && sameSiteURL(action.url) ? null : 'off-site';
        default:
          return 'unknown-action';
      }
    }

    /** The element of a mirror id on this page (a text node's parent), or null. */
    element(id) {
      const node = Number.isInteger(id) ? this.share.mirror.nodes.get(id) : undefined;
      // A node of a frame that navigated away, or was removed, has no window any more.
      if (!node || !node.isConnected || !node.ownerDocument || !node.ownerDocument.defaultView) return null;
      return node.nodeType === Node.ELEMENT_NODE ? node : parentElementOf(node);
    }

    /** Why the agent may not touch this element: masked, blocked, or no-agent (itself or an ancestor). */
    untouchable(element) {
      const serializer = this.share.observer.serializer;
      const masking = this.share.masking || DEFAULT_MASKING;
      if (serializer.isMasked(element) || everAlwaysMasked.has(element) || element.matches(masking.alwaysSelector)) return 'masked';
      for (let current = element; current; current = parentElementOf(current)) {
        if (serializer.isBlocked(current)) return 'blocked';
        if (current.matches(masking.noAgentSelector)) return 'disabled-element';
      }
      return null;
    }
  }

  /** Whether a click here would follow a link to another site (or into a new window). */
  function leavesTheSite(element) {
    for (let current = element; current; current = parentElementOf(current)) {
      if ((current.localName === 'a' || current.localName === 'area') && current.hasAttribute('href')) {
        return !sameSiteURL(current.href) || (current.target && current.target !== '_self');
      }
    }
    return false;
  }

  function isTypable(element) {
    switch (element.localName) {
      case 'input': return !UNTYPABLE_INPUTS.has((element.getAttribute('type') || 'text').toLowerCase()) && !element.readOnly && !element.disabled;
      case 'textarea': return !element.readOnly && !element.disabled;
      case 'select': return !element.disabled;
      default: return element.isContentEditable === true;
    }
  }

  /**
   * Sets a field as typing would: the browser's own setter (frameworks such as React track the
   * value on the element and would miss a plain assignment), then `input` and `change`.
   */
  function setFieldValue(element, value) {
    if (typeof element.focus === 'function') element.focus({ preventScroll: true });
    const type = element.localName === 'textarea' ? HTMLTextAreaElement
      : element.localName === 'select' ? HTMLSelectElement
        : element.localName === 'input' ? HTMLInputElement : null;
    if (type) NATIVE_VALUE_SETTERS.get(type).call(element, value);
    else element.textContent = value; // contenteditable: the agent's copy sends its text
    element.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
    element.dispatchEvent(new Event('change', { bubbles: true }));
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
      this.bar = new SessionBar({
        exit: () => api.end(),
        answer: (approve) => this.answerWrite(approve),
        revoke: () => this.revokeWrite(),
      });
      this.marks = new AgentMarks();
      this.actions = new AgentActions(this);
      /** What the agent may do, as the registry's notices say: `pointer` until the customer allows `write`. */
      this.mode = 'pointer';
      this.agentPresent = false;
      /** The write request the customer answered (its deadline), so a late notice does not ask again. */
      this.answeredRequest = null;
      this.pendingRequest = null;
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
      if (!this.observer) {
        const serializer = new Serializer(this.mirror, (node) => node === this.bar.host || this.marks.owns(node), (root) => {
          this.observer.observe(root);
          adoptMarkSheet(root);
        }, (frameDocument) => this.observer.watchDocument(frameDocument));
        serializer.masking = this.masking || new Masking(null, this.testOnlyDisableMasking);
        this.observer = new PageObserver(this.mirror, serializer, (frame) => this.send(frame), {
          urlChanged: () => {
            if (this.rulesURL === pageURL()) return false;
            this.snapshot();
            return true;
          },
          statusChanged: () => this.snapshot(),
          // A frame loaded or navigated: a fresh copy of the page with its new document.
          frameChanged: () => {
            if (this.frameSnapshotTimer) return;
            this.frameSnapshotTimer = setTimeout(() => {
              this.frameSnapshotTimer = null;
              this.snapshot();
            }, 0);
          },
        });
        this.observer.start();
      }
      this.snapshot();
      this.events.emit(message.t, { sessionId: message.sessionId });
      this.follow(message.session);
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
            this.events.emit('agentJoined', { agentId: message.session && message.session.leadAgentID });
          }
          this.events.emit('session', { event: message.event, session: message.session });
          this.follow(message.session);
          break;
        case 'action':
          this.agentAction(message.action);
          break;
        case 'ended':
          this.finish(message.reason);
          break;
        case 'error':
          // The request lapsed (or was withdrawn) before the customer answered.
          if (message.code === 'no-pending-write-request') this.bar.hideConsent();
          this.events.emit('error', { code: message.code, message: message.message });
          break;
      }
    }

    /** The registry's view of the session (on every open and notice): the mode, a pending request. */
    follow(session) {
      if (!session || typeof session !== 'object' || this.closedForGood) return;
      this.agentPresent = session.state === 'active';
      this.setMode(session.mode === 'write' ? 'write' : 'pointer');
      const pending = this.mode === 'pointer' && this.agentPresent && session.writeRequestPendingUntil != null &&
        session.writeRequestPendingUntil !== this.answeredRequest;
      if (pending && !this.bar.asking) {
        this.pendingRequest = session.writeRequestPendingUntil;
        this.bar.askConsent();
        this.events.emit('controlRequested', { until: session.writeRequestPendingUntil });
      } else if (!pending) {
        this.bar.hideConsent();
      }
      this.showStatus();
    }

    setMode(mode) {
      if (mode === this.mode) return;
      this.mode = mode;
      this.bar.setMode(mode);
      this.showStatus();
      this.events.emit('modeChanged', { mode });
    }

    showStatus() {
      if (!this.live) return; // "Reconnecting…" stays until the socket is back
      this.bar.status(this.mode === 'write' ? 'The agent has control of this page'
        : this.agentPresent ? 'An agent is viewing this page' : 'Waiting for an agent to join');
    }

    /** The customer's Allow or Deny. */
    answerWrite(approve) {
      this.answeredRequest = this.pendingRequest;
      this.bar.hideConsent();
      this.sendControl({ t: 'answer-write', approve: approve === true });
    }

    /** Stop control: the agent's actions stop here at once, whatever the relay answers. */
    revokeWrite() {
      this.setMode('pointer');
      this.sendControl({ t: 'revoke-write' });
    }

    sendControl(message) {
      const socket = this.socket;
      if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
    }

    /** What the filter let through: the agent's pointer and annotations, or an action (checked again). */
    agentAction(action) {
      if (!action || typeof action !== 'object' || this.closedForGood) return;
      const x = Number(action.x);
      const y = Number(action.y);
      if (action.t === 'pointer' || action.t === 'annotate') {
        if (!Number.isFinite(x) || !Number.isFinite(y)) return;
        if (action.t === 'pointer') this.marks.pointer(x, y);
        else this.marks.annotate(x, y);
        return;
      }
      this.actions.perform(action);
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
      // The tab title is the <title>'s text: masked with it (any masked <title>, as the filter
      // decides), or with the whole page.
      const frame = {
        t: 'snapshot', stream: this.streamID, url: location.href,
        title: serializer.titleMasked || serializer.masking.maskPage ? maskedText(document.title) : document.title,
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
      this.marks.remove();
      this.mode = 'pointer';
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
    /**
     * Subscribes to started, resumed, agentJoined, session, controlRequested, modeChanged, ended,
     * error; returns an unsubscribe function.
     */
    on(event, handler) {
      return events.on(event, handler);
    },
    /** The live session's nine-digit ID, or null. */
    get sessionId() {
      return current ? current.sessionId : null;
    },
    /** What the agent may do: `pointer` (point and annotate) or `write` (act, as the customer allowed); null without a session. */
    get mode() {
      return current && current.sessionId ? current.mode : null;
    },
  };
  Object.defineProperty(window, 'CoBrowse', { value: Object.freeze(api), enumerable: true });

  // A session started on an earlier page of this site continues here.
  function resumeFromStorage() {
    // A frame of a page of the same site: that page's SDK shares this document (in its frame).
    if (window.frameElement) return;
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
