// The end notice: once a session is over and everything else is gone, one sentence telling the
// customer who ended co-browsing or why, in a host of its own (#cobrowse-ended, open shadow
// root), for a few seconds or until its close button is clicked. Then nothing is left.

/** What the customer is told, by the registry's end reason. */
const SENTENCES = {
  'customer-exited': 'You ended co-browsing.',
  'agent-exited': 'The agent ended co-browsing.',
  'interaction-ended': 'Co-browsing ended because your conversation with us ended.',
  'interaction-transferred': 'Co-browsing ended because your conversation was transferred to another agent.',
  'interaction-conferenced': 'Co-browsing ended because more people joined your conversation.',
  inactivity: 'Co-browsing ended after a period of inactivity.',
  'no-agent-joined': 'Co-browsing ended because no agent joined.',
  'agent-absent': 'Co-browsing ended because the agent left.',
  'customer-absent': 'Co-browsing ended because this page was closed.',
  administrator: 'An administrator ended co-browsing.',
};
/** A reason this SDK does not know: who ended it, if the relay said (`session.endedBy`). */
const BY_SENTENCES = {
  customer: SENTENCES['customer-exited'],
  agent: SENTENCES['agent-exited'],
  administrator: SENTENCES.administrator,
};
const FALLBACK = 'Co-browsing has ended.';
/** How long the notice stays unless `CoBrowse.start({ endNoticeSeconds })` says otherwise. */
export const DEFAULT_END_NOTICE_SECONDS = 8;
/** Screen readers announce a live region's change, not a region inserted with its text. */
const ANNOUNCE_DELAY_MS = 100;

/** The sentence for an end reason (and who ended it, `customer`, `agent:ana`, …, when known). */
export function endSentence(reason, by) {
  if (Object.prototype.hasOwnProperty.call(SENTENCES, reason)) return SENTENCES[reason];
  const kind = typeof by === 'string' ? by.split(':')[0] : '';
  return Object.prototype.hasOwnProperty.call(BY_SENTENCES, kind) ? BY_SENTENCES[kind] : FALLBACK;
}

/** `endNoticeSeconds` as given to start(): a finite number ≥ 0, else the default. */
export function noticeSeconds(value) {
  if (value === undefined) return DEFAULT_END_NOTICE_SECONDS;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  console.warn(`CoBrowse: endNoticeSeconds must be a number of seconds ≥ 0; using ${DEFAULT_END_NOTICE_SECONDS}`);
  return DEFAULT_END_NOTICE_SECONDS;
}

/** The notice on this page, if one is shown. */
let shown = null;

/** Shows the notice for `seconds` (0: none), replacing one already shown. */
export function showEndNotice({ reason, by, seconds = DEFAULT_END_NOTICE_SECONDS }) {
  removeEndNotice();
  if (!(seconds > 0)) return;
  const host = document.createElement('div');
  host.id = 'cobrowse-ended';
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `
    <style>
      :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
      .notice { display: flex; align-items: center; gap: 12px; padding: 10px 14px; border-radius: 10px;
                background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
                box-shadow: 0 4px 16px rgba(0,0,0,.25); max-width: min(30rem, calc(100vw - 32px)); }
      .text { flex: 1; }
      button { font: inherit; font-size: 18px; line-height: 1; padding: 4px 8px; border: 0; border-radius: 6px;
               background: #4b5567; color: #fff; cursor: pointer; }
      button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
    </style>
    <div class="notice" role="status" aria-live="polite" aria-atomic="true">
      <span class="text"></span>
      <button class="close" type="button" aria-label="Close" title="Close">&times;</button>
    </div>`;
  const notice = root.querySelector('.notice');
  notice.dataset.reason = String(reason);
  if (by) notice.dataset.by = String(by);
  const close = root.querySelector('button.close');
  const remove = () => removeEndNotice();
  close.addEventListener('click', remove);
  (document.body || document.documentElement).appendChild(host);
  shown = {
    host,
    close,
    remove,
    announceTimer: setTimeout(() => { root.querySelector('.text').textContent = endSentence(reason, by); }, ANNOUNCE_DELAY_MS),
    removeTimer: setTimeout(remove, Math.min(seconds * 1000, 2 ** 31 - 1)), // setTimeout's longest
  };
}

/** Takes the notice away (its time is up, it was closed, or a new session starts). */
export function removeEndNotice() {
  if (!shown) return;
  const { host, close, remove, announceTimer, removeTimer } = shown;
  shown = null;
  clearTimeout(announceTimer);
  clearTimeout(removeTimer);
  close.removeEventListener('click', remove);
  host.remove();
}
