// Rebuild: the customer's page, rebuilt from the filter's frames inside the sandboxed view
// iframe (RebuiltPage): keeps the id ↔ node map and applies snapshots, mutations, form input and
// scroll frames to it. Never runs page code. The view is read-only unless the console's hooks
// let the lead agent type (write mode). The rules editor rebuilds its preview with it too.
import { DROPPED_ELEMENTS, UNRENDERED_ELEMENTS, URL_ATTRIBUTES as URL_ATTRIBUTE_LIST } from '../sdk/built-in-rules.js';

const HTML_NS = 'http://www.w3.org/1999/xhtml';
const SVG_NS = 'http://www.w3.org/2000/svg';
const MATHML_NS = 'http://www.w3.org/1998/Math/MathML';
const XLINK_NS = 'http://www.w3.org/1999/xlink';
const XML_NS = 'http://www.w3.org/XML/1998/namespace';

// Elements that would run code or replace the page; the filter already strips them, and a
// comment stands in so that later frames naming them, or inserting before them, still fit.
const INERT_TAGS = new Set([...DROPPED_ELEMENTS, ...UNRENDERED_ELEMENTS]);

// SVG names are case-sensitive but arrive lower case; these are the ones that differ.
const SVG_TAGS = new Map([
  'altGlyph', 'altGlyphDef', 'altGlyphItem', 'animateColor', 'clipPath', 'feBlend', 'feColorMatrix',
  'feComponentTransfer', 'feComposite', 'feConvolveMatrix', 'feDiffuseLighting', 'feDisplacementMap',
  'feDistantLight', 'feDropShadow', 'feFlood', 'feFuncA', 'feFuncB', 'feFuncG', 'feFuncR',
  'feGaussianBlur', 'feImage', 'feMerge', 'feMergeNode', 'feMorphology', 'feOffset', 'fePointLight',
  'feSpecularLighting', 'feSpotLight', 'feTile', 'feTurbulence', 'foreignObject', 'glyphRef',
  'linearGradient', 'radialGradient', 'textPath',
].map((name) => [name.toLowerCase(), name]));

const SVG_ATTRIBUTES = new Map([
  'attributeName', 'attributeType', 'baseFrequency', 'baseProfile', 'calcMode', 'clipPathUnits',
  'diffuseConstant', 'edgeMode', 'filterUnits', 'glyphRef', 'gradientTransform', 'gradientUnits',
  'kernelMatrix', 'kernelUnitLength', 'keyPoints', 'keySplines', 'keyTimes', 'lengthAdjust',
  'limitingConeAngle', 'markerHeight', 'markerUnits', 'markerWidth', 'maskContentUnits', 'maskUnits',
  'numOctaves', 'pathLength', 'patternContentUnits', 'patternTransform', 'patternUnits', 'pointsAtX',
  'pointsAtY', 'pointsAtZ', 'preserveAlpha', 'preserveAspectRatio', 'primitiveUnits', 'refX', 'refY',
  'repeatCount', 'repeatDur', 'requiredExtensions', 'requiredFeatures', 'specularConstant',
  'specularExponent', 'spreadMethod', 'startOffset', 'stdDeviation', 'stitchTiles', 'surfaceScale',
  'systemLanguage', 'tableValues', 'targetX', 'targetY', 'textLength', 'viewBox', 'viewTarget',
  'xChannelSelector', 'yChannelSelector', 'zoomAndPan',
].map((name) => [name.toLowerCase(), name]));

