// The agent console (docs/agent-console.md): wires its parts together and starts it. Each part
// does one job: sign-in.js (the token: form, address, voice code, kept for the tab) with
// embedding.js (the contact-center desktop that frames the console), connection.js (the /ws/view
// socket: join, rejoin), console-state.js (the console's state, the header and the notices),
// view-stream.js (the stream's frames applied to the view: rebuild.js and overlay.js),
// agent-input.js (the lead agent's mouse and keyboard, as actions) and live-sessions.js (the
// supervisor's list of live sessions, to observe one).
import { RebuiltPage } from './rebuild.js';
import { Overlay } from './overlay.js';
import { ConsoleState } from './console-state.js';
import { ViewStream } from './view-stream.js';
import { Connection } from './connection.js';
import { DesktopEmbedding } from './embedding.js';
import { SignIn, parseSessionId } from './sign-in.js';
import { AgentInput } from './agent-input.js';
import { LiveSessions } from './live-sessions.js';
import { localizePage } from './i18n/languages.js';

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('sign-in'),
  tokenField: $('token-field'),
  tokenKept: $('token-kept'),
  token: $('agent-token'),
  session: $('session-id'),
  formError: $('sign-in-error'),
  signOut: $('sign-out'),
  joinAnother: $('join-another'),
  nextSession: $('next-session-id'),
  joinAnotherError: $('join-another-error'),
  voice: {
    section: $('voice-call'), interaction: $('voice-interaction'), button: $('voice-get-code'), demoButton: $('voice-demo-call'),
    code: $('voice-code'), status: $('voice-status'), timeLeft: $('voice-time'),
  },
  sessionLabel: $('session-label'),
  sessionState: $('session-state'),
  sessionMode: $('session-mode'),
  customerURL: $('customer-url'),
  notice: $('notice'),
  actionNotice: $('action-notice'),
  iframe: $('cobrowse-view'),
  requestControl: $('request-control'),
  endSession: $('end-session'),
  navBar: $('nav-bar'),
  navBack: $('nav-back'),
  navForward: $('nav-forward'),
  navReload: $('nav-reload'),
  navURL: $('nav-url'),
  stage: $('view-stage'),
  liveSessions: {
    button: $('show-live-sessions'), section: $('live-sessions'), title: $('live-sessions-title'), count: $('live-sessions-count'),
    table: $('live-sessions-table'), rows: $('live-sessions-rows'), empty: $('live-sessions-empty'), error: $('live-sessions-error'),
    token: $('agent-token'),
  },
};

// The parts reach each other only through what they are handed here (the arrows run later,
// once every part exists).
const page = new RebuiltPage(ui.iframe, {
  onViewScroll: () => overlay.refresh(),
  onDocument: (doc) => input.watchView(doc),
  allowInput: (event) => input.allowInput(event),
  acceptInput: (node, frame) => input.acceptInput(node, frame),
  acceptScroll: (id) => input.acceptScroll(id),
});
const overlay = new Overlay({
  area: $('view-area'),
  stage: ui.stage,
  iframe: ui.iframe,
  layer: $('view-overlay'),
  cursor: $('customer-cursor'),
  zoom: $('view-zoom'),
  viewScroll: () => page.viewScroll,
});
const state = new ConsoleState(ui, overlay);
const stream = new ViewStream({
  page, overlay, state, ui,
  isCurrent: (join) => connection.current === join,
  actionDropped: (frame) => input.actionDropped(frame),
});
const embedding = new DesktopEmbedding({
  signIn: (token, sessionText) => signIn.signIn(token, parseSessionId(sessionText), sessionText),
  signOut: () => signIn.signOut(),
});
const connection = new Connection({
  state, stream,
  signIn: {
    keep: (token, sessionId) => signIn.keep(token, sessionId),
    forget: () => signIn.forget(),
    askAgain: (sessionId) => signIn.askAgain(sessionId),
  },
  tellEmbedder: (message) => embedding.tell(message),
});
const signIn = new SignIn({
  ui, state, connection,
  clearView: () => stream.clearView(),
  tellEmbedder: (message) => embedding.tell(message),
});
const input = new AgentInput({ ui, page, overlay, state, send: (message) => connection.send(message) });
const liveSessions = new LiveSessions({
  ui: ui.liveSessions, state,
  kept: () => signIn.kept,
  keep: (token) => signIn.keep(token, null),
  forget: () => signIn.forget(),
  formError: (message, field) => signIn.showFormError(message, field),
  observe: (sessionId) => signIn.signIn(null, sessionId, sessionId),
});

// Start: the page's words, and <html lang>, in the agent's language (the browser's: docs/agent-console.md).
localizePage();
document.body.dataset.seq = '0';
state.set('signed-out');
signIn.restore();
// What the address hands over, else the session kept for the tab (a reload joins it again).
if (signIn.addressHandsOver()) signIn.joinFromAddress();
else if (signIn.kept?.sessionId) connection.start(signIn.kept.token, signIn.kept.sessionId);
// A supervisor's token kept for the tab, and no session joined: the live sessions show by themselves.
liveSessions.follow();
embedding.ready.then(() => embedding.tell({ t: 'ready', signedIn: signIn.kept !== null, sessionId: connection.current?.sessionId ?? null }));

// For debugging from the browser's console only.
window.cobrowseConsole = {
  get state() { return state.name; },
  get sessionId() { return connection.current?.sessionId ?? null; },
  get lastSeq() { return connection.current?.lastSeq ?? null; },
  get role() { return state.control.role; },
  get mode() { return state.control.mode; },
  /** The embedding desktops' origins (null until known; [] when not framed) and how many of their messages were ignored. */
  embedding: embedding.status,
  /** The rebuilt page (rebuild.js): its id ↔ node map and the frames it applies. */
  mirror: page,
  overlay,
};
// A test hook, only where the relay is in dev mode (its `joined` says `testHooks`): sends a message
// as is, so tests can check that the relay and the filter refuse what the UI never sends.
connection.onTestHooks = () => {
  window.cobrowseConsole.sendRaw = (message) => connection.send(message);
};
