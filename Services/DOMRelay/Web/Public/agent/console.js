// The agent console: sign-in (the form, the address, or the contact-center desktop that frames
// the console, by postMessage; the token kept for the tab), the /ws/view socket (join, reconnect,
// gap detection, leaving while the page is hidden in the back-forward cache or frozen), the
// console state and notices, the wiring of the stream to the mirror and the overlay, and the lead
// agent's actions: pointer and annotations, and with the customer's consent (write mode) clicks,
// typing, scrolling and navigation, all checked by the masking filter on the way.

import { UNTYPABLE_INPUT_TYPES } from '../sdk/built-in-rules.js';
import { Mirror } from './mirror.js';
import { Overlay } from './overlay.js';
import { VoiceCall } from './voice-call.js';
import { t, localizePage } from './i18n/languages.js';

const PAUSE_DEBOUNCE_MS = 1500; // in-site navigation sends a snapshot well within this
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;
const RESYNC_RETRY_MS = 5000;
const POINTER_THROTTLE_MS = 50;
const SCROLL_THROTTLE_MS = 100;
/** A scroll of the view this soon after the agent's wheel, key or mouse is the agent's own. */
const AGENT_SCROLL_WINDOW_MS = 600;
/** The customer's scroll frames do not move what the agent scrolled this recently. */
const AGENT_SCROLL_HOLD_MS = 1000;
/** Echoes of what the agent typed, coming back through the stream, are not applied over newer typing. */
const TYPED_ECHO_MS = 5000;
const ACTION_NOTICE_MS = 5000;
/** Where the agent's token, and the session it joined last, are kept for this tab (sessionStorage). */
const STORAGE_KEY = 'cobrowse.console';
/** Join refusals that say the token itself is no good: it is forgotten, never tried again. */
const TOKEN_REFUSALS = new Set(['invalid-token', 'expired-token']);
/** What the console and the desktop that frames it say in their messages' `type`. */
const EMBEDDING_TYPE = 'cobrowse-console';
/** Longer than any agent token; a longer one in a message is not one. */
const MAX_TOKEN_LENGTH = 16384;
/**
 * The console's words are in its catalogues (i18n/), in the agent's language: `ended.<reason>`
 * for each end reason of the registry, `endedBy.<kind>` for who ended it when the reason is not
 * known (customer, agent and administrator share the reasons' sentences: ENDED_BY_REASONS),
 * else `ended`; `control.<answer>` for the request for control (the filter's refusals bring
 * their own sentence); `state.<state>` for the header.
 */
const ENDED_BY_REASONS = { customer: 'customer-exited', agent: 'agent-exited', administrator: 'administrator' };
/** Inputs the agent never types into (they are clicked, or are not the agent's business). */
const UNTYPABLE_INPUTS = new Set(UNTYPABLE_INPUT_TYPES);

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
};

const mirror = new Mirror(ui.iframe, {
  onViewScroll: () => overlay.refresh(),
  onDocument: (doc) => watchView(doc),
  allowInput: (event) => allowInput(event),
  acceptInput: (node, frame) => acceptInput(node, frame),
  acceptScroll: (id) => acceptScroll(id),
});
const overlay = new Overlay({
  area: $('view-area'),
  stage: $('view-stage'),
  iframe: ui.iframe,
  layer: $('view-overlay'),
  cursor: $('customer-cursor'),
  zoom: $('view-zoom'),
  viewScroll: () => mirror.viewScroll,
});

/** The current join (token, socket, sequence, timers); replaced whole on joining another session. */
let activeJoin = null;
/** The agent's token while signed in, and the session to rejoin on a reload (null: none); kept in sessionStorage. */
let signedIn = null;
let consoleState = 'signed-out';
/**
 * What this agent may do: `role` from the join (`lead` acts, `observer` watches), `mode` and a
 * `pending` request for control from the registry's notices, `requested` between asking and
 * the registry's answer, `ending` after End session.
 */
const control = { role: null, mode: null, pending: false, requested: false, ending: false, leadAgentID: null };

// MARK: State and notices

function setState(name) {
  consoleState = name;
  document.body.dataset.state = name;
  if (name !== 'live') overlay.hideCursor();
  renderControls();
}

/** One notice at a time; `kind` lets a snapshot clear a pause or reconnect notice and nothing else. */
function showNotice(text, kind) {
  ui.notice.textContent = text;
  ui.notice.dataset.kind = kind;
  delete ui.notice.dataset.reason;
  delete ui.notice.dataset.by;
  ui.notice.hidden = false;
}

function clearNotice(...kinds) {
  if (kinds.length && !kinds.includes(ui.notice.dataset.kind)) return;
  ui.notice.textContent = '';
  delete ui.notice.dataset.kind;
  delete ui.notice.dataset.reason;
  delete ui.notice.dataset.by;
  ui.notice.hidden = true;
}

function showSession(sessionId, session) {
  ui.sessionLabel.textContent = sessionId ?? '';
  if (session?.mode) control.mode = session.mode === 'write' ? 'write' : 'pointer';
  if (session && 'leadAgentID' in session) control.leadAgentID = session.leadAgentID ?? null;
  if (session) control.pending = session.writeRequestPendingUntil != null && control.mode !== 'write';
  renderControls();
}