/** Whether an attribute may be set in the agent's browser (defence in depth behind the filter). */
export function isSafeAttribute(tag, name, value) {
  const lower = name.toLowerCase();
  if (lower.startsWith('on') || lower === 'srcdoc' || lower === 'autoplay') return false;
  // A <meta http-equiv> could refresh (navigate) the view or impose the customer's CSP on it.
  if (tag === 'meta' && lower === 'http-equiv') return false;
  // Nested frames stay empty: the customer's page never sends their address (a frame would
  // load whatever it names, from the agent's browser).
  if ((tag === 'iframe' || tag === 'frame') && lower === 'src') return false;
  if (value == null) return true;
  // However disguised: case, control characters, spaces or line breaks inside the scheme.
  const squeezed = String(value).replace(/[\u0000-\u0020\u007f]+/g, '').toLowerCase();
  if (squeezed.startsWith('javascript:') || squeezed.startsWith('vbscript:')) return false;
  const documentData = squeezed.startsWith('data:') && !(squeezed.startsWith('data:image/') && !squeezed.startsWith('data:image/svg'));
  return !(documentData && URL_ATTRIBUTES.has(lower));
}

// The filter's view markers (docs/masking.md): purple for what the agent does not see (masked
// content, masked images, blocked elements), green for what the agent may not act on. Blocked
// elements and masked images are grey boxes of the customer's element's size (`rect`).
const MARKER_CSS = `
[data-cb-masked], [data-cb-masked-image], [data-cb-blocked] {
  outline: 2px solid #8b5cf6 !important; outline-offset: -1px !important;
}
[data-cb-noagent] { outline: 2px solid #16a34a !important; outline-offset: -1px !important; }
[data-cb-blocked], [data-cb-masked-image] {
  background: #d4d4d8 repeating-linear-gradient(135deg, transparent 0 8px, rgba(255, 255, 255, .35) 8px 16px) !important;
  box-sizing: border-box !important;
}
`;
/** What a masked image shows (it lays out like an image; the box is grey from MARKER_CSS). */
const BLANK_IMAGE = 'data:image/gif;base64,R0lGODlhAQABAIAAAAAAAP///yH5BAEAAAAALAAAAAABAAEAAAIBRAA7';

const URL_ATTRIBUTES = new Set(URL_ATTRIBUTE_LIST);

/** Markup for the doctype of a fresh view document; no doctype means quirks mode, as on the page. */
function doctypeMarkup(doctype) {
  if (!doctype) return '';
  const inner = String(doctype).replace(/^\s*<!doctype\s*/i, '').replace(/>\s*$/, '').replace(/[<>]/g, '');
  return `<!DOCTYPE ${inner || 'html'}>`;
}

function isHTTPURL(text) {
  try {
    return ['http:', 'https:'].includes(new URL(text).protocol);
  } catch {
    return false;
  }
}

export class RebuiltPage {
  #iframe;
  #nodes = new Map();
  #ids = new WeakMap();
  /** Blocked elements and masked images: the customer's rendered size, kept over `style` changes. */
  #rects = new WeakMap();
  /** The customer's last known element scroll positions, re-applied as late styles and images load. */
  #elementScrolls = new Map();
  #pageScroll = { x: 0, y: 0 };
  /** Form values as the stream last said (to put back what the agent typed when it was refused). */
  #streamValues = new WeakMap();
  #reapplyPending = false;
  /** The customer's page address (the `<base href>` of the view and of its frames' documents). */
  #pageURL = null;
  /** Frame elements → the document built in them from their node's `frame`. */
  #frameDocuments = new WeakMap();
  #onViewScroll;
  #hooks;
  // Fixed functions, so that adding them to a reused window again does not add them twice.
  #onLoad = () => this.#reapplyScrollsSoon();
  #onScroll = () => this.#onViewScroll();

  /**
   * @param {HTMLIFrameElement} iframe the sandboxed view (same origin, no scripts)
   * @param {{onViewScroll?: () => void, onDocument?: (doc: Document) => void,
   *          allowInput?: (event: InputEvent) => boolean, acceptInput?: (node: Element, frame: object) => boolean,
   *          acceptScroll?: (id: number) => boolean}} hooks
   *   onViewScroll: the view's page scroll changed; onDocument: a new view document (listeners
   *   are lost with the old one); allowInput: let this edit happen (default: never, the view is
   *   read-only); acceptInput / acceptScroll: apply this input or scroll frame (default: yes).
   */
  constructor(iframe, hooks = {}) {
    this.#iframe = iframe;
    this.#onViewScroll = hooks.onViewScroll ?? (() => {});
    this.#hooks = hooks;
  }

