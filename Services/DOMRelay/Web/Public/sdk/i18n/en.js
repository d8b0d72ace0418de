// The SDK's sentences in English: the bar, the consent prompt, the mark explanation, the end
// and start failure notices, and the voice code prompt. ja.js has the same keys and placeholders
// (a browser test checks it); translate.js says how a message is written.
export default Object.freeze({
  // The bar (sdk/bar.js).
  'bar.label': 'Co-browsing',
  'bar.session': 'Co-browsing · session {id}',
  'bar.stopControl': 'Stop control',
  'bar.exit': 'Exit',
  'bar.consentLabel': 'Request for control',
  'bar.consentQuestion': 'The agent asks to control this page',
  'bar.allow': 'Allow',
  'bar.deny': 'Deny',
  'bar.privatePage': 'This page is private: the agent sees its layout, not its text.',
  'bar.markedFields': 'Fields outlined like this are hidden from the agent.',

  // The bar's status line (sdk/share-session.js).
  'status.waiting': 'Waiting for an agent to join',
  'status.viewing': 'An agent is viewing this page',
  'status.viewingNamed': '{name} is viewing this page',
  'status.viewingCount': { one: '{count} person is viewing this page', other: '{count} people are viewing this page' },
  'status.control': 'The agent has control of this page',
  'status.agentReconnecting': 'The agent is reconnecting…',
  'status.reconnecting': 'Reconnecting…',

  // The notices (sdk/end-notice.js).
  'notice.close': 'Close',
  // Why co-browsing ended, by the registry's end reason; `ended` when the reason is not known.
  'ended.customer-exited': 'You ended co-browsing.',
  'ended.agent-exited': 'The agent ended co-browsing.',
  'ended.interaction-ended': 'Co-browsing ended because your conversation with us ended.',
  'ended.interaction-transferred': 'Co-browsing ended because your conversation was transferred to another agent.',
  'ended.interaction-conferenced': 'Co-browsing ended because more people joined your conversation.',
  'ended.inactivity': 'Co-browsing ended after a period of inactivity.',
  'ended.no-agent-joined': 'Co-browsing ended because no agent joined.',
  'ended.agent-absent': 'Co-browsing ended because the agent left.',
  'ended.customer-absent': 'Co-browsing ended because this page was closed.',
  'ended.administrator': 'An administrator ended co-browsing.',
  ended: 'Co-browsing has ended.',
  // Why a start failed, by the error's code; `failed` for any other code.
  'failed.expired-token': 'Co-browsing could not start: the link to your agent has expired. Please ask the agent for a new one.',
  'failed.invalid-token': 'Co-browsing could not start: the link to your agent is not valid. Please ask the agent for a new one.',
  'failed.interaction-ended': 'Co-browsing could not start because your conversation with us has ended.',
  'failed.code-unknown': 'That code is not right. Please check the six digits your agent read out.',
  'failed.code-expired': 'That code has expired. Please ask your agent for a new one.',
  'failed.code-used': 'That code was already used. Please ask your agent for a new one.',
  'failed.too-many-attempts': 'Too many wrong codes. Please wait a minute, then try again.',
  'failed.unavailable': 'Co-browsing could not start: the service cannot be reached right now. Please try again in a moment.',
  failed: 'Co-browsing could not start. Please try again, or ask the agent for help.',

  // The voice code prompt (sdk/code-prompt.js).
  'codePrompt.title': 'Share this page with your adviser',
  'codePrompt.hint': 'Enter the 6-digit code your adviser reads out to you on the phone.',
  'codePrompt.label': 'Code',
  'codePrompt.cancel': 'Cancel',
  'codePrompt.start': 'Start',
  'codePrompt.malformed': 'The code has six digits.',
});
