// Serialize: DOM → the protocol's nodes, under the page's masking; scripts, handlers and
// secrets stay behind. Remembers each sent node's status so later changes are masked alike.
import { DROPPED_ELEMENTS, UNRENDERED_ELEMENTS, RESOLVED_URL_ATTRIBUTES, URL_ATTRIBUTES as SCRIPT_URL_LIST } from './built-in-rules.js';
import { Masking, BLOCKED_ATTRIBUTES, IMAGE_SOURCE_ATTRIBUTES, OWN_MASKED, OWN_BLOCKED, OWN_MASKED_IMAGE, OWN_MASKS_IMAGES,
  OWN_VALUE_MASKED, OWN_UNMASKED, maskedText, maskedValue } from './masking.js';
import { isFrameElement, readableFrameDocument } from './frames.js';
import { isMarkSheet } from './customer-mark.js';
import { viewportState } from './visual-viewport.js';

/**
 * Elements never sent, with everything inside them: scripts, and what the masking filter
 * removes anyway (plugins, <base>, SVG animations, which can set any attribute of their target).
 */
const SKIPPED_TAGS = new Set([...DROPPED_ELEMENTS, ...UNRENDERED_ELEMENTS]);
/** Attributes whose relative URLs are made absolute, so the agent's copy loads the same files. */
const URL_ATTRIBUTES = new Set(RESOLVED_URL_ATTRIBUTES);
/** Attributes holding a URL the agent's browser would follow or load: never a script URL. */
const SCRIPT_URL_ATTRIBUTES = new Set(SCRIPT_URL_LIST);

/** Rounded border-box size: what the agent sees instead of a blocked element or a masked image. */
function renderedSize(element) {
  const box = element.getBoundingClientRect();
  return { w: Math.round(box.width), h: Math.round(box.height) };
}

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
 * Value-masked (an input named like a secret): its value only.
 */