/** Something about the agent's last action or request, for a few seconds. */
function showActionNotice(text, reason, action) {
  const notice = ui.actionNotice;
  notice.textContent = text;
  notice.dataset.reason = reason;
  if (action) notice.dataset.action = action;
  else delete notice.dataset.action;
  notice.hidden = false;
  clearTimeout(showActionNotice.timer);
  showActionNotice.timer = setTimeout(() => { notice.hidden = true; }, ACTION_NOTICE_MS);
}

/** The header's controls follow the role, the mode and the state: only a lead in a joined session acts. */
function renderControls() {
  const joined = ['waiting', 'live', 'paused'].includes(consoleState);
  const lead = control.role === 'lead' && joined;
  document.body.dataset.role = control.role ?? '';
  document.body.dataset.mode = control.mode ?? '';
  ui.sessionMode.textContent = control.mode ? t(`mode.${control.mode}`) : '';
  const waiting = control.pending || control.requested;
  ui.requestControl.hidden = !lead;
  ui.requestControl.disabled = waiting || control.mode === 'write';
  ui.requestControl.textContent = t(waiting ? 'header.waitingForCustomer' : 'header.requestControl');
  ui.endSession.hidden = !lead;
  ui.endSession.disabled = control.ending;
  ui.navBar.hidden = !(lead && control.mode === 'write');
  // Write mode: Tab goes on from the view's tab stop into the customer's page (its fields and
  // links); otherwise the page's controls are no tab stops, and a focus left inside comes back out.
  if (lead && control.mode === 'write') {
    ui.iframe.removeAttribute('tabindex');
  } else {
    ui.iframe.tabIndex = -1;
    if (document.activeElement === ui.iframe) ui.stage.focus({ preventScroll: true });
  }
  // Signed out but for the token kept: only not joined.
  const label = consoleState === 'signed-out' && signedIn !== null ? 'refused' : consoleState;
  ui.sessionState.textContent = t.has(`state.${label}`) ? t(`state.${label}`) : label;
  // With a token kept the form asks only for the session, and after an end the header offers the next one.
  ui.tokenField.hidden = signedIn !== null;
  ui.tokenKept.hidden = signedIn === null;
  ui.signOut.hidden = signedIn === null;
  const offerAnother = signedIn !== null && consoleState === 'ended';
  if (offerAnother && ui.joinAnother.hidden) showJoinAnotherError(null);
  ui.joinAnother.hidden = !offerAnother;
}

/** A session notice: the mode, a request for control, and what the customer answered. */
function onSessionNotice(current, message) {
  const before = control.mode;
  showSession(current.sessionId, message.session);
  if (!['mode-requested', 'mode-request-declined', 'mode-changed'].includes(message.event)) return;
  control.requested = false;
  renderControls();
  if (control.role !== 'lead') return;
  if (message.event === 'mode-request-declined') {
    const timedOut = message.session?.modeChanges?.at(-1)?.kind === 'timed-out';
    showActionNotice(t(timedOut ? 'control.timed-out' : 'control.declined'), timedOut ? 'timed-out' : 'declined');
  } else if (message.event === 'mode-changed' && control.mode !== before) {
    const reason = control.mode === 'write' ? 'approved' : 'revoked';
    showActionNotice(t(`control.${reason}`), reason);
  }
}

// MARK: Socket

function relayURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/view`;
}

/**
 * The page is in the back-forward cache (the agent navigated away) or frozen: a page kept there
 * keeps its socket open unless told, and the session would never learn that the agent left.
 */
let suspended = false;

/** Leaves the session for now: the socket closes (the relay and the watch see the agent go), nothing is retried. */
function suspend() {
  if (suspended) return;
  suspended = true;
  const current = activeJoin;
  if (!current) return;
  clearTimeout(current.reconnectTimer);
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  const socket = current.socket;
  current.socket = null; // its close is not a dropped connection: no reconnect
  socket?.close(1000, 'the console was hidden');
}

/** Shown again: rejoins the same session with the same token, as after a dropped socket (within the grace it goes on). */
function wake() {
  if (!suspended) return;
  suspended = false;
  const current = activeJoin;
  if (!current || current.socket || ['ended', 'refused', 'signed-out'].includes(consoleState)) return;
  connect(current);
}

addEventListener('pagehide', suspend);
addEventListener('pageshow', (event) => { if (event.persisted) wake(); });
document.addEventListener('freeze', suspend);
document.addEventListener('resume', wake);

/** Starts (or switches to) a session: the view is cleared only when the session changes. */
function startJoin(token, sessionId) {
  const sameSession = activeJoin?.sessionId === sessionId;
  stopJoin();
  keep(token, sessionId);
  activeJoin = {
    token,
    sessionId,
    socket: null,
    joinedOnce: false,
    reconnectDelay: RECONNECT_FIRST_MS,
    reconnectTimer: null,
    /** Who ended the session (`session.endedBy` of the registry's `ended` notice). */
    endedBy: null,
    lastSeq: null,
    needsSnapshot: true,
    pauseTimer: null,
    resyncTimer: null,
  };
  Object.assign(control, { role: null, mode: null, pending: false, requested: false, ending: false, leadAgentID: null });
  if (!sameSession) {
    mirror.clear();
    ui.customerURL.textContent = '';
    ui.customerURL.removeAttribute('title');
    document.body.dataset.seq = '0';
  }
  showSession(sessionId, null);
  clearNotice();
  connect(activeJoin);
}

/** Forgets the current join: its socket closes without a reconnect. */
function stopJoin() {
  if (!activeJoin) return;
  const old = activeJoin;
  activeJoin = null;
  clearTimeout(old.reconnectTimer);
  clearTimeout(old.pauseTimer);
  clearTimeout(old.resyncTimer);
  old.socket?.close(1000, 'the agent left');
}

function connect(current) {
  setState('connecting');
  const socket = new WebSocket(relayURL());
  current.socket = socket;
  // Before this socket is joined an error is a refusal; after, it is only a complaint.
  let joined = false;
  let retryable = true;
  const live = () => activeJoin === current && current.socket === socket;

  socket.addEventListener('open', () => {
    if (!live()) return;
    socket.send(JSON.stringify({ t: 'join', agentToken: current.token, sessionId: current.sessionId }));
  });
  socket.addEventListener('message', (event) => {
    if (!live()) return;
    let message;
    try {
      message = JSON.parse(event.data);
    } catch {
      return;
    }
    if (!message || typeof message !== 'object') return;
    switch (message.t) {
      case 'joined':
        joined = true;
        onJoined(current, message);
        break;
      case 'error':
        if (joined) {
          // A request or action the relay or registry refused (write mode disabled, say).
          console.warn('relay:', message.code, message.message);
          control.requested = false;
          renderControls();
          showActionNotice(message.message || message.code || t('action.refused'), message.code || 'error');
        } else {
          retryable = onRefused(current, message);
        }
        break;
      case 'session':
        // Who ended it comes with the registry's notice, just before the relay's `ended`.
        if (message.event === 'ended') current.endedBy = message.session?.endedBy ?? null;
        onSessionNotice(current, message);
        break;
      case 'ended':
        retryable = false;
        onEnded(current, message.reason);
        break;
      default:
        if (typeof message.seq === 'number') onFrame(current, message);
    }
  });
  socket.addEventListener('close', () => {
    if (!live() || !retryable) return;
    scheduleReconnect(current);
  });
}

function scheduleReconnect(current) {
  if (suspended) return; // wake() rejoins
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  setState('connecting');
  if (ui.notice.dataset.kind !== 'reconnecting') {
    showNotice(t(current.joinedOnce ? 'notice.reconnecting' : 'notice.unreachable'), 'reconnecting');
  }
  const delay = current.reconnectDelay;
  current.reconnectDelay = Math.min(delay * 2, RECONNECT_MAX_MS);
  current.reconnectTimer = setTimeout(() => {
    if (activeJoin === current) connect(current);
  }, delay);
}

function onJoined(current, message) {
  const first = !current.joinedOnce;
  current.joinedOnce = true;
  current.reconnectDelay = RECONNECT_FIRST_MS;
  // The relay has asked the sharer for a snapshot; everything before it is ignored.
  current.needsSnapshot = true;
  current.lastSeq = null;
  // Only the lead agent acts; a supervisor observes (and an older relay that does not say: observe).
  control.role = message.role === 'lead' ? 'lead' : 'observer';
  control.requested = false;
  showSession(message.sessionId ?? current.sessionId, message.session);
  clearNotice('reconnecting');
  setState('waiting');
  if (first) tellEmbedder({ t: 'joined', sessionId: current.sessionId, role: control.role });
}

/** A refused join; returns whether to try again (only when the relay says it is not ready). */
function onRefused(current, { code, message }) {
  if (code === 'unavailable') {
    showNotice(t('notice.relayNotReady', { message }), 'reconnecting');
    return true;
  }
  // The session ended while this console was reconnecting.
  if (code === 'session-ended' && current.joinedOnce) {
    onEnded(current, null);
    return false;
  }
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  // A token that is no good is forgotten (a reload or the desktop must bring a new one); any
  // other refusal is the session's: the token stays, the session is not rejoined on a reload.
  const tokenRefused = TOKEN_REFUSALS.has(code);
  if (tokenRefused) forget();
  else keep(current.token, null);
  setState('refused');
  showNotice(t('notice.refused', { sessionId: current.sessionId, message: message || code || 'refused' }), 'refused');
  showForm(current.sessionId);
  tellEmbedder({ t: 'refused', sessionId: current.sessionId, code: code ?? null, message: message ?? null, tokenForgotten: tokenRefused });
  return false;
}

function onEnded(current, reason) {
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  control.pending = control.requested = false;
  // The token stays for the next session ("Join another session"); this one is not rejoined on a reload.
  keep(current.token, null);
  setState('ended');
  const by = current.endedBy ?? null;
  showNotice(endSentence(reason, by), 'ended');
  if (reason) ui.notice.dataset.reason = reason;
  if (by) ui.notice.dataset.by = by;
  tellEmbedder({ t: 'ended', sessionId: current.sessionId, reason: reason ?? null, by });
}

/** Why the session ended, and who ended it when it was a person: "You" for this console's own agent. */
function endSentence(reason, by) {
  const [kind, id] = typeof by === 'string' ? [by.split(':')[0], by.slice(by.indexOf(':') + 1)] : [null, null];
  if (reason === 'agent-exited' && kind === 'agent' && id) {
    return control.role === 'lead' && id === control.leadAgentID ? t('ended.byYou') : t('ended.byAgent', { agent: id });
  }
  if (reason && t.has(`ended.${reason}`)) return t(`ended.${reason}`);
  if (kind && Object.hasOwn(ENDED_BY_REASONS, kind)) return t(`ended.${ENDED_BY_REASONS[kind]}`);
  return kind && t.has(`endedBy.${kind}`) ? t(`endedBy.${kind}`) : t('ended');
}

// MARK: Stream frames

/**
 * Frames are applied in the filter's sequence. Before the first snapshot (and after a gap,
 * until the fresh snapshot) only a snapshot is taken; a gap asks the sharer for one.
 */
function onFrame(current, frame) {
  // The filter's answer to one of this agent's actions: shown whatever the view's state, and
  // counted in the sequence like any frame (below).
  if (frame.t === 'action-dropped') onActionDropped(frame);
  if (frame.t === 'snapshot') {
    current.needsSnapshot = false;
    clearTimeout(current.resyncTimer);
    apply(current, frame);
    return;
  }
  if (current.needsSnapshot || current.lastSeq === null) return;
  if (frame.seq !== current.lastSeq + 1) {
    requestResync(current);
    return;
  }
  apply(current, frame);
}

function apply(current, frame) {
  try {
    applyFrame(current, frame);
  } catch (error) {
    // The view no longer matches the page: start again from a fresh snapshot.
    console.error('could not apply frame', frame.t, frame.seq, error);
    requestResync(current);
    return;
  }
  current.lastSeq = frame.seq;
  document.body.dataset.seq = String(frame.seq);
}

function applyFrame(current, frame) {
  switch (frame.t) {
    case 'snapshot':
      clearTimeout(current.pauseTimer);
      overlay.setViewport(frame.viewport?.w, frame.viewport?.h, frame.viewport?.visual);
      mirror.loadSnapshot(frame);
      ui.customerURL.textContent = frame.url ?? '';
      ui.customerURL.title = [frame.title, frame.url].filter(Boolean).join('\n');
      if (document.activeElement !== ui.navURL) ui.navURL.value = frame.url ?? '';
      clearNotice('paused', 'reconnecting');
      setState('live');
      overlay.refresh();
      break;
    case 'mutations':
      mirror.applyMutations(frame);
      break;
    case 'input':
      mirror.applyInput(frame);
      break;
    case 'scroll':
      mirror.applyScroll(frame);
      overlay.refresh();
      break;
    case 'viewport':
      overlay.setViewport(frame.w, frame.h, frame.visual);
      break;
    case 'cursor':
      overlay.moveCursor(frame.x, frame.y);
      break;
    case 'click':
      overlay.showClick(frame.x, frame.y);
      break;
    case 'paused':
      overlay.hideCursor();
      clearTimeout(current.pauseTimer);
      current.pauseTimer = setTimeout(() => {
        if (activeJoin !== current || consoleState !== 'live') return;
        setState('paused');
        showNotice(t('notice.paused'), 'paused');
      }, PAUSE_DEBOUNCE_MS);
      break;
    default:
      // `action-dropped` (shown in onFrame), `resumed` and anything newer: a snapshot follows when it matters.
      break;
  }
}

// MARK: The agent's actions

/** The last view field the agent typed into, and what they typed (recently), for echoes and refusals. */
let lastTyped = null;
const typedValues = new WeakMap();
/** When the agent last used wheel, scrolling keys or the mouse in the view. */
let agentInputAt = -Infinity;
/** When this console last sent a scroll of each target (0: the page). */
const scrollSentAt = new Map();
const pendingScrolls = new Map();
let scrollTimer = null;
let pointerAt = null;
let pointerTimer = null;

function send(message) {
  const socket = activeJoin?.socket;
  if (socket?.readyState !== WebSocket.OPEN) return false;
  socket.send(JSON.stringify(message));
  return true;
}

/** The lead agent, on a live page: may point and annotate (any mode), and act in write mode. */
function canAct() {
  return control.role === 'lead' && consoleState === 'live';
}

function writing() {
  return canAct() && control.mode === 'write';
}

function isField(node) {
  if (node?.nodeType !== Node.ELEMENT_NODE) return false;
  switch (node.localName) {
    case 'input': return !UNTYPABLE_INPUTS.has((node.getAttribute('type') ?? 'text').toLowerCase());
    case 'textarea':
    case 'select': return true;
    default: return node.isContentEditable === true;
  }
}

/**
 * A mouse event's position as page coordinates of the view: events in a same-origin frame of the
 * customer's page are in that frame's viewport, so its frame elements' offsets are added.
 */
function viewPagePoint(event) {
  let x = event.clientX;
  let y = event.clientY;
  const view = ui.iframe.contentWindow;
  for (let current = event.view; current && current !== view && current.frameElement; current = current.parent) {
    const box = current.frameElement.getBoundingClientRect();
    x += box.left + current.frameElement.clientLeft;
    y += box.top + current.frameElement.clientTop;
  }
  return { x: x + (view?.scrollX ?? 0), y: y + (view?.scrollY ?? 0) };
}

/** Listeners on each new view document (document.open() drops the old ones), and on its frames' documents. */
function watchView(doc) {
  const options = { capture: true, passive: true };
  doc.addEventListener('mousemove', (event) => {
    if (!event.isTrusted || !canAct()) return;
    const point = viewPagePoint(event);
    queuePointer(point.x, point.y);
  }, options);
  doc.addEventListener('click', onViewClick, true);
  doc.addEventListener('input', onViewInput, true);
  doc.addEventListener('wheel', () => { agentInputAt = performance.now(); }, options);
  doc.addEventListener('mousedown', () => { agentInputAt = performance.now(); }, options);
  doc.addEventListener('touchmove', () => { agentInputAt = performance.now(); }, options);
  doc.addEventListener('keydown', (event) => {
    if (['ArrowUp', 'ArrowDown', 'ArrowLeft', 'ArrowRight', 'PageUp', 'PageDown', 'Home', 'End', ' '].includes(event.key)) {
      agentInputAt = performance.now();
    }
  }, options);
  doc.addEventListener('scroll', onViewScroll, options);
  // Escape inside the customer's page: back to the view's tab stop (the keyboard's way out).
  doc.addEventListener('keydown', (event) => {
    if (event.key === 'Escape') ui.stage.focus({ preventScroll: true });
  }, options);
}

/** How far an arrow key scrolls the customer's page; Page Up, Page Down and Space: this much of a screen. */
const KEY_SCROLL_LINE_PX = 40;
const KEY_SCROLL_PAGE = 0.9;

/**
 * The view's tab stop (#view-stage, docs/agent-console.md "Accessibility"): in write mode the
 * scroll keys scroll the view, and onViewScroll sends that to the customer's page as it does the
 * agent's wheel; in pointer mode the lead is told to ask for control. Tab, in write mode, goes on
 * into the page itself (renderControls).
 */
function onStageKey(event) {
  if (event.target !== ui.stage || event.altKey || event.ctrlKey || event.metaKey) return;
  const view = ui.iframe.contentWindow;
  const screen = (view?.innerHeight ?? 0) * KEY_SCROLL_PAGE * (event.shiftKey ? -1 : 1);
  const steps = {
    ArrowDown: [0, KEY_SCROLL_LINE_PX], ArrowUp: [0, -KEY_SCROLL_LINE_PX],
    ArrowRight: [KEY_SCROLL_LINE_PX, 0], ArrowLeft: [-KEY_SCROLL_LINE_PX, 0],
    PageDown: [0, Math.abs(screen)], PageUp: [0, -Math.abs(screen)], ' ': [0, screen],
  };
  const { key } = event;
  if (!Object.hasOwn(steps, key) && key !== 'Home' && key !== 'End') return;
  event.preventDefault(); // the console itself does not scroll
  if (!canAct() || !view) return;
  if (!writing()) return showActionNotice(t('control.pointer-mode'), 'pointer-mode');
  agentInputAt = performance.now();
  if (key === 'Home') view.scrollTo({ left: view.scrollX, top: 0, behavior: 'instant' });
  else if (key === 'End') view.scrollTo({ left: view.scrollX, top: view.document.documentElement.scrollHeight, behavior: 'instant' });
  else view.scrollBy({ left: steps[key][0], top: steps[key][1], behavior: 'instant' });
}

ui.stage.addEventListener('keydown', onStageKey);

/** The agent's pointer, at most every 50 ms (the latest position wins). */
function queuePointer(x, y) {
  pointerAt = { x: Math.round(x), y: Math.round(y) };
  if (pointerTimer) return;
  pointerTimer = setTimeout(() => {
    pointerTimer = null;
    if (pointerAt && canAct()) send({ t: 'pointer', ...pointerAt });
  }, POINTER_THROTTLE_MS);
}

/** Pointer mode: an annotation on both sides. Write mode: a click on the customer's element. */
function onViewClick(event) {
  if (!event.isTrusted || !canAct()) return; // the mirror already cancelled it: the view does nothing itself
  if (control.mode === 'write') {
    const known = mirror.closestKnown(event.composedPath()[0]);
    if (known) send({ t: 'click', id: known.id });
    return;
  }
  const point = viewPagePoint(event);
  const x = Math.round(point.x);
  const y = Math.round(point.y);
  overlay.showAnnotation(x, y);
  send({ t: 'annotate', x, y });
}

/** The view lets the lead agent type only in write mode, only into fields. */
function allowInput(event) {
  const target = event.composedPath()[0];
  if (writing() && isField(target)) return true;
  if (canAct() && isField(target)) showActionNotice(t('control.pointer-mode'), 'pointer-mode');
  return false;
}

/** What the agent typed goes to the customer's page whole (the field's new value). */
function onViewInput(event) {
  const target = event.composedPath()[0];
  const known = mirror.closestKnown(target);
  if (!event.isTrusted || !writing() || !isField(target) || known?.node !== target) {
    // Read-only: a <select> changes without `beforeinput`; put it back.
    mirror.restoreValue(target);
    return;
  }
  const value = ['input', 'textarea', 'select'].includes(target.localName) ? String(target.value) : target.textContent;
  const now = performance.now();
  const recent = (typedValues.get(target) ?? []).filter((typed) => now - typed.at < TYPED_ECHO_MS);
  recent.push({ value, at: now });
  typedValues.set(target, recent.slice(-50));
  lastTyped = target;
  send({ t: 'type', id: known.id, value });
}

/** The customer's echo of what the agent just typed is not applied over what they typed since. */
function acceptInput(node, frame) {
  const recent = typedValues.get(node);
  if (!recent || frame.value == null) return true;
  const now = performance.now();
  return !recent.some((typed) => now - typed.at < TYPED_ECHO_MS && typed.value === String(frame.value));
}

/** Write mode: the agent's own scrolling of the view (not the stream's) scrolls the customer's page. */
function onViewScroll(event) {
  if (!writing() || performance.now() - agentInputAt > AGENT_SCROLL_WINDOW_MS) return;
  const target = event.target;
  let id;
  let position;
  if (target.nodeType === Node.DOCUMENT_NODE && target !== ui.iframe.contentDocument) {
    // A frame's own page scroll: its scrolling element's (its <html>).
    id = mirror.idOf(target.scrollingElement);
    if (id === undefined) return;
    position = { x: target.scrollingElement.scrollLeft, y: target.scrollingElement.scrollTop };
  } else if (target.nodeType === Node.DOCUMENT_NODE) {
    id = 0;
    position = { x: target.defaultView.scrollX, y: target.defaultView.scrollY };
  } else {
    id = mirror.idOf(target);
    if (id === undefined) return;
    position = { x: target.scrollLeft, y: target.scrollTop };
  }
  position = { x: Math.round(position.x), y: Math.round(position.y) };
  const customer = mirror.streamScroll(id);
  if (customer && Math.abs(customer.x - position.x) < 1 && Math.abs(customer.y - position.y) < 1) return;
  pendingScrolls.set(id, position);
  if (scrollTimer) return;
  scrollTimer = setTimeout(() => {
    scrollTimer = null;
    if (!writing()) return pendingScrolls.clear();
    for (const [scrolled, at] of pendingScrolls) {
      scrollSentAt.set(scrolled, performance.now());
      send({ t: 'scroll', id: scrolled, ...at });
    }
    pendingScrolls.clear();
  }, SCROLL_THROTTLE_MS);
}

/** Held scroll targets: once the agent stops, the view goes where the customer's page actually is. */
const scrollHolds = new Map();

function acceptScroll(id) {
  const held = AGENT_SCROLL_HOLD_MS - (performance.now() - (scrollSentAt.get(id) ?? -Infinity));
  if (held <= 0) return true;
  clearTimeout(scrollHolds.get(id));
  scrollHolds.set(id, setTimeout(() => {
    scrollHolds.delete(id);
    if (acceptScroll(id)) mirror.reapplyScroll(id);
  }, held + 50));
  return false;
}

/** The filter did not let an action through: say why; a refused edit is put back in the view. */
function onActionDropped(frame) {
  if (control.role !== 'lead') return;
  showActionNotice(frame.message || t('action.notAllowed', { action: frame.action ?? 'action' }), frame.reason ?? 'dropped', frame.action);
  if (frame.action === 'type' && lastTyped) {
    typedValues.delete(lastTyped);
    mirror.restoreValue(lastTyped);
  }
}

function navigate(to, url) {
  if (!writing()) return;
  send(url === undefined ? { t: 'navigate', to } : { t: 'navigate', to, url });
}

ui.requestControl.addEventListener('click', () => {
  if (control.role !== 'lead' || control.mode === 'write' || control.pending) return;
  if (send({ t: 'request-write' })) {
    control.requested = true;
    renderControls();
  }
});

ui.endSession.addEventListener('click', () => {
  if (control.role !== 'lead' || control.ending) return;
  if (send({ t: 'end' })) {
    control.ending = true;
    renderControls();
  }
});

ui.navBack.addEventListener('click', () => navigate('back'));
ui.navForward.addEventListener('click', () => navigate('forward'));
ui.navReload.addEventListener('click', () => navigate('reload'));
ui.navBar.addEventListener('submit', (event) => {
  event.preventDefault();
  const url = ui.navURL.value.trim();
  if (url) navigate('url', url);
});

function requestResync(current) {
  current.needsSnapshot = true;
  clearTimeout(current.resyncTimer);
  if (current.socket?.readyState === WebSocket.OPEN) current.socket.send(JSON.stringify({ t: 'resync' }));
  // Ask again if the snapshot does not come (the request may be throttled along the way).
  current.resyncTimer = setTimeout(() => {
    if (activeJoin === current && current.needsSnapshot && current.lastSeq !== null) requestResync(current);
  }, RESYNC_RETRY_MS);
}

// MARK: Sign-in

/** Exactly nine digits; spaces and dashes a person types are ignored, as the relay does. */
function parseSessionId(text) {
  const digits = String(text ?? '').replace(/[\s-]/g, '');
  return /^[0-9]{9}$/.test(digits) ? digits : null;
}

/** The token and session kept for this tab, if any. */
function readKept() {
  try {
    const kept = JSON.parse(sessionStorage.getItem(STORAGE_KEY));
    if (kept && typeof kept.token === 'string' && kept.token) return { token: kept.token, sessionId: parseSessionId(kept.sessionId) };
  } catch { /* unreadable: none */ }
  return null;
}

/** Signed in with `token`; `sessionId` is the session a reload rejoins (null: none, the form asks). */
function keep(token, sessionId) {
  signedIn = { token, sessionId: sessionId ?? null };
  ui.token.value = ''; // the field is hidden now; the token is not left in it
  try {
    sessionStorage.setItem(STORAGE_KEY, JSON.stringify(signedIn));
  } catch { /* storage refused: kept in this page only */ }
  renderControls();
}

/** Signed out: the token is gone from the page and from storage. */
function forget() {
  signedIn = null;
  try {
    sessionStorage.removeItem(STORAGE_KEY);
  } catch { /* nothing kept */ }
  renderControls();
}

/** The form, with the session ID filled in (the token field shows only when no token is kept). */
function showForm(sessionId) {
  if (sessionId != null) ui.session.value = sessionId;
  showFormError(null);
}

function showFormError(message, field) {
  ui.formError.textContent = message ?? '';
  ui.formError.hidden = !message;
  for (const input of [ui.token, ui.session]) {
    if (input === field) input.setAttribute('aria-invalid', 'true');
    else input.removeAttribute('aria-invalid');
  }
  field?.focus();
}

function showJoinAnotherError(message) {
  ui.joinAnotherError.textContent = message ?? '';
  ui.joinAnotherError.hidden = !message;
  if (message) {
    ui.nextSession.setAttribute('aria-invalid', 'true');
    ui.nextSession.focus();
  } else {
    ui.nextSession.removeAttribute('aria-invalid');
  }
}

/** Whether a join is under way or held (not ended, not refused). */
function joining() {
  return activeJoin !== null && !['ended', 'refused', 'signed-out'].includes(consoleState);
}

/**
 * A token and/or a session handed over by the address or the desktop that frames the console.
 * A token replaces the kept one; with a session (or a session alone, with a token kept) it
 * joins. The session being joined already is not joined again: a new token for it is used from
 * its next connection on. Otherwise the form asks for what is missing. Returns whether it joins.
 */
function signIn(token, sessionId, sessionText) {
  const current = joining() ? activeJoin : null;
  if (current && (sessionId === current.sessionId || (token && !sessionId))) {
    if (token) {
      current.token = token;
      keep(token, current.sessionId);
    }
    return true;
  }
  if (token) keep(token, null);
  if (signedIn && sessionId) {
    startJoin(signedIn.token, sessionId);
    return true;
  }
  if (current) return true; // a session ID that is not one: the session goes on
  if (consoleState !== 'ended') {
    showForm(sessionId ?? sessionText ?? null);
    if (sessionText != null && !sessionId) showFormError(t('signIn.badSessionId'), ui.session);
  } else if (sessionText != null && !sessionId) {
    ui.nextSession.value = sessionText;
    showJoinAnotherError(t('signIn.badSessionId'));
  }
  return false;
}

/** Leaves the session (without ending it: the customer's bar says the agent is reconnecting) and forgets the token. */
function signOut() {
  stopJoin();
  forget();
  Object.assign(control, { role: null, mode: null, pending: false, requested: false, ending: false, leadAgentID: null });
  mirror.clear();
  overlay.hideCursor();
  ui.customerURL.textContent = '';
  ui.customerURL.removeAttribute('title');
  document.body.dataset.seq = '0';
  showSession(null, null);
  clearNotice();
  setState('signed-out');
  ui.session.value = '';
  showFormError(null);
  tellEmbedder({ t: 'signed-out' });
}

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = signedIn?.token ?? ui.token.value.trim();
  const sessionId = parseSessionId(ui.session.value);
  if (!token) return showFormError(t('signIn.noToken'), ui.token);
  if (!sessionId) return showFormError(t('signIn.badSessionId'), ui.session);
  showFormError(null);
  startJoin(token, sessionId);
});

ui.joinAnother.addEventListener('submit', (event) => {
  event.preventDefault();
  const sessionId = parseSessionId(ui.nextSession.value);
  if (!signedIn) return;
  if (!sessionId) return showJoinAnotherError(t('signIn.badSessionId'));
  showJoinAnotherError(null);
  ui.nextSession.value = '';
  startJoin(signedIn.token, sessionId);
});

ui.signOut.addEventListener('click', signOut);

/**
 * `#token=…&session=…` (either alone, too) hands over a token and a session. It is read once:
 * the fragment leaves the address at once, replacing this history entry, so neither the
 * address bar nor the history keeps the token; the token is then kept for the tab.
 */
function joinFromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  if (!params.has('token') && !params.has('session') && !params.has('voice')) return false;
  history.replaceState(null, '', `${location.pathname}${location.search}`);
  const token = params.get('token')?.trim() || null;
  const sessionText = params.get('session');
  const joined = signIn(token, parseSessionId(sessionText), sessionText);
  // `voice=<the call's interaction token>`: ask for a voice code for it at once.
  const call = params.get('voice')?.trim();
  if (call && !joined) voiceCall.ask(call);
  return joined;
}

/** A voice call's code (docs/agent-console.md, "Voice calls"): the console joins what it starts. */
const voiceCall = new VoiceCall({
  section: $('voice-call'), interaction: $('voice-interaction'), button: $('voice-get-code'), demoButton: $('voice-demo-call'),
  code: $('voice-code'), status: $('voice-status'), timeLeft: $('voice-time'),
  agentToken: () => signedIn?.token ?? ui.token.value.trim(),
  join: (token, sessionId) => signIn(token, sessionId, sessionId),
});

window.addEventListener('hashchange', joinFromAddress);

// MARK: Embedding

/**
 * A contact-center desktop may frame the console and hand it the agent's token by postMessage
 * (docs/agent-console.md, "Embedding it in a contact-center desktop"): only the page that frames
 * the console (`window.parent`), only from an origin of the relay's CONSOLE_EMBEDDERS
 * (`/agent/embedding.json`), only messages `{ type: 'cobrowse-console', t: 'sign-in' | 'sign-out', … }`.
 */
