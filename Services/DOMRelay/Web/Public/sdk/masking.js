// Masking: one set of rules for this page (the relay's, or the built-ins), applied here and
// again by masking-filter; what a masked or blocked element keeps of its text and attributes.
// The fields that ever were password fields stay masked (password-history.js keeps them).
// The built-in tables the filter shares (always-masked fields, secret-sounding field hints,
// what masked and blocked elements keep) come from the relay, generated from the Swift source of
// truth (BuiltInTables): this file keeps no copy of them.
import {
  SECRET_FIELD_HINTS, ALWAYS_MASKED_AUTOCOMPLETE, ALWAYS_MASKED_INPUT_TYPES, MASKED_ATTRIBUTES as MASKED_ATTRIBUTE_LIST,
  DROPPED_WHEN_MASKED as DROPPED_WHEN_MASKED_LIST, BLOCKED_KEEPS, IMAGE_SOURCE_ATTRIBUTES as IMAGE_SOURCE_LIST,
  MASK_MARKERS, BLOCK_MARKERS, NO_AGENT_MARKERS, NO_AGENT_DEFAULTS, DEFAULT_CUSTOMER_MARK,
} from './built-in-rules.js';
import { DETECTOR_NAMES, redact } from './detectors.js';
import { everAlwaysMasked } from './password-history.js';

export const MASK = '****';

