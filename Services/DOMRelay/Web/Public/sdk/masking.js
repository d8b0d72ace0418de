// Masking: one set of rules for this page (the relay's, or the built-ins), applied here and
// again by masking-filter; what a masked or blocked element keeps of its text and attributes.

export const MASK = '****';

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
export const BLOCKED_ATTRIBUTES = new Set(['id', 'class', 'style', 'width', 'height', 'data-cobrowse-block']);
export const IMAGE_SOURCE_ATTRIBUTES = new Set(['src', 'srcset', 'sizes']);
const DEFAULT_CUSTOMER_MARK = 'outline: 2px dashed rgba(124,58,237,.55); outline-offset: 2px';

/** An element's own status (bits): what a change of rules or attributes can flip. */
export const OWN_MASKED = 1;
export const OWN_BLOCKED = 2;
export const OWN_MASKED_IMAGE = 4;
/** Matched by `maskImages` without being an image (a <picture>, a gallery): every image inside is masked. */
export const OWN_MASKS_IMAGES = 8;
const NO_AGENT_MARKERS = ['[data-cobrowse-noagent]', '.cobrowse-noagent'];
/** The customer can always submit; the agent never does it for them. */
const NO_AGENT_DEFAULTS = ['input[type=submit i]', 'input[type=image i]', 'button[type=submit i]', 'form button:not([type])'];
/** Elements that were ever always-masked (a password field, say): they stay masked on this page. */
export const everAlwaysMasked = new WeakSet();

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
export class Masking {
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

export function maskedText(text) {
  return /\S/.test(text) ? MASK : text;
}

export function maskedValue(value) {
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
