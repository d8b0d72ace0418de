// A site's TypeScript using every part of window.CoBrowse (Services/DOMRelay/Web/Public/cobrowse.d.ts).
// Tests/typescript/check type-checks it (strict): it must compile without a single error.
import type {
  CoBrowseAPI,
  CoBrowseActor,
  CoBrowseCodeStartOptions,
  CoBrowseEndReason,
  CoBrowseError,
  CoBrowseErrorCode,
  CoBrowseEventMap,
  CoBrowseEventName,
  CoBrowseMode,
  CoBrowseSession,
  CoBrowseSessionEventKind,
  CoBrowseStartOptions,
  CoBrowseStartResult,
} from '../../Services/DOMRelay/Web/Public/cobrowse';

/** The SDK, as the global and as window's property: one type. */
const sdk: CoBrowseAPI = window.CoBrowse;
const same: boolean = sdk === CoBrowse;

/** What the customer reads, by end reason: every reason must have its sentence (the compiler checks). */
const farewell: Record<CoBrowseEndReason, string> = {
  'customer-exited': 'You ended co-browsing.',
  'agent-exited': 'The agent ended co-browsing.',
  'interaction-ended': 'Your conversation ended.',
  'interaction-transferred': 'Your conversation was transferred.',
  'interaction-conferenced': 'More people joined your conversation.',
  inactivity: 'Nothing happened for a while.',
  'no-agent-joined': 'No agent joined.',
  'agent-absent': 'The agent left.',
  'customer-absent': 'This page was closed.',
  administrator: 'An administrator ended co-browsing.',
  ended: 'Co-browsing has ended.',
  'unknown-session': 'Co-browsing has ended.',
  'not-allowed': 'Co-browsing has ended.',
};

/** What to tell the customer when start() is refused; exhaustive over the codes. */
function explain(code: CoBrowseErrorCode | undefined): string {
  switch (code) {
    case 'invalid-token':
    case 'expired-token':
      return 'Please reload the chat and try again.';
    case 'interaction-ended':
      return 'Your conversation has ended.';
    case 'unavailable':
    case 'too-many-attempts':
      return 'Co-browsing is not available right now.';
    case 'code-unknown':
    case 'code-expired':
    case 'code-used':
      return 'Please ask your agent for the code again.';
    case 'cancelled':
      return '';
    case 'malformed-request':
    case 'unsupported-version':
    case 'unknown-session':
    case 'session-ended':
    case 'not-allowed':
    case 'not-active':
    case 'write-mode-disabled':
    case 'no-pending-write-request':
    case 'not-supported':
    case 'malformed-frame':
    case 'frame-too-large':
    case undefined:
      return 'Co-browsing could not start.';
    default: {
      const unknown: never = code;
      return unknown;
    }
  }
}

function isCoBrowseError(error: unknown): error is CoBrowseError {
  return error instanceof Error;
}

function who(by: CoBrowseActor | undefined): string {
  if (by === undefined) return 'unknown';
  if (by === 'customer' || by === 'administrator') return by;
  const [kind, id] = by.split(':');
  return `${kind} ${id}`;
}

async function share(button: HTMLButtonElement, status: HTMLElement): Promise<CoBrowseStartResult | null> {
  const interactionToken: string = await fetch('/my-contact-center/interaction-token').then((response) => response.text());
  // testOnlyDisableMasking: only ever in tests of the masking filter.
  const options: CoBrowseStartOptions = location.hostname === 'tests.invalid'
    ? { interactionToken, testOnlyDisableMasking: true }
    : { interactionToken, endNoticeSeconds: 0, failureNoticeSeconds: 0, language: navigator.language };
  try {
    const result = await CoBrowse.start(options);
    const sessionId: string = result.sessionId;
    status.textContent = `Read this to the agent: ${sessionId}`;
    button.hidden = true;
    return result;
  } catch (error) {
    status.textContent = isCoBrowseError(error) ? explain(error.code) : String(error);
    return null;
  }
}

/** A voice call: the SDK's own prompt asks for the agent's code, or the site's own field gives it. */
async function shareCall(typed: string | null): Promise<string | null> {
  const options: CoBrowseCodeStartOptions = { endNoticeSeconds: 5, language: 'ja' };
  try {
    const { sessionId } = typed === null ? await CoBrowse.startWithCode() : await CoBrowse.startWithCode(typed, options);
    return sessionId;
  } catch (error) {
    return isCoBrowseError(error) && error.code === 'cancelled' ? null : explain(isCoBrowseError(error) ? error.code : undefined);
  }
}
void shareCall;

// Every event, with its payload's fields.
const unsubscribers: Array<() => void> = [
  CoBrowse.on('started', ({ sessionId }) => console.log('started', sessionId.padStart(9, '0'))),
  CoBrowse.on('resumed', ({ sessionId }) => console.log('resumed', sessionId)),
  CoBrowse.on('agentJoined', ({ agentId }) => console.log('an agent is viewing the page', agentId ?? '(unnamed)')),
  CoBrowse.on('session', ({ event, session }) => {
    const kind: CoBrowseSessionEventKind = event;
    const view: CoBrowseSession = session;
    const masked: number = view.masking ? view.masking.maskedElements + view.masking.maskedValues : 0;
    const history = view.modeChanges.map((change) => `${change.kind} by ${who(change.by)} at ${new Date(change.at).toISOString()}`);
    console.log(kind, view.id, view.state, view.mode, view.channel, view.interactionID, view.leadAgentID, view.observers.length,
      view.createdAt, view.joinedAt, view.endedAt, view.endReason, view.endedBy, view.writeRequestPendingUntil, masked, history);
  }),
  CoBrowse.on('viewersChanged', ({ viewers }) => console.log(viewers.map((v) => `${v.name ?? 'someone'} (${v.role})`).join(', '))),
  CoBrowse.on('controlRequested', ({ until }) => console.log('the agent asks for control until', new Date(until))),
  CoBrowse.on('modeChanged', ({ mode }) => console.log('the agent may now', mode === 'write' ? 'act' : 'only point')),
  CoBrowse.on('ended', ({ reason, by }) => console.log(farewell[reason], who(by))),
  CoBrowse.on('error', ({ code, message }) => console.warn('co-browse:', code, message, explain(code))),
];

/** A generic subscription helper keeps each event's payload type. */
function once<E extends CoBrowseEventName>(event: E): Promise<CoBrowseEventMap[E]> {
  return new Promise((resolve) => {
    const off = CoBrowse.on(event, (detail) => {
      off();
      resolve(detail);
    });
  });
}

async function main(): Promise<void> {
  const button = document.querySelector<HTMLButtonElement>('#share');
  const status = document.querySelector<HTMLElement>('#share-status');
  if (!button || !status) return;
  button.addEventListener('click', () => void share(button, status));
  const ended = await once('ended');
  const reason: CoBrowseEndReason = ended.reason;
  status.textContent = farewell[reason];
  for (const unsubscribe of unsubscribers) unsubscribe();
}

// The live session, if any.
const sessionId: string | null = CoBrowse.sessionId;
const mode: CoBrowseMode | null = window.CoBrowse.mode;
if (sessionId !== null && mode === 'write') {
  CoBrowse.end(); // as the customer: ends it for everyone
}
console.log(same);
void main();