/** A string as a CSS string's content (the lists come from the relay: never trusted to be plain). */
const cssString = (text) => String(text).replace(/["\\\n]/g, (character) => (character === '\n' ? '\\a ' : `\\${character}`));
const listOf = (value) => (Array.isArray(value) ? value.filter((item) => typeof item === 'string' && item !== '') : []);
/** Masked whatever the rules say; once masked, an element stays masked (a "show password" toggle reveals nothing). */
const ALWAYS_MASKED = [...listOf(ALWAYS_MASKED_INPUT_TYPES).map((type) => `input[type="${cssString(type)}" i]`),
  ...listOf(ALWAYS_MASKED_AUTOCOMPLETE).map((token) => `[autocomplete~="${cssString(token)}" i]`)];
/**
 * Inputs whose name, id or autocomplete sounds like a secret (pass, pin, cvv, …): their values
 * are masked, and nothing else of them (a value-masked field, OWN_VALUE_MASKED).
 */
const SECRET_HINTED = listOf(SECRET_FIELD_HINTS).flatMap((hint) =>
  ['name', 'id', 'autocomplete'].map((attribute) => `input[${attribute}*="${cssString(hint)}" i]`));
/** Attributes of masked elements sent as `****` (besides `data-*`, and `placeholder` when the rules say so). */
const MASKED_ATTRIBUTES = new Set(MASKED_ATTRIBUTE_LIST);
/** Attributes of masked elements not sent at all: a control's choice, and URLs (they name accounts, photos, documents). */
const DROPPED_WHEN_MASKED = new Set(DROPPED_WHEN_MASKED_LIST);
/** All a blocked element keeps: it shows as a box of its size, nothing of what is inside. */
export const BLOCKED_ATTRIBUTES = new Set(BLOCKED_KEEPS);
export const IMAGE_SOURCE_ATTRIBUTES = new Set(IMAGE_SOURCE_LIST);

/** An element's own status (bits): what a change of rules or attributes can flip. */
export const OWN_MASKED = 1;
export const OWN_BLOCKED = 2;
export const OWN_MASKED_IMAGE = 4;
/** Matched by `maskImages` without being an image (a <picture>, a gallery): every image inside is masked. */
export const OWN_MASKS_IMAGES = 8;
/** An input named like a secret: its value (property, `value` attribute, input frames) is masked, nothing else. */
export const OWN_VALUE_MASKED = 16;
/** Selected by `unmask` in private mode: it and what is inside are not masked by the mode. */
export const OWN_UNMASKED = 32;

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
    // Each attribute selector is taken out whole: a bracket or quote left over is one this
    // reading cannot follow (a `]` inside a quoted value, say), and makes `any`.
    const outside = selector.replace(/\[([^\]]*)\]/g, (_, inside) => {
      const name = /^\s*(?:[\w*-]*\|)?([\w-]+)/.exec(inside);
      if (name) names.add(name[1].toLowerCase());
      else any = true;
      return '';
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
    // Private mode: every text and value is masked but under `unmask` (as the masking filter's MaskedTree does).
    this.privateMode = !disabled && rules.mode === 'private';
    const unmask = this.privateMode ? list(rules.unmask) : [];
    this.unmaskSelector = unmask.length ? unmask.join(', ') : null;
    // PII detectors (detectors.js): every one unless the page's rules turn some off.
    this.detectors = disabled ? [] : (Array.isArray(rules.detectors) ? DETECTOR_NAMES.filter((name) => rules.detectors.includes(name))
      : DETECTOR_NAMES);
    /** What each detector masked on this page so far, by name. */
    this.detectorHits = {};
    // Not masking: which elements the agent may not act on (checked in any case, even disabled).
    this.noAgentSelector = [...NO_AGENT_MARKERS, ...NO_AGENT_DEFAULTS, ...list(rules.noAgent)].join(', ');
    this.maskSelector = mask.join(', ');
    this.alwaysSelector = ALWAYS_MASKED.join(', ');
    this.imageSelector = images.length ? images.join(', ') : null;
    this.blockSelector = block.join(', ');
    const hinted = SECRET_HINTED.filter(validSelector);
    this.valueSelector = hinted.length ? hinted.join(', ') : null;
    this.anySelector = [this.maskSelector, this.alwaysSelector, this.blockSelector, this.imageSelector, this.valueSelector,
      this.unmaskSelector].filter(Boolean).join(', ');
    this.dependencies = selectorDependencies([...mask, ...images, ...block, ...hinted, ...unmask]);
    // What the customer sees on the fields the agent does not: masked, masked images, blocked.
    const mark = typeof rules.customerMark === 'string' ? rules.customerMark.trim() : DEFAULT_CUSTOMER_MARK;
    /** The mark's CSS declarations (the site's, or the default), or null when fields are not marked. */
    this.markDeclarations = disabled || mark === 'none' || mark === '' ? null : (/[{}<]/.test(mark) ? DEFAULT_CUSTOMER_MARK : mark);
    this.markCSS = this.markDeclarations === null ? null
      : `:is(${[...mask, ...ALWAYS_MASKED, ...hinted, ...images, ...block].join(', ')}) { ${this.markDeclarations} }`;
  }

  /** Free text (a text node's, an attribute's or a field's value) with the PII the detectors find masked. */
  redact(text) {
    return redact(text, this.detectors, this.detectorHits);
  }

  /** The element's own status bits (not inherited from its ancestors). */
  own(element) {
    if (this.disabled || (!element.matches(this.anySelector) && !everAlwaysMasked.has(element))) return 0;
    let bits = 0;
    if (element.matches(this.alwaysSelector)) everAlwaysMasked.add(element);
    if (everAlwaysMasked.has(element) || element.matches(this.maskSelector)) bits |= OWN_MASKED;
    if (element.matches(this.blockSelector)) bits |= OWN_BLOCKED;
    if (this.imageSelector && element.matches(this.imageSelector)) bits |= element.localName === 'img' ? OWN_MASKED_IMAGE : OWN_MASKS_IMAGES;
    if (this.valueSelector && element.matches(this.valueSelector)) bits |= OWN_VALUE_MASKED;
    if (this.unmaskSelector && element.matches(this.unmaskSelector)) bits |= OWN_UNMASKED;
    return bits;
  }

  /** Whether a change of this attribute may change what the rules match. */
  watches(attributeName) {
    return !this.disabled && (this.dependencies.any || this.dependencies.names.has(attributeName.toLowerCase()));
  }

  get structural() { return !this.disabled && this.dependencies.structural; }

  /**
   * Whether what the rules match in an element depends only on its own attributes and its
   * ancestors' (no pseudo-classes, no sibling combinators): then an attribute change can
   * change the status of its element and its descendants only.
   */
  get local() { return !this.dependencies.any && !this.dependencies.structural; }

  /**
   * A masked element's attribute as sent (lower-case name, value already safe), or undefined
   * when it is not sent: content masked, choices and URLs left out, images in inline styles
   * removed. The masking filter does exactly this (MaskedTree.rendered).
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
