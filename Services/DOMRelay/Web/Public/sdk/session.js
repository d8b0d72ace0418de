// The session behind window.CoBrowse: at most one ShareSession on this page, started, ended or
// resumed here. cobrowse.js loads this part and hands it every call.
import { ShareSession } from './transport.js';
import { noticeSeconds, removeEndNotice } from './end-notice.js';
import { usePasswordHistory } from './masking.js';

/**
 * The API's working half, for this page.
 * @param events the API's subscribers (kept by cobrowse.js, so `on()` works before this loads)
 * @param nativeValueSetters the value setters as the browser made them, taken by cobrowse.js when it ran
 * @param passwordHistory the password fields cobrowse.js has seen since the page loaded ({ everPassword, catchUp })
 */
export function createSharing({ events, nativeValueSetters, passwordHistory }) {
  usePasswordHistory(passwordHistory);
  let current = null;
  const owner = {
    nativeValueSetters,
    /** The bar's Exit. */
    end: () => sharing.end(),
    /** The session is over (it cleaned up after itself). */
    finished: () => { current = null; },
  };

  const sharing = {
    /** Starts sharing this page inside the customer's live interaction. */
    start({ interactionToken, testOnlyDisableMasking = false, endNoticeSeconds } = {}) {
      if (current && current.sessionId) return Promise.resolve({ sessionId: current.sessionId });
      if (!interactionToken) return Promise.reject(new Error('CoBrowse.start needs { interactionToken }'));
      if (testOnlyDisableMasking === true) console.warn('CoBrowse: testOnlyDisableMasking: this page is shared unmasked (tests only)');
      removeEndNotice(); // the last session's, if still shown
      current = new ShareSession(owner, events, {
        testOnlyDisableMasking: testOnlyDisableMasking === true,
        endNoticeSeconds: noticeSeconds(endNoticeSeconds),
      });
      const session = current;
      return session.connect({ t: 'start', interactionToken }).catch((error) => {
        if (current === session) current = null;
        session.closedForGood = true;
        throw error;
      });
    },
    /** Ends the session for everyone, as the customer. */
    end() {
      if (current) current.end();
    },
    /** Continues the session an earlier page of this site started (as it was stored). */
    resume(stored) {
      current = new ShareSession(owner, events, {
        testOnlyDisableMasking: stored.testOnlyDisableMasking === true,
        endNoticeSeconds: noticeSeconds(stored.endNoticeSeconds),
      });
      current.stored = stored;
      current.connect({ t: 'resume' }).catch(() => {});
    },
    /** The live session's nine-digit ID, or null. */
    get sessionId() {
      return current ? current.sessionId : null;
    },
    /** What the agent may do: `pointer` or `write`; null without a session. */
    get mode() {
      return current && current.sessionId ? current.mode : null;
    },
  };
  return sharing;
}
