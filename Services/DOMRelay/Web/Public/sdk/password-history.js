// Password history: the page's fields that were ever always-masked (a password field, say),
// which stay masked on this page whatever their type becomes. cobrowse.js starts the record
// when the page loads, before any session (a "show password" toggle may come before sharing
// does), and hands it over with usePasswordHistory; masking.js reads and adds to it, and the
// observer adds the fields its own mutation records show were password fields.

/** Elements that were ever always-masked on this page (a live binding: usePasswordHistory replaces it). */
export let everAlwaysMasked = new WeakSet();
/** Takes the records cobrowse.js's type watch has not delivered yet (before a snapshot). */
let catchUpHistory = () => {};

/** The page's record of password fields, kept by cobrowse.js from the page's load: { everPassword, catchUp }. */
export function usePasswordHistory(history) {
  if (!history || !(history.everPassword instanceof WeakSet)) return;
  everAlwaysMasked = history.everPassword;
  catchUpHistory = typeof history.catchUp === 'function' ? history.catchUp : () => {};
}

/** Brings the record of password fields up to date (the type changes not yet delivered). */
export function catchUpPasswordHistory() {
  catchUpHistory();
}

/** Fields that mutation records show were password fields (a `type` whose old value was password). */
export function notePasswordToggles(records) {
  for (const record of records) {
    if (record.type === 'attributes' && record.attributeName === 'type' && record.target.localName === 'input' &&
        typeof record.oldValue === 'string' && record.oldValue.toLowerCase() === 'password') {
      everAlwaysMasked.add(record.target);
    }
  }
}
