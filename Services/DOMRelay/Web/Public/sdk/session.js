// The session behind window.CoBrowse: at most one ShareSession (share-session.js) on this page,
// started, ended or resumed here. cobrowse.js loads this part and hands it every call.
import { ShareSession } from './share-session.js';
import { noticeSeconds, removeNotice, showStartFailure, DEFAULT_END_NOTICE_SECONDS, DEFAULT_FAILURE_NOTICE_SECONDS } from './end-notice.js';
import { usePasswordHistory } from './password-history.js';
import { askForCode } from './code-prompt.js';
import { sdkTranslator } from './i18n/languages.js';

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

  /**
   * Opens a session with `opening` (a start with a token or a code). A failure cleans up, is
   * shown to the customer (`notify`: the failure notice; else the caller shows it) and rejects.
   * `language`: the option, if given (else the page's language; docs/sdk.md, "Languages").
   */
  function begin(opening, { testOnlyDisableMasking, endNoticeSeconds, failureNoticeSeconds, language }, notify) {
    if (testOnlyDisableMasking === true) console.warn('CoBrowse: testOnlyDisableMasking: this page is shared unmasked (tests only)');
    removeNotice(); // the last session's end notice, or the last failure's, if still shown
    current = new ShareSession(owner, events, {
      testOnlyDisableMasking: testOnlyDisableMasking === true,
      endNoticeSeconds: noticeSeconds(endNoticeSeconds, DEFAULT_END_NOTICE_SECONDS, 'endNoticeSeconds'),
      language,
    });
    const failureSeconds = noticeSeconds(failureNoticeSeconds, DEFAULT_FAILURE_NOTICE_SECONDS, 'failureNoticeSeconds');
    const session = current;
    return session.connect(opening).catch((error) => {
      if (current === session) current = null;
      session.discard();
      if (notify) showStartFailure({ code: error && error.code, seconds: failureSeconds, t: session.t });
      throw error;
    });
  }

  const sharing = {
    /**
     * Starts sharing this page inside the customer's live interaction. A start that fails
     * tells the customer why (the start failure notice, for `failureNoticeSeconds`) and rejects
     * with the error (its `code`: the registry's refusal, or `unavailable`).
     */
    start({ interactionToken, testOnlyDisableMasking = false, endNoticeSeconds, failureNoticeSeconds, language } = {}) {
      if (current && current.sessionId) return Promise.resolve({ sessionId: current.sessionId });
      if (!interactionToken) return Promise.reject(new Error('CoBrowse.start needs { interactionToken }'));
      return begin({ t: 'start', interactionToken }, { testOnlyDisableMasking, endNoticeSeconds, failureNoticeSeconds, language }, true);
    },
    /**
     * Starts sharing inside a voice call, with the six digits its agent reads out: `code` at
     * once (a refusal shows the start failure notice), or, without one, the SDK's own prompt
     * asks for it and says there what is wrong with a refused code, for another try. Rejects
     * like `start`, or with `cancelled` when the customer closes the prompt.
     */
    startWithCode(code, { testOnlyDisableMasking = false, endNoticeSeconds, failureNoticeSeconds, language } = {}) {
      if (current && current.sessionId) return Promise.resolve({ sessionId: current.sessionId });
      const options = { testOnlyDisableMasking, endNoticeSeconds, failureNoticeSeconds, language };
      if (code !== undefined && code !== null) return begin({ t: 'start', voiceCode: String(code).replace(/\s+/g, '') }, options, true);
      return askForCode((typed) => begin({ t: 'start', voiceCode: typed }, options, false), sdkTranslator(language));
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
        language: stored.language, // the option given on the page that started it, if any
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
