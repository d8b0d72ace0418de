// Agent actions: what the masking filter let through, done here only in write mode and only
// where the rules allow it: the second gate, in case the filter's view is behind. A refusal is
// silent for the customer (the filter told the agent).
import { UNTYPABLE_INPUT_TYPES } from './built-in-rules.js';
import { Masking } from './masking.js';
import { everAlwaysMasked } from './password-history.js';

/** Inputs the agent does not type into: choices (clicked instead), files, buttons, secrets. */
const UNTYPABLE_INPUTS = new Set(UNTYPABLE_INPUT_TYPES);
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

export class AgentActions {
  /**
   * @param share the ShareSession: its mode, mirror, serializer and rules
   * @param nativeValueSetters the value setters as the browser made them, taken by cobrowse.js when
   *   it ran (the observer wraps them later on this page)
   */
  constructor(share, nativeValueSetters) {
    this.share = share;
    this.nativeValueSetters = nativeValueSetters;
  }

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
        setFieldValue(element, String(action.value), this.nativeValueSetters);
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
        // A field whose value is masked (named like a secret): the agent does not type what it cannot see.
        return this.untouchable(element) || (this.valueMasked(element) ? 'masked' : null) ||
          (typeof action.value !== 'string' ? 'no-value' : null) || (isTypable(element) ? null : 'not-a-field');
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

  valueMasked(element) {
    const masking = this.share.masking || DEFAULT_MASKING;
    return this.share.observer.serializer.isValueMasked(element) || (masking.valueSelector !== null && element.matches(masking.valueSelector));
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
function setFieldValue(element, value, nativeValueSetters) {
  if (typeof element.focus === 'function') element.focus({ preventScroll: true });
  const type = element.localName === 'textarea' ? HTMLTextAreaElement
    : element.localName === 'select' ? HTMLSelectElement
      : element.localName === 'input' ? HTMLInputElement : null;
  if (type) nativeValueSetters.get(type).call(element, value);
  else element.textContent = value; // contenteditable: the agent's copy sends its text
  element.dispatchEvent(new Event('input', { bubbles: true, composed: true }));
  element.dispatchEvent(new Event('change', { bubbles: true }));
}
