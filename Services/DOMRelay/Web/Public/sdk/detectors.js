// PII detectors: personal data found in free text (text nodes, attribute values, input values)
// and masked there whatever the rules say, here and again by the masking filter. The table (names,
// patterns, checks) is the filter's own (BuiltInTables.detectors, served in built-in-rules.js);
// this file only applies it, the way PIIRedactor does in Swift.
import { PII_DETECTORS } from './built-in-rules.js';

const MASK = '****';
const COMPILED = new Map(PII_DETECTORS.map((detector) => [detector.name, { ...detector, regex: new RegExp(detector.pattern, 'g') }]));

const digitsOf = (text) => text.replace(/[^0-9]/g, '');

function luhn(text) {
  const digits = digitsOf(text);
  if (digits.length < 13 || digits.length > 19) return false;
  let sum = 0;
  for (let index = 0; index < digits.length; index += 1) {
    let value = Number(digits[digits.length - 1 - index]);
    if (index % 2 === 1) value *= 2;
    sum += value > 9 ? value - 9 : value;
  }
  return sum % 10 === 0;
}

function iban(text) {
  const compact = text.replace(/ /g, '');
  if (compact.length < 15 || compact.length > 34) return false;
  let remainder = 0;
  for (const character of compact.slice(4) + compact.slice(0, 4)) {
    const code = character.charCodeAt(0);
    if (code >= 48 && code <= 57) remainder = (remainder * 10 + (code - 48)) % 97;
    else if (code >= 65 && code <= 90) remainder = (remainder * 100 + (code - 55)) % 97;
    else return false;
  }
  return remainder === 1;
}

/** The part of a match its check confirms (an IBAN may lose trailing groups), or null. */
function confirm(match, check) {
  switch (check) {
    case 'luhn': return luhn(match) ? match : null;
    case 'phone-digits': {
      const count = digitsOf(match).length;
      return count >= 7 && count <= 15 ? match : null;
    }
    case 'iban': {
      let candidate = match;
      for (;;) {
        if (iban(candidate)) return candidate;
        const space = candidate.lastIndexOf(' ');
        if (space < 0) return null;
        candidate = candidate.slice(0, space);
      }
    }
    default: return match;
  }
}

/** Every detector needs an `@` or seven digits: most text is passed over at once. */
function mayContainAny(text) {
  let digits = 0;
  for (let index = 0; index < text.length; index += 1) {
    const code = text.charCodeAt(index);
    if (code === 64) return true;
    if (code >= 48 && code <= 57 && ++digits >= 7) return true;
  }
  return false;
}

/** The names of every detector, in the order they run. */
export const DETECTOR_NAMES = PII_DETECTORS.map((detector) => detector.name);

/**
 * Masks what the enabled detectors find in `text`; adds each detector's hits to `hits`
 * (an object by name). Text that is not a string is returned as it is.
 */
export function redact(text, enabled, hits) {
  if (typeof text !== 'string' || enabled.length === 0 || !mayContainAny(text)) return text;
  let result = text;
  for (const name of enabled) {
    const detector = COMPILED.get(name);
    if (!detector) continue;
    detector.regex.lastIndex = 0;
    let output = '';
    let last = 0;
    let found = false;
    for (const match of result.matchAll(detector.regex)) {
      const confirmed = confirm(match[0], detector.check);
      if (confirmed === null) continue;
      output += result.slice(last, match.index) + MASK;
      last = match.index + confirmed.length;
      found = true;
      if (hits) hits[name] = (hits[name] || 0) + 1;
    }
    if (found) result = output + result.slice(last);
  }
  return result;
}
