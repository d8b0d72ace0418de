// The page's masking rules, fetched from the relay that served the SDK (null when they
// cannot be had: the built-ins apply), for the page's address as the rules see it.

const RULES_TIMEOUT_MS = 5000;

/** The page's address as the rules see it (the fragment is left out: it may hold tokens). */
export function pageURL() {
  return location.href.split('#')[0];
}

/** The page's rules from the relay that served this script; null when they cannot be had. */
export function fetchRules(url) {
  const address = new URL('/cobrowse/rules', import.meta.url);
  address.searchParams.set('url', url);
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), RULES_TIMEOUT_MS);
  return fetch(address.href, { credentials: 'omit', cache: 'no-store', signal: controller.signal })
    .then((response) => (response.ok ? response.json() : null))
    .catch(() => null)
    .then((rules) => {
      clearTimeout(timer);
      if (!rules) console.warn('CoBrowse: no masking rules from the relay; the built-in ones apply');
      return rules;
    });
}