export function controlState(element, node, masked, valueMasked = false, redact = (text) => text) {
  switch (element.localName) {
    case 'input': {
      const type = (element.getAttribute('type') || 'text').toLowerCase();
      if (type === 'checkbox' || type === 'radio') {
        if (!masked) node.checked = element.checked;
      } else if (type !== 'file') {
        node.value = masked || valueMasked ? maskedValue(element.value) : redact(element.value);
      }
      break;
    }
    case 'textarea':
    case 'select':
      node.value = masked ? maskedValue(element.value) : redact(element.value);
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
export class Serializer {
  constructor(mirror, isOwnNode, onShadowRoot, onFrameDocument = () => {}) {
    this.mirror = mirror;
    this.isOwnNode = isOwnNode;
    this.onShadowRoot = onShadowRoot;
    this.onFrameDocument = onFrameDocument;
    this.masking = new Masking(null);
    /**
     * Whether layout may be read: true for snapshots; false while a change is serialized in the
     * MutationObserver callback, where any layout read would force a layout of the page. Then
     * scroll positions are not read (a node scrolled after it was added fires `scroll` events,
     * which the observer sends), and blocked elements and masked images, which need their
     * rendered size, are left out and kept in `needLayout` for the observer to send later.
     */
    this.readsLayout = true;
    this.reset();
  }

  /** Forgets every node's status (a snapshot follows). */
  reset() {
    this.masked = new WeakSet();
    /** Masked nodes masked by private mode only (a subset of `masked`). */
    this.privateMasked = new WeakSet();
    this.valueMasked = new WeakSet();
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
    /** Elements left out of a change because they need layout (see `readsLayout`), in order. */
    this.needLayout = [];
  }

  isMasked(node) { return this.masked.has(node); }
  /**
   * What a node passes on to what is added inside it: true (masked by a rule, a marker or a
   * built-in), 'private' (by private mode only: `unmask` undoes it) or false.
   */
  maskState(node) { return this.masked.has(node) ? (this.privateMasked.has(node) ? 'private' : true) : false; }
  /** An input whose value alone is masked (named like a secret); masked ones are not in here. */
  isValueMasked(node) { return this.valueMasked.has(node); }
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
        node.text = domNode.nodeType === Node.TEXT_NODE ? this.masking.redact(domNode.data) : domNode.data;
        if (masked) {
          this.masked.add(domNode);
          if (masked === 'private') this.privateMasked.add(domNode);
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
    if (this.masked.has(domNode)) return maskedText(domNode.data);
    return domNode.nodeType === Node.TEXT_NODE ? this.masking.redact(domNode.data) : domNode.data;
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
    const tag = element.localName;
    // As the filter classifies: images (and a <picture>'s sources) inside masked content or
    // inside a `maskImages` element are masked images, and a masked image is masked content.
    const maskedImage = (own & OWN_MASKED_IMAGE) !== 0 || ((tag === 'img' || tag === 'source') &&
      (inheritedMasked || parentImagesMasked || (own & OWN_MASKED) !== 0));
    if (!this.readsLayout && ((own & OWN_BLOCKED) !== 0 || (maskedImage && tag === 'img'))) {
      // Its size needs layout: nothing of it is sent (nor recorded) until the observer's next pass.
      this.needLayout.push(element);
      return null;
    }
    if (own) this.statuses.set(element, own);
    const node = { id: this.mirror.assign(element), type: 'element', tag, attrs: {} };
    // Masked by a rule (true), or by private mode only ('private': from the root down, but not
    // under `unmask`, and never a <style>'s CSS), as the masking filter's MaskedTree.classify does.
    const byRule = inheritedMasked === true || maskedImage || (own & OWN_MASKED) !== 0;
    const byMode = this.masking.privateMode && (own & OWN_UNMASKED) === 0 && tag !== 'style' &&
      (inheritedMasked === 'private' || element === document.documentElement);
    const masked = byRule ? true : (byMode ? 'private' : false);
    if (masked) {
      this.masked.add(element);
      if (masked === 'private') this.privateMasked.add(element);
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
    const valueMasked = !masked && (own & OWN_VALUE_MASKED) !== 0;
    if (valueMasked) this.valueMasked.add(element);
    this.attributes(element, node);
    if (maskedImage && tag === 'img') node.rect = renderedSize(element);
    controlState(element, node, masked, valueMasked, (text) => this.masking.redact(text));
    const children = this.children(element.childNodes, masked, imagesMasked);
    if (children.length) node.children = children;
    if (element.localName === 'style' && element.sheet) {
      // Rules added through the CSSOM (insertRule, CSS-in-JS) are not in the element's text.
      const css = cssText(element.sheet);
      if (css !== null && element.textContent.trim() === '' && css !== '') node.text = masked ? maskedText(css) : css;
    }
    if (this.readsLayout && (element.scrollTop || element.scrollLeft)) node.scroll = { x: element.scrollLeft, y: element.scrollTop };
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
    if (sent !== undefined && lower === 'value' && this.valueMasked.has(element)) return maskedValue(sent);
    if (sent === undefined) return sent;
    if (!this.masked.has(element)) return this.masking.redact(sent);
    return this.masking.maskedAttribute(lower, sent, element.localName);
  }

  /**
   * Whether any sent element's own status differs from when it was sent: an attribute
   * change made it masked or blocked (or no longer). Then only a snapshot is right.
   * @param targets the elements whose attributes changed, or null to check the whole page.
   *   When the rules match by an element's own and its ancestors' attributes only (`local`), a
   *   change can alter the status of its element and of what is inside it, nothing else: only
   *   those are matched again, not the page.
   */
  statusChanged(targets = null) {
    const checked = new Set();
    const differs = (element) => {
      if (checked.has(element) || !this.mirror.has(element)) return false;
      checked.add(element);
      return this.masking.own(element) !== (this.statuses.get(element) || 0);
    };
    if (targets && this.masking.local) {
      for (const target of targets) {
        if (differs(target)) return true;
        for (const element of target.querySelectorAll(this.masking.anySelector)) if (differs(element)) return true;
      }
      // Those that had a status and may have lost it.
      for (const element of this.statuses.keys()) if (hasAncestorOrSelfIn(element, targets) && differs(element)) return true;
      return false;
    }
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

function hasAncestorOrSelfIn(element, set) {
  for (let current = element; current; current = current.parentNode) if (set.has(current)) return true;
  return false;
}

export function adoptedStyles(root) {
  return Array.from(root.adoptedStyleSheets || [], (sheet) => (isMarkSheet(sheet) ? null : cssText(sheet))).filter((css) => css);
}

/**
 * The whole page under the serializer's masking, as a `snapshot` frame without its `seq`
 * (docs/stream-protocol.md); `stream` names the sharer connection. The serializer forgets
 * every node's status first: this copy starts the sequence again.
 */
export function snapshotFrame(serializer, stream) {
  serializer.reset();
  const root = serializer.node(document.documentElement);
  // The tab title is the <title>'s text: masked with it (any masked <title>, as the filter
  // decides), or with the whole page.
  const frame = {
    t: 'snapshot', stream, url: location.href,
    title: serializer.titleMasked || serializer.masking.maskPage ? maskedText(document.title) : document.title,
    doctype: document.doctype ? document.doctype.name : null,
    viewport: viewportState(),
    scroll: { x: window.scrollX, y: window.scrollY },
    root,
  };
  const adopted = adoptedStyles(document);
  if (adopted.length) frame.adoptedStyles = adopted;
  return frame;
}
