// Translate: the one lookup behind every sentence the SDK and the agent console show. A
// catalogue maps keys to messages; a message is a string with `{name}` placeholders, or, for a
// sentence about a number, one string per plural category of the language (`one`, `other`, …;
// `other` always there) picked by the `count` placeholder. The SDK (sdk/i18n/languages.js) and
// the console (agent/i18n/languages.js) each have their catalogues and their rule for the language.

/** What every catalogue has, and what is shown where another catalogue lacks a key. */
export const FALLBACK_LANGUAGE = 'en';

/**
 * The first of `wanted` (language tags, most wanted first: 'ja-JP', 'en') that one of
 * `available` (the catalogues' languages) serves, by BCP 47 prefix: 'ja-JP' and 'ja-Hira' get
 * 'ja'; case does not matter. Null when none does.
 */
export function matchLanguage(wanted, available) {
  for (const tag of wanted) {
    if (typeof tag !== 'string') continue;
    const subtags = tag.trim().toLowerCase().replace(/_/g, '-').split('-');
    // 'zh-Hant-TW' tries zh-hant-tw, then zh-hant, then zh.
    for (let length = subtags.length; length > 0; length -= 1) {
      const candidate = subtags.slice(0, length).join('-');
      const found = available.find((language) => language.toLowerCase() === candidate);
      if (found) return found;
    }
  }
  return null;
}

/** The placeholders a message uses ({name} → 'name'), sorted; for a plural message, those of all its forms. */
export function placeholders(message) {
  const texts = typeof message === 'string' ? [message] : Object.values(message || {});
  const names = new Set();
  for (const text of texts) for (const [, name] of String(text).matchAll(/\{(\w+)\}/g)) names.add(name);
  return [...names].sort();
}

const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };

/** Text made safe to put into HTML markup (element content or a quoted attribute). */
export function escapeHTML(text) {
  return String(text).replace(/[&<>"']/g, (character) => HTML_ESCAPES[character]);
}

/**
 * The sentences of `language` from `catalogues` ({ en: {...}, ja: {...} }); a key the
 * language lacks comes from the fallback language, an unknown key is shown as itself (and
 * warned about). Returns `t(key, values)`, with `t.language`, `t.has(key)`, `t.html(key, values)` (escaped
 * for markup) and `t.around(key, name, values)` (the text before and after one placeholder,
 * for a sentence with an element in it).
 */
export function translator(catalogues, language) {
  const chosen = Object.prototype.hasOwnProperty.call(catalogues, language) ? language : FALLBACK_LANGUAGE;
  const own = catalogues[chosen];
  const fallback = catalogues[FALLBACK_LANGUAGE];
  const plurals = typeof Intl === 'object' && Intl.PluralRules ? new Intl.PluralRules(chosen) : null;

  const message = (key, values) => {
    let entry = Object.prototype.hasOwnProperty.call(own, key) ? own[key] : undefined;
    if (entry === undefined && Object.prototype.hasOwnProperty.call(fallback, key)) entry = fallback[key];
    if (entry === undefined) {
      console.warn(`co-browse: no message ${JSON.stringify(key)}`);
      return key;
    }
    if (typeof entry === 'string') return entry;
    const count = Number(values && values.count);
    const category = plurals && Number.isFinite(count) ? plurals.select(count) : 'other';
    return Object.prototype.hasOwnProperty.call(entry, category) ? entry[category] : entry.other;
  };
  const fill = (text, values) => text.replace(/\{(\w+)\}/g, (whole, name) =>
    (values && Object.prototype.hasOwnProperty.call(values, name) ? String(values[name]) : whole));

  const t = (key, values) => fill(message(key, values), values);
  t.language = chosen;
  /** Whether there is a message for `key` (a code has its own sentence, or the general one is used). */
  t.has = (key) => Object.prototype.hasOwnProperty.call(own, key) || Object.prototype.hasOwnProperty.call(fallback, key);
  t.html = (key, values) => escapeHTML(t(key, values));
  t.around = (key, name, values) => {
    const [before, ...after] = message(key, values).split(`{${name}}`);
    return [fill(before, values), fill(after.join(`{${name}}`), values)];
  };
  return t;
}