  /** The view's current page scroll (it may differ from the customer's until content has loaded). */
  get viewScroll() {
    const view = this.#iframe.contentWindow;
    return { x: view?.scrollX ?? 0, y: view?.scrollY ?? 0 };
  }

  /** The view's node for a sharer id (for debugging from the console). */
  nodeById(id) { return this.#nodes.get(id) ?? null; }

  /** The sharer id of a view node, or undefined (nodes the console added itself have none). */
  idOf(node) { return node ? this.#ids.get(node) : undefined; }

  /** The nearest node at or above `node` (across shadow roots) that the customer's page has, with its id. */
  closestKnown(node) {
    for (let current = node; current; current = current.parentNode ?? current.host) {
      const id = this.#ids.get(current);
      if (id !== undefined && this.#nodes.get(id) === current) return { id, node: current };
    }
    return null;
  }

  /** The customer's last known scroll position of the page (id 0) or an element. */
  streamScroll(id) {
    return id === 0 ? { ...this.#pageScroll } : this.#elementScrolls.get(id) ?? null;
  }

  /** Scrolls the page (id 0) or an element to where the customer last was (after the agent's own scrolling). */
  reapplyScroll(id) {
    if (id === 0) {
      this.#applyPageScroll();
      return;
    }
    const node = this.#nodes.get(id);
    const position = this.#elementScrolls.get(id);
    if (node && position) scrollElement(node, position);
  }

  /** Puts a form field back to the value the stream last gave it (the agent's edit was refused). */
  restoreValue(node) {
    if (!node || !this.#streamValues.has(node)) return;
    setValue(node, this.#streamValues.get(node));
  }
  /** An empty view (before the first snapshot of another session). */
  clear() {
    const doc = this.#iframe.contentDocument;
    doc.open();
    doc.write('<!DOCTYPE html>');
    doc.close();
    this.#nodes.clear();
    this.#elementScrolls.clear();
    this.#pageScroll = { x: 0, y: 0 };
    this.#guard(doc);
  }

  /** Replaces the view with a snapshot's page. */
  loadSnapshot(snapshot) {
    const doc = this.#iframe.contentDocument;
    // A fresh document: its doctype decides standards or quirks mode, like the customer's.
    doc.open();
    doc.write(doctypeMarkup(snapshot.doctype));
    doc.close();
    this.#nodes.clear();
    this.#elementScrolls.clear();
    this.#pageURL = isHTTPURL(snapshot.url) ? snapshot.url : null;

    const pending = [];
    const root = this.#build(doc, snapshot.root, HTML_NS, pending);
    if (root?.nodeType === Node.ELEMENT_NODE) doc.replaceChild(root, doc.documentElement);

    const html = doc.documentElement;
    let head = [...html.children].find((child) => child.localName === 'head');
    if (!head) {
      head = doc.createElement('head');
      html.prepend(head);
    }
    // The customer's own <base> never arrives; this one makes relative URLs load from their site.
    if (isHTTPURL(snapshot.url)) {
      const base = doc.createElement('base');
      base.setAttribute('href', snapshot.url);
      head.prepend(base);
    }
    for (const css of snapshot.adoptedStyles ?? []) head.append(this.#adoptedStyle(doc, css));
    head.append(markerStyle(doc));

    this.#guard(doc);
    this.#finish(pending);
    this.#pageScroll = { x: Number(snapshot.scroll?.x) || 0, y: Number(snapshot.scroll?.y) || 0 };
    this.#applyPageScroll();
  }

  /** Removes, then adds, then attributes, then texts; anything naming an unknown node is skipped. */
  applyMutations(frame) {
    for (const { id } of frame.removes ?? []) this.#remove(id);
    for (const add of frame.adds ?? []) this.#add(add);
    for (const change of frame.attrs ?? []) {
      const node = this.#nodes.get(change.id);
      if (node?.nodeType !== Node.ELEMENT_NODE) continue;
      if (change.value == null) removeAttribute(node, change.name);
      else setAttribute(node, change.name, change.value);
      if (this.#rects.has(node)) this.#placeholder(node);
    }
    for (const change of frame.texts ?? []) {
      const node = this.#nodes.get(change.id);
      if (!node) continue;
      if (node.nodeType === Node.TEXT_NODE || node.nodeType === Node.COMMENT_NODE) node.data = change.text ?? '';
      else if (node.localName === 'style') node.textContent = change.text ?? '';
    }
  }

  /** A form control's current value, checked state or selected options. */
  applyInput(frame) {
    const node = this.#nodes.get(frame.id);
    if (node?.nodeType !== Node.ELEMENT_NODE) return;
    if (frame.value !== undefined && frame.value !== null) this.#streamValues.set(node, String(frame.value));
    if (this.#hooks.acceptInput && !this.#hooks.acceptInput(node, frame)) return;
    if (Array.isArray(frame.selected) && node.options) {
      const chosen = new Set(frame.selected);
      [...node.options].forEach((option, index) => { option.selected = chosen.has(index); });
    }
    if (frame.value !== undefined && frame.value !== null) setValue(node, frame.value);
    if (typeof frame.checked === 'boolean' && 'checked' in node) node.checked = frame.checked;
  }

  /** Follows the customer's scroll: id 0 is the page, any other id an element. */
  applyScroll(frame) {
    const position = { x: Number(frame.x) || 0, y: Number(frame.y) || 0 };
    // The agent scrolling this very thing right now wins over the customer's (older) position.
    const accepted = !this.#hooks.acceptScroll || this.#hooks.acceptScroll(frame.id);
    if (frame.id === 0) {
      this.#pageScroll = position;
      if (accepted) this.#applyPageScroll();
      return;
    }
    const node = this.#nodes.get(frame.id);
    if (node?.nodeType !== Node.ELEMENT_NODE) return;
    this.#elementScrolls.set(frame.id, position);
    if (accepted) scrollElement(node, position);
  }

  // MARK: Building

  /** A DOM node for a serialized node (its subtree included), registered under its id. */
  #build(doc, serialized, namespace, pending) {
    if (!serialized || typeof serialized !== 'object') return null;
    let node;
    switch (serialized.type) {
      case 'text':
        node = doc.createTextNode(serialized.text ?? '');
        break;
      case 'comment':
        node = doc.createComment(serialized.text ?? '');
        break;
      case 'element':
        node = this.#buildElement(doc, serialized, namespace, pending);
        break;
      default:
        return null;
    }
    if (typeof serialized.id === 'number') {
      this.#nodes.set(serialized.id, node);
      this.#ids.set(node, serialized.id);
    }
    return node;
  }

  #buildElement(doc, serialized, parentNamespace, pending) {
    const tag = String(serialized.tag ?? '').toLowerCase();
    if (!tag || INERT_TAGS.has(tag)) return doc.createComment(`cobrowse: ${tag || 'element'} not shown`);
    const namespace = tag === 'svg' ? SVG_NS : tag === 'math' ? MATHML_NS : parentNamespace;
    let element;
    try {
      element = namespace === HTML_NS
        ? doc.createElement(tag)
        : doc.createElementNS(namespace, namespace === SVG_NS ? (SVG_TAGS.get(tag) ?? tag) : tag);
    } catch {
      return doc.createComment(`cobrowse: <${tag}> not shown`);
    }
    for (const [name, value] of Object.entries(serialized.attrs ?? {})) setAttribute(element, name, value);
    const rect = serialized.rect;
    if (rect && typeof rect === 'object' && Number.isFinite(rect.w) && Number.isFinite(rect.h)) {
      this.#rects.set(element, { w: Math.max(0, rect.w), h: Math.max(0, rect.h) });
    }
    if (this.#rects.has(element) || element.hasAttribute('data-cb-masked-image') || element.hasAttribute('data-cb-blocked')) {
      this.#placeholder(element);
      pending.push({ element, placeholder: true });
    }

    // Inside <foreignObject> (SVG) and MathML's text containers, HTML resumes.
    const childNamespace = namespace === SVG_NS && tag === 'foreignobject' ? HTML_NS
      : namespace === MATHML_NS && tag === 'annotation-xml' ? HTML_NS : namespace;
    if (tag === 'style' && typeof serialized.text === 'string') {
      element.textContent = serialized.text;
    } else {
      this.#appendChildren(doc, element, serialized.children, childNamespace, pending);
    }
    if (Array.isArray(serialized.shadow)) this.#attachShadow(doc, element, serialized, childNamespace, pending);
    // A same-origin frame's document: built once the frame element is in the view (only then
    // does it have a document of its own).
    if ((tag === 'iframe' || tag === 'frame') && namespace === HTML_NS && Array.isArray(serialized.frame)) {
      pending.push({ element, frame: serialized.frame });
    }

    // Properties after the children: a <select> needs its options before its value.
    if (serialized.value !== undefined && serialized.value !== null) {
      setValue(element, serialized.value);
      this.#streamValues.set(element, String(serialized.value));
    }
    if (typeof serialized.checked === 'boolean' && 'checked' in element) element.checked = serialized.checked;
    if (serialized.scroll && typeof serialized.id === 'number') {
      pending.push({ id: serialized.id, element, position: { x: Number(serialized.scroll.x) || 0, y: Number(serialized.scroll.y) || 0 } });
    }
    return element;
  }

  #appendChildren(doc, parent, children, namespace, pending) {
    if (!Array.isArray(children)) return;
    for (const child of children) {
      const node = this.#build(doc, child, namespace, pending);
      if (node) parent.append(node);
    }
  }

  #attachShadow(doc, host, serialized, namespace, pending) {
    let root;
    try {
      root = host.shadowRoot ?? host.attachShadow({ mode: 'open' });
    } catch {
      // Not every element can host a shadow root; showing the content unstyled beats losing it.
      this.#appendChildren(doc, host, serialized.shadow, namespace, pending);
      return;
    }
    this.#appendChildren(doc, root, serialized.shadow, namespace, pending);
    for (const css of serialized.adoptedStyles ?? []) root.append(this.#adoptedStyle(doc, css));
    root.append(markerStyle(doc)); // the document's styles do not reach into a shadow root
  }

  /**
   * A blocked element or masked image: a box of the customer's size (`rect`), and for an
   * image a blank picture so it still lays out like one. Inline styles, as the page's own
   * `style` may change later (applyMutations calls this again).
   */
  #placeholder(element) {
    const rect = this.#rects.get(element);
    if (rect && element.style) {
      element.style.setProperty('width', `${rect.w}px`, 'important');
      element.style.setProperty('height', `${rect.h}px`, 'important');
      element.style.setProperty('box-sizing', 'border-box', 'important');
    }
    if (element.localName === 'img' && element.namespaceURI === HTML_NS) {
      element.removeAttribute('srcset');
      element.setAttribute('src', BLANK_IMAGE);
    }
  }

  /** Constructed stylesheets become <style> elements after the others, where they cascade. */
  #adoptedStyle(doc, css) {
    const style = doc.createElement('style');
    style.dataset.cobrowseAdopted = '';
    style.textContent = String(css);
    return style;
  }

  /** Scroll positions of new elements, once they are in the document and can scroll. */
  #finish(pending) {
    for (const { id, element, position, placeholder, frame } of pending) {
      if (frame) {
        this.#buildFrame(element, frame);
        continue;
      }
      if (placeholder) {
        // An inline box ignores width and height: a blocked <span> would have no size at all.
        const view = element.ownerDocument.defaultView;
        if (element.isConnected && view?.getComputedStyle(element).display === 'inline') {
          element.style.setProperty('display', 'inline-block', 'important');
        }
        continue;
      }
      this.#elementScrolls.set(id, position);
      scrollElement(element, position);
    }
  }

  /**
   * A frame's document from its node's `frame` (its <html>, comments): the frame element has no
   * `src` (never set), so its document is the view's own about:blank, same origin and, inside the
   * sandboxed view, without scripts. Written empty, then filled like the view itself: the
   * customer's <base>, the marker styles and the read-only guards.
   */
  #buildFrame(element, children) {
    if (!element.isConnected) return;
    let doc;
    try {
      doc = element.contentDocument;
    } catch {
      doc = null;
    }
    if (!doc) return;
    doc.open();
    doc.write('<!DOCTYPE html>');
    doc.close();
    this.#frameDocuments.set(element, doc);
    const pending = [];
    let html = null;
    const nodes = [];
    for (const child of children) {
      const node = this.#build(doc, child, HTML_NS, pending);
      if (!node) continue;
      // A document holds one element: its <html>; anything else is left out.
      if (node.nodeType === Node.ELEMENT_NODE) {
        if (html || node.localName !== 'html') {
          this.#forget(node);
          continue;
        }
        html = node;
      }
      nodes.push(node);
    }
    if (!html) {
      for (const node of nodes) this.#forget(node);
      this.#guard(doc, element);
      return;
    }
    for (const child of [...doc.childNodes]) if (child.nodeType !== Node.DOCUMENT_TYPE_NODE) child.remove();
    doc.append(...nodes);
    let head = [...html.children].find((child) => child.localName === 'head');
    if (!head) {
      head = doc.createElement('head');
      html.prepend(head);
    }
    if (this.#pageURL) {
      const base = doc.createElement('base');
      base.setAttribute('href', this.#pageURL);
      head.prepend(base);
    }
    head.append(markerStyle(doc));
    this.#guard(doc, element);
    this.#finish(pending);
  }

  // MARK: Mutations

  #remove(id) {
    const node = this.#nodes.get(id);
    if (!node) return;
    this.#forget(node);
    node.remove();
  }

  /** Drops a subtree's ids (its shadow roots included) from the map. */
  #forget(node) {
    const id = this.#ids.get(node);
    if (id !== undefined && this.#nodes.get(id) === node) {
      this.#nodes.delete(id);
      this.#elementScrolls.delete(id);
    }
    for (const child of node.childNodes) this.#forget(child);
    if (node.shadowRoot) for (const child of node.shadowRoot.childNodes) this.#forget(child);
    const frameDocument = this.#frameDocuments.get(node);
    if (frameDocument) {
      this.#frameDocuments.delete(node);
      for (const child of frameDocument.childNodes) this.#forget(child);
    }
  }

  /**
   * One add, in list order: the filter only passes adds whose parent (and `next`, when given)
   * it already knows at that point of the list, so the order is the sharer's.
   */
  #add(add) {
    if (!add?.node) return;
    const parent = this.#nodes.get(add.parent);
    if (parent?.nodeType !== Node.ELEMENT_NODE) return;
    if (this.#nodes.has(add.node.id)) this.#remove(add.node.id); // a move listed without its remove
    const pending = [];
    const node = this.#build(parent.ownerDocument, add.node, childNamespaceOf(parent), pending);
    if (!node) return;
    const next = add.next != null ? this.#nodes.get(add.next) : null;
    // `next` may live in the host's shadow root: insert where it actually is.
    const placed = next != null && (next.parentNode === parent || (parent.shadowRoot != null && next.parentNode === parent.shadowRoot));
    try {
      (placed ? next.parentNode : parent).insertBefore(node, placed ? next : null);
    } catch {
      this.#forget(node);
      return;
    }
    this.#finish(pending);
  }

  // MARK: Scroll and safety

  #applyPageScroll() {
    this.#iframe.contentWindow?.scrollTo(this.#pageScroll.x, this.#pageScroll.y);
    this.#onViewScroll();
  }

