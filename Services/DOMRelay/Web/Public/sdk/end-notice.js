// The notices: one sentence in the bar's corner, in a host of its own (open shadow root), styled
// like the bar, for a few seconds or until its close button is clicked; then nothing is left.
// The end notice (#cobrowse-ended) tells the customer who ended co-browsing or why, once a
// session is over and everything else is gone. The start failure notice (#cobrowse-start-failed)
// tells them why CoBrowse.start failed (an expired link, an interaction that ended, a relay that
// cannot be reached), while the promise rejects as ever. One notice at a time.
import { followVisualViewport } from './visual-viewport.js';
import { insertFirstInTabOrder } from './tab-order.js';

/**
 * The sentences are in the session's catalogue (sdk/i18n/): `ended.<reason>` for each end
 * reason of the registry, else `ended`; `failed.<code>` for each refusal a start can meet (and
 * `unavailable`: the relay could not be reached, refused the socket, or could not reach the
 * registry), else `failed`. A reason this SDK has no sentence for says who ended it, if the
 * relay said (`session.endedBy`): the customer, an agent or an administrator.
 */
const BY_REASONS = { customer: 'customer-exited', agent: 'agent-exited', administrator: 'administrator' };
/** How long the end notice stays unless `CoBrowse.start({ endNoticeSeconds })` says otherwise. */
export const DEFAULT_END_NOTICE_SECONDS = 8;
/** How long the start failure notice stays unless `CoBrowse.start({ failureNoticeSeconds })` says otherwise. */
export const DEFAULT_FAILURE_NOTICE_SECONDS = 15;
/** Screen readers announce a live region's change, not a region inserted with its text. */
const ANNOUNCE_DELAY_MS = 100;

/** The sentence (from `t`, the session's catalogue) for an end reason, and who ended it (`customer`, `agent:ana`, …) when known. */
export function endSentence(t, reason, by) {
  if (typeof reason === 'string' && t.has(`ended.${reason}`)) return t(`ended.${reason}`);
  const kind = typeof by === 'string' ? by.split(':')[0] : '';
  return Object.prototype.hasOwnProperty.call(BY_REASONS, kind) ? t(`ended.${BY_REASONS[kind]}`) : t('ended');
}

/** The sentence (from `t`) for a failed start's error code. */
export function failureSentence(t, code) {
  return typeof code === 'string' && t.has(`failed.${code}`) ? t(`failed.${code}`) : t('failed');
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
 * look, and the `sentence`, set a moment after the host is in the page so that it is announced;
 * `t` the session's catalogue (the close button's words, the host's `lang`).
 */
function showNotice({ id, role, live, data, kind, sentence, seconds, t }) {
  removeNotice();
  if (!(seconds > 0)) return;
  const host = document.createElement('div');
  host.id = id;
  host.lang = t.language;
  const root = host.attachShadow({ mode: 'open' });
  root.innerHTML = `
    <style>
      :host { all: initial; position: fixed; right: 16px; bottom: 16px; z-index: 2147483647; }
      .notice { display: flex; align-items: center; gap: 12px; padding: 10px 14px; border-radius: 10px;
                background: #1d2433; color: #fff; font: 14px/1.3 system-ui, sans-serif;
                box-shadow: 0 4px 16px rgba(0,0,0,.25); box-sizing: border-box;
                max-width: min(30rem, var(--cobrowse-visual-width, calc(100vw - 32px))); }
      .notice.failure { border-left: 4px solid #e5484d; }
      .text { flex: 1; }
      button { font: inherit; font-size: 18px; line-height: 1; padding: 4px 8px; border: 0; border-radius: 6px;
               background: #4b5567; color: #fff; cursor: pointer; }
      button:focus-visible { outline: 2px solid #fff; outline-offset: 2px; }
    </style>
    <div class="notice ${kind}" role="${role}" aria-live="${live}" aria-atomic="true">
      <span class="text"></span>
      <button class="close" type="button" aria-label="${t.html('notice.close')}" title="${t.html('notice.close')}">&times;</button>
    </div>`;
  const notice = root.querySelector('.notice');
  for (const [name, value] of Object.entries(data)) {
    if (value != null) notice.setAttribute(name, String(value));
  }
  const close = root.querySelector('button.close');
  const remove = () => removeNotice();
  close.addEventListener('click', remove);
  insertFirstInTabOrder(host); // its Close is one Tab from the page's start
  shown = {
    host,
    close,
    remove,
    // Pinch zoom or an on-screen keyboard: the notice stays where the customer can see it.
    stopFollowing: followVisualViewport(host, 'corner'),
    announceTimer: setTimeout(() => { root.querySelector('.text').textContent = sentence; }, ANNOUNCE_DELAY_MS),
    removeTimer: setTimeout(remove, Math.min(seconds * 1000, 2 ** 31 - 1)), // setTimeout's longest
  };
}

/** The end notice (#cobrowse-ended): who ended co-browsing or why, for `seconds` (0: none), in `t`'s language. */
export function showEndNotice({ reason, by, seconds = DEFAULT_END_NOTICE_SECONDS, t }) {
  showNotice({
    id: 'cobrowse-ended', role: 'status', live: 'polite', kind: 'ended',
    data: { 'data-reason': reason, 'data-by': by || null },
    sentence: endSentence(t, reason, by), seconds, t,
  });
}

/**
 * The start failure notice (#cobrowse-start-failed): why co-browsing could not start, by the
 * error's `code` (`data-cobrowse-failure`), for `seconds` (0: none), in `t`'s language; an alert.
 */
export function showStartFailure({ code, seconds = DEFAULT_FAILURE_NOTICE_SECONDS, t }) {
  showNotice({
    id: 'cobrowse-start-failed', role: 'alert', live: 'assertive', kind: 'failure',
    data: { 'data-cobrowse-failure': code || 'unknown' },
    sentence: failureSentence(t, code), seconds, t,
  });
}

/** Takes the notice away (its time is up, it was closed, or a new session starts). */
export function removeNotice() {
  if (!shown) return;
  const { host, close, remove, stopFollowing, announceTimer, removeTimer } = shown;
  shown = null;
  stopFollowing();
  clearTimeout(announceTimer);
  clearTimeout(removeTimer);
  close.removeEventListener('click', remove);
  host.remove();
}
