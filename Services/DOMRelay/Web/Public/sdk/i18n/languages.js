// The SDK's languages: its catalogues, and which one a session speaks (docs/sdk.md, "Languages").
import { matchLanguage, translator, FALLBACK_LANGUAGE } from './translate.js';
import en from './en.js';
import ja from './ja.js';

/** The SDK's catalogues by language tag. A new language: a file like en.js, added here. */
export const CATALOGUES = Object.freeze({ en, ja });

/**
 * The language of this page's session: the `language` option of CoBrowse.start/startWithCode
 * when the SDK has it, else the page's `<html lang>`, else English; 'ja-JP' gets 'ja'.
 */
export function sdkLanguage(option) {
  const available = Object.keys(CATALOGUES);
  if (option !== undefined && option !== null) {
    if (typeof option !== 'string') console.warn('CoBrowse: language must be a language tag such as "ja"; ignored');
    else if (matchLanguage([option], available)) return matchLanguage([option], available);
    else console.warn(`CoBrowse: no messages in ${JSON.stringify(option)}; using the page's language or English`);
  }
  return matchLanguage([document.documentElement.lang], available) || FALLBACK_LANGUAGE;
}

/** The sentences for a session: `t(key, values)` in the language sdkLanguage(option) picks. */
export function sdkTranslator(option) {
  return translator(CATALOGUES, sdkLanguage(option));
}