  /** Stylesheets and images change the page's height: scroll again where the customer is. */
  #reapplyScrollsSoon() {
    if (this.#reapplyPending) return;
    this.#reapplyPending = true;
    requestAnimationFrame(() => {
      this.#reapplyPending = false;
      this.#applyPageScroll();
      for (const [id, position] of this.#elementScrolls) {
        const node = this.#nodes.get(id);
        if (node) scrollElement(node, position);
      }
    });
  }

  /**
   * The view is read-only: no link, button or form acts, nothing can be typed (unless the
   * `allowInput` hook lets the lead agent type in write mode: the console sends what was typed
   * to the customer's page, and the page's answer comes back through the stream). The sandbox
   * (no scripts, no popups, no top navigation) is the first line; this covers navigation of the
   * frame itself. document.open() drops listeners, so this runs for every new document.
   */
  #guard(doc, frameElement = null) {
    const stop = (event) => event.preventDefault();
    for (const type of ['click', 'auxclick', 'dblclick', 'submit', 'dragstart', 'drop']) {
      doc.addEventListener(type, stop, true);
    }
    doc.addEventListener('beforeinput', (event) => {
      if (!this.#hooks.allowInput?.(event)) event.preventDefault();
    }, true);
    doc.addEventListener('load', this.#onLoad, true);
    if (frameElement) {
      // A frame's own scrolling is not the page's: the overlay follows the view only.
      this.#hooks.onDocument?.(doc, frameElement);
      return;
    }
    doc.defaultView?.addEventListener('load', this.#onLoad);
    doc.defaultView?.addEventListener('scroll', this.#onScroll, { passive: true });
    this.#hooks.onDocument?.(doc);
  }
}

function markerStyle(doc) {
  const style = doc.createElement('style');
  style.dataset.cobrowseMarkers = '';
  style.textContent = MARKER_CSS;
  return style;
}

function childNamespaceOf(parent) {
  const namespace = parent.namespaceURI ?? HTML_NS;
  if (namespace === SVG_NS && parent.localName === 'foreignObject') return HTML_NS;
  if (namespace === MATHML_NS && parent.localName === 'annotation-xml') return HTML_NS;
  return namespace === SVG_NS || namespace === MATHML_NS ? namespace : HTML_NS;
}

function setAttribute(element, name, value) {
  const tag = element.localName.toLowerCase();
  if (!isSafeAttribute(tag, name, value)) return;
  try {
    if (element.namespaceURI === SVG_NS) {
      const lower = name.toLowerCase();
      if (lower.startsWith('xlink:')) return element.setAttributeNS(XLINK_NS, `xlink:${lower.slice(6)}`, value);
      if (lower.startsWith('xml:')) return element.setAttributeNS(XML_NS, `xml:${lower.slice(4)}`, value);
      return element.setAttribute(SVG_ATTRIBUTES.get(lower) ?? name, value);
    }
    element.setAttribute(name, value);
  } catch {
    // Names that frameworks allow in templates but the DOM does not (e.g. "@click"): skip.
  }
}

function removeAttribute(element, name) {
  const lower = name.toLowerCase();
  if (element.namespaceURI === SVG_NS) {
    if (lower.startsWith('xlink:')) return element.removeAttributeNS(XLINK_NS, lower.slice(6));
    if (lower.startsWith('xml:')) return element.removeAttributeNS(XML_NS, lower.slice(4));
    return element.removeAttribute(SVG_ATTRIBUTES.get(lower) ?? name);
  }
  element.removeAttribute(name);
}

function setValue(element, value) {
  if (!('value' in element)) return;
  try {
    element.value = String(value);
  } catch {
    // A file input refuses any value but ''.
  }
}

function scrollElement(element, { x, y }) {
  element.scrollLeft = x;
  element.scrollTop = y;
}