const framed = window.parent !== window;
const embedding = { origins: null, ignored: 0 };
/** The origins of CONSOLE_EMBEDDERS as the browser writes origins (none when not framed, or unknown). */
const embedders = (framed
  ? fetch(new URL('embedding.json', import.meta.url), { cache: 'no-store', credentials: 'same-origin' })
    .then((response) => (response.ok ? response.json() : null))
    .then((body) => originsOf(body?.embedders))
    .catch(() => [])
  : Promise.resolve([])
).then((origins) => {
  embedding.origins = origins;
  return origins;
});
/** The desktop that signed in last (its origin), where the console's news go. */
let embedderOrigin = null;

function originsOf(list) {
  if (!Array.isArray(list)) return [];
  const origins = new Set();
  for (const entry of list) {
    try {
      const origin = new URL(String(entry)).origin;
      if (origin !== 'null') origins.add(origin);
    } catch { /* not an origin */ }
  }
  return [...origins];
}

/**
 * Tells the desktop what happened: posted to the parent, only ever to an allowed origin (the
 * desktop's that signed in, else the parent's as the browser says it, else each allowed one:
 * the browser delivers it only to the parent's own). Nothing secret is in it.
 */
function tellEmbedder(message) {
  if (!framed) return;
  embedders.then((origins) => {
    const parentOrigin = location.ancestorOrigins?.[0];
    const targets = embedderOrigin ? [embedderOrigin] : parentOrigin ? origins.filter((origin) => origin === parentOrigin) : origins;
    for (const origin of targets) window.parent.postMessage({ type: EMBEDDING_TYPE, ...message }, origin);
  });
}

