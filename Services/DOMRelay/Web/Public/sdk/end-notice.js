// The notices: one sentence in the bar's corner, in a host of its own (open shadow root), styled
// like the bar, for a few seconds or until its close button is clicked; then nothing is left.
// The end notice (#cobrowse-ended) tells the customer who ended co-browsing or why, once a
// session is over and everything else is gone. The start failure notice (#cobrowse-start-failed)
// tells them why CoBrowse.start failed (an expired link, an interaction that ended, a relay that
// cannot be reached), while the promise rejects as ever. One notice at a time.

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
/**
 * Why a start failed, by the error's `code`: the registry's refusal, or `unavailable` (the
 * relay could not be reached, refused the socket, or could not reach the registry).
 */
const FAILURE_SENTENCES = {
  'expired-token': 'Co-browsing could not start: the link to your agent has expired. Please ask the agent for a new one.',
  'invalid-token': 'Co-browsing could not start: the link to your agent is not valid. Please ask the agent for a new one.',
  'interaction-ended': 'Co-browsing could not start because your conversation with us has ended.',
  // A voice call's code (CoBrowse.startWithCode): the code prompt says these too.
  'code-unknown': 'That code is not right. Please check the six digits your agent read out.',
  'code-expired': 'That code has expired. Please ask your agent for a new one.',
  'code-used': 'That code was already used. Please ask your agent for a new one.',
  'too-many-attempts': 'Too many wrong codes. Please wait a minute, then try again.',
  unavailable: 'Co-browsing could not start: the service cannot be reached right now. Please try again in a moment.',
};
const FAILURE_FALLBACK = 'Co-browsing could not start. Please try again, or ask the agent for help.';
/** How long the end notice stays unless `CoBrowse.start({ endNoticeSeconds })` says otherwise. */
export const DEFAULT_END_NOTICE_SECONDS = 8;
/** How long the start failure notice stays unless `CoBrowse.start({ failureNoticeSeconds })` says otherwise. */
export const DEFAULT_FAILURE_NOTICE_SECONDS = 15;
/** Screen readers announce a live region's change, not a region inserted with its text. */
const ANNOUNCE_DELAY_MS = 100;

/** The sentence for an end reason (and who ended it, `customer`, `agent:ana`, …, when known). */
export function endSentence(reason, by) {
  if (Object.prototype.hasOwnProperty.call(SENTENCES, reason)) return SENTENCES[reason];
  const kind = typeof by === 'string' ? by.split(':')[0] : '';
  return Object.prototype.hasOwnProperty.call(BY_SENTENCES, kind) ? BY_SENTENCES[kind] : FALLBACK;
}

/** The sentence for a failed start's error code. */
export function failureSentence(code) {
  return Object.prototype.hasOwnProperty.call(FAILURE_SENTENCES, code) ? FAILURE_SENTENCES[code] : FAILURE_FALLBACK;
}

/** A notice's time as given to start() (`name`): a finite number ≥ 0, else `fallback`. */
export function noticeSeconds(value, fallback = DEFAULT_END_NOTICE_SECONDS, name = 'endNoticeSeconds') {
  if (value === undefined) return fallback;
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return value;
  console.warn(`CoBrowse: ${name} must be a number of seconds ≥ 0; using ${fallback}`);
  return fallback;
}

/** The notice on this page, if one is shown. */
let shown = null;

/**
 * Shows a notice for `seconds` (0: none), replacing one already shown: `id` of its host,
 * `role` of its `.notice` (with `live`, its aria-live), `data` set on `.notice`, `kind` its
 * look, and the `sentence`, set a moment after the host is in the page so that it is announced.
 */
function showNotice({ id, role, live, data, kind, sentence, seconds }) {
  removeNotice();
  if (!(seconds > 0)) return;
  const host = document.createElement('div');
  host.id = id;
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `
    <style>
      :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
      .notice { display: flex; align-items: center; gap: 12px; padding: 10px 14px; border-radius: 10px;
                background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
                box-shadow: 0 4px 16px rgba(0,0,0,.25); max-width: min(30rem, calc(100vw - 32px)); }
      .notice.failure { border-left: 4px solid #e5484d; }
      .text { flex: 1; }
      button { font: inherit; font-size: 18px; line-height: 1; padding: 4px 8px; border: 0; border-radius: 6px;
               background: #4b5567; color: #fff; cursor: pointer; }
      button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
    </style>
    <div class="notice ${kind}" role="${role}" aria-live="${live}" aria-atomic="true">
      <span class="text"></span>
      <button class="close" type="button" aria-label="Close" title="Close">&times;</button>
    </div>`;
  const notice = root.querySelector('.notice');
  for (const [name, value] of Object.entries(data)) {
    if (value != null) notice.setAttribute(name, String(value));
  }
  const close = root.querySelector('button.close');
  const remove = () => removeNotice();
  close.addEventListener('click', remove);
  (document.body || document.documentElement).appendChild(host);
  shown = {
    host,
    close,
    remove,
    announceTimer: setTimeout(() => { root.querySelector('.text').textContent = sentence; }, ANNOUNCE_DELAY_MS),
    removeTimer: setTimeout(remove, Math.min(seconds * 1000, 2 ** 31 - 1)), // setTimeout's longest
  };
}

/** The end notice (#cobrowse-ended): who ended co-browsing or why, for `seconds` (0: none). */
export function showEndNotice({ reason, by, seconds = DEFAULT_END_NOTICE_SECONDS }) {
  showNotice({
    id: 'cobrowse-ended', role: 'status', live: 'polite', kind: 'ended',
    data: { 'data-reason': reason, 'data-by': by || null },
    sentence: endSentence(reason, by), seconds,
  });
}

/**
 * The start failure notice (#cobrowse-start-failed): why co-browsing could not start, by the
 * error's `code` (`data-cobrowse-failure`), for `seconds` (0: none); an alert.
 */
export function showStartFailure({ code, seconds = DEFAULT_FAILURE_NOTICE_SECONDS }) {
  showNotice({
    id: 'cobrowse-start-failed', role: 'alert', live: 'assertive', kind: 'failure',
    data: { 'data-cobrowse-failure': code || 'unknown' },
    sentence: failureSentence(code), seconds,
  });
}

/** Takes the notice away (its time is up, it was closed, or a new session starts). */
export function removeNotice() {
  if (!shown) return;
  const { host, close, remove, announceTimer, removeTimer } = shown;
  shown = null;
  clearTimeout(announceTimer);
  clearTimeout(removeTimer);
  close.removeEventListener('click', remove);
  host.remove();
}
