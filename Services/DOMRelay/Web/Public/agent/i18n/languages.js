// The agent console's languages: its catalogues, the language it speaks (the agent's browser's,
// docs/agent-console.md "Language"), and the page's words put in place from index.html's hooks.
import { matchLanguage, translator, FALLBACK_LANGUAGE } from '../../sdk/i18n/translate.js';
import en from './en.js';
import ja from './ja.js';

/** The console's catalogues by language tag. A new language: a file like en.js, added here. */
export const CATALOGUES = Object.freeze({ en, ja });

/** The first of the browser's languages (`navigator.languages`, most wanted first) the console has, else English. */
export function consoleLanguage(wanted = navigator.languages && navigator.languages.length ? navigator.languages : [navigator.language]) {
  return matchLanguage(wanted, Object.keys(CATALOGUES)) || FALLBACK_LANGUAGE;
}

/** The console's sentences: `t(key, values)` in the agent's language. */
export const t = translator(CATALOGUES, consoleLanguage());

/** index.html's hooks: the attribute naming a key, and what of the element it fills. */
const HOOKS = [
  ['data-i18n', (element, text) => { element.textContent = text; }],
  ['data-i18n-label', (element, text) => element.setAttribute('aria-label', text)],
  ['data-i18n-title', (element, text) => element.setAttribute('title', text)],
  ['data-i18n-placeholder', (element, text) => element.setAttribute('placeholder', text)],
];

/**
 * Puts the page's words in place in the console's language and sets `<html lang>` to it (so
 * screen readers pronounce it right): every element with a hook gets its key's text.
 */
export function localizePage(root = document) {
  document.documentElement.lang = t.language;
  for (const [attribute, apply] of HOOKS) {
    for (const element of root.querySelectorAll(`[${attribute}]`)) apply(element, t(element.getAttribute(attribute)));
  }
}
