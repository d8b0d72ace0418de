// Selector: proposes CSS selectors for an element that the masking rules accept (the subset of
// docs/masking.md: type, #id, .class, [attr="v"], descendant and child combinators), most
// stable and shortest first, each with how many elements of the page it matches.

/** What a bare identifier may look like: the rules take no CSS escapes. */
const IDENTIFIER = /^-?[_a-zA-Z][_a-zA-Z0-9-]*$/;
/** Ids and classes a build or a framework makes up, which change from one release to the next. */
const GENERATED = /\d{3,}|^[a-f0-9]{6,}$|^(css|sc|jsx|svelte|ember|ng|react|tw|_)-|__[a-zA-Z0-9]{5,}$/;
/** Classes that say a state, not what the element is. */
const STATE_CLASS = /^(is|has)-|^(active|hover|focus|focused|selected|open|opened|closed|visible|hidden|disabled|checked|current|show|in|collapsed|expanded)$/;
/** Attributes that name an element for people or tests, in order of preference. */
const NAMING_ATTRIBUTES = ['data-testid', 'data-test', 'data-qa', 'data-cy', 'name', 'aria-label', 'for', 'alt', 'title', 'role', 'type'];
/** Ancestors worth naming by their tag alone. */
const LANDMARK_TAGS = new Set(['form', 'table', 'main', 'nav', 'header', 'footer', 'aside', 'section', 'article', 'dialog', 'fieldset', 'ul', 'ol']);
const MAX_PROPOSALS = 6;
const MAX_ANCESTORS = 5;

function isStable(name) {
  return IDENTIFIER.test(name) && !GENERATED.test(name);
}

/** A value that fits in `[attr="…"]` without escapes, and is short enough to read. */
function isQuotable(value) {
  return typeof value === 'string' && value.length > 0 && value.length <= 60 && !/["\\\n\r]/.test(value);
}

/** Selectors of the element alone, cheapest and most telling first. */
function compounds(element) {
  const tag = element.localName;
  const result = [];
  if (element.id && isStable(element.id)) result.push(`#${element.id}`);
  for (const name of NAMING_ATTRIBUTES) {
    const value = element.getAttribute(name);
    if (!isQuotable(value)) continue;
    result.push(name.startsWith('data-') ? `[${name}="${value}"]` : `${tag}[${name}="${value}"]`);
  }
  const classes = [...element.classList].filter((name) => isStable(name) && !STATE_CLASS.test(name));
  for (const name of classes) result.push(`.${name}`, `${tag}.${name}`);
  for (let i = 0; i < classes.length; i += 1) {
    for (let j = i + 1; j < classes.length; j += 1) result.push(`${tag}.${classes[i]}.${classes[j]}`);
  }
  result.push(tag);
  return result;
}

/** How many elements `selector` matches in `root`, and whether `element` is one; null if the browser refuses it. */
function matches(selector, element, root) {
  try {
    const found = root.querySelectorAll(selector);
    return { count: found.length, includes: [...found].includes(element) };
  } catch {
    return null;
  }
}

/**
 * Selectors for `element` in the rules' subset, best first: those that match it alone (an id
 * first, then naming attributes and classes, then paths through ancestors, a bare tag name
 * last; shortest first within each), then those that match it with others (fewest first).
 * Each is `{ selector, count }`.
 */
export function proposeSelectors(element, root = element.ownerDocument) {
  const found = new Map();
  const consider = (selector) => {
    if (found.has(selector)) return;
    const result = matches(selector, element, root);
    if (result && result.includes) found.set(selector, result.count);
  };
  const own = compounds(element);
  own.forEach(consider);
  // Not unique alone: say where it is, by the nearest ancestors that have a name.
  let ancestor = element.parentElement;
  for (let depth = 0; ancestor && ancestor !== root.documentElement && depth < MAX_ANCESTORS; depth += 1) {
    if ([...found.values()].includes(1)) break;
    const named = compounds(ancestor).filter((selector) => selector !== ancestor.localName || LANDMARK_TAGS.has(selector));
    for (const outer of named) {
      for (const inner of own) {
        if (depth === 0) consider(`${outer} > ${inner}`);
        consider(`${outer} ${inner}`);
      }
    }
    ancestor = ancestor.parentElement;
  }
  const unique = (a) => (a.count === 1 ? 0 : 1);
  return [...found.entries()]
    .map(([selector, count]) => ({ selector, count }))
    .sort((a, b) => unique(a) - unique(b) || (a.count !== 1 && a.count - b.count) || stability(a.selector) - stability(b.selector)
      || a.selector.length - b.selector.length)
    .slice(0, MAX_PROPOSALS);
}

/**
 * How likely a selector is to keep matching the same element as the site changes (lower is
 * better): an id; a naming attribute or a class; a path through ancestors; a bare tag name,
 * which the next element of that kind added to the page also matches.
 */
function stability(selector) {
  if (/^#[^ >.[]+$/.test(selector)) return 0;
  if (/^[a-z0-9-]*$/.test(selector)) return 3;
  return selector.includes(' ') ? 2 : 1;
}

/** How many elements a selector matches (null: the browser cannot parse it). */
export function countMatches(selector, root = document) {
  try {
    return root.querySelectorAll(selector).length;
  } catch {
    return null;
  }
}