function ignoreMessage(origin, why) {
  embedding.ignored += 1;
  console.warn(`Co-browse console: ignored a message from ${origin}: ${why}`);
}

addEventListener('message', (event) => {
  const message = event.data;
  if (!framed || !message || typeof message !== 'object' || message.type !== EMBEDDING_TYPE) return;
  const { source, origin } = event;
  embedders.then((origins) => {
    if (source !== window.parent) return ignoreMessage(origin, 'it does not come from the page that frames the console');
    if (!origins.includes(origin)) return ignoreMessage(origin, "that origin is not in the relay's CONSOLE_EMBEDDERS");
    switch (message.t) {
      case 'sign-in': {
        const token = typeof message.token === 'string' ? message.token.trim() : '';
        if (!token || token.length > MAX_TOKEN_LENGTH) return ignoreMessage(origin, 'sign-in needs a token');
        const sessionText = message.sessionId == null ? null : String(message.sessionId);
        embedderOrigin = origin;
        signIn(token, parseSessionId(sessionText), sessionText);
        break;
      }
      case 'sign-out':
        embedderOrigin = origin;
        signOut();
        break;
      default:
        ignoreMessage(origin, `unknown message ${JSON.stringify(String(message.t))}`);
    }
  });
});

// MARK: Start

// The page's words, and <html lang>, in the agent's language (the browser's: docs/agent-console.md).
localizePage();
document.body.dataset.seq = '0';
setState('signed-out');
signedIn = readKept();
renderControls();
// What the address hands over, else the session kept for the tab (a reload joins it again).
const fragment = new URLSearchParams(location.hash.slice(1));
if (fragment.has('token') || fragment.has('session') || fragment.has('voice')) joinFromAddress();
else if (signedIn?.sessionId) startJoin(signedIn.token, signedIn.sessionId);
embedders.then(() => tellEmbedder({ t: 'ready', signedIn: signedIn !== null, sessionId: activeJoin?.sessionId ?? null }));

// For debugging from the browser's console only.
window.cobrowseConsole = {
  get state() { return consoleState; },
  get sessionId() { return activeJoin?.sessionId ?? null; },
  get lastSeq() { return activeJoin?.lastSeq ?? null; },
  get role() { return control.role; },
  get mode() { return control.mode; },
  /** The embedding desktops' origins (null until known; [] when not framed) and how many of their messages were ignored. */
  embedding,
  mirror,
  overlay,
  /** Sends a message as is (tests use it to check that the relay and the filter refuse what the UI never sends). */
  sendRaw: (message) => send(message),
};
