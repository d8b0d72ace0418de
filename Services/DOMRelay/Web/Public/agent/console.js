// The agent console: sign-in, the /ws/view socket (join, reconnect, gap detection), the console
// state and notices, and the wiring of the stream to the mirror and the overlay.

import { Mirror } from './mirror.js';
import { Overlay } from './overlay.js';

const PAUSE_DEBOUNCE_MS = 1500; // in-site navigation sends a snapshot well within this
const RECONNECT_FIRST_MS = 500;
const RECONNECT_MAX_MS = 5000;
const RESYNC_RETRY_MS = 5000;

const END_SENTENCES = {
  'customer-exited': 'The customer ended the session.',
  'agent-exited': 'The agent ended the session.',
  'interaction-ended': 'The session ended because the contact-center interaction ended.',
  'interaction-transferred': 'The session ended because the interaction was transferred to another agent.',
  inactivity: 'The session ended after a period of inactivity.',
  'agent-absent': 'The session ended because no agent was connected to it.',
  administrator: 'An administrator ended the session.',
};
const PAUSED_SENTENCE = 'Paused: the customer left the page. It resumes when they come back.';

/** What the header shows for each console state. */
const STATE_LABELS = {
  'signed-out': 'signed out',
  connecting: 'connecting',
  waiting: 'waiting for the page',
  live: 'active',
  paused: 'paused',
  ended: 'ended',
  refused: 'not joined',
};

const $ = (id) => document.getElementById(id);
const ui = {
  form: $('sign-in'),
  token: $('agent-token'),
  session: $('session-id'),
  formError: $('sign-in-error'),
  sessionLabel: $('session-label'),
  sessionState: $('session-state'),
  sessionMode: $('session-mode'),
  customerURL: $('customer-url'),
  notice: $('notice'),
  iframe: $('cobrowse-view'),
};

const mirror = new Mirror(ui.iframe, { onViewScroll: () => overlay.refresh() });
const overlay = new Overlay({
  area: $('view-area'),
  stage: $('view-stage'),
  iframe: ui.iframe,
  layer: $('view-overlay'),
  cursor: $('customer-cursor'),
  viewScroll: () => mirror.viewScroll,
});

/** The current join (token, socket, sequence, timers); replaced whole on joining another session. */
let activeJoin = null;
let consoleState = 'signed-out';

// MARK: State and notices

function setState(name) {
  consoleState = name;
  document.body.dataset.state = name;
  ui.sessionState.textContent = STATE_LABELS[name] ?? name;
  if (name !== 'live') overlay.hideCursor();
}

/** One notice at a time; `kind` lets a snapshot clear a pause or reconnect notice and nothing else. */
function showNotice(text, kind) {
  ui.notice.textContent = text;
  ui.notice.dataset.kind = kind;
  ui.notice.hidden = false;
}

function clearNotice(...kinds) {
  if (kinds.length && !kinds.includes(ui.notice.dataset.kind)) return;
  ui.notice.textContent = '';
  delete ui.notice.dataset.kind;
  ui.notice.hidden = true;
}

function showSession(sessionId, session) {
  ui.sessionLabel.textContent = sessionId ?? '';
  if (session?.mode) ui.sessionMode.textContent = session.mode;
}

// MARK: Socket

function relayURL() {
  return `${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws/view`;
}

/** Starts (or switches to) a session: the view is cleared only when the session changes. */
function startJoin(token, sessionId) {
  const sameSession = activeJoin?.sessionId === sessionId;
  stopJoin();
  activeJoin = {
    token,
    sessionId,
    socket: null,
    joinedOnce: false,
    reconnectDelay: RECONNECT_FIRST_MS,
    reconnectTimer: null,
    lastSeq: null,
    needsSnapshot: true,
    pauseTimer: null,
    resyncTimer: null,
  };
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
          console.warn('relay:', message.code, message.message);
        } else {
          retryable = onRefused(current, message);
        }
        break;
      case 'session':
        showSession(current.sessionId, message.session);
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
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  setState('connecting');
  if (ui.notice.dataset.kind !== 'reconnecting') {
    showNotice(current.joinedOnce ? 'Connection to the relay lost. Reconnecting…' : 'Cannot reach the relay. Retrying…', 'reconnecting');
  }
  const delay = current.reconnectDelay;
  current.reconnectDelay = Math.min(delay * 2, RECONNECT_MAX_MS);
  current.reconnectTimer = setTimeout(() => {
    if (activeJoin === current) connect(current);
  }, delay);
}

function onJoined(current, message) {
  current.joinedOnce = true;
  current.reconnectDelay = RECONNECT_FIRST_MS;
  // The relay has asked the sharer for a snapshot; everything before it is ignored.
  current.needsSnapshot = true;
  current.lastSeq = null;
  showSession(message.sessionId ?? current.sessionId, message.session);
  clearNotice('reconnecting');
  setState('waiting');
}

/** A refused join; returns whether to try again (only when the relay says it is not ready). */
function onRefused(current, { code, message }) {
  if (code === 'unavailable') {
    showNotice(`The relay is not ready yet (${message}). Retrying…`, 'reconnecting');
    return true;
  }
  // The session ended while this console was reconnecting.
  if (code === 'session-ended' && current.joinedOnce) {
    onEnded(current, null);
    return false;
  }
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  setState('refused');
  showNotice(`Could not join session ${current.sessionId}: ${message || code || 'refused'}`, 'refused');
  showForm(current.token, current.sessionId);
  return false;
}

function onEnded(current, reason) {
  clearTimeout(current.pauseTimer);
  clearTimeout(current.resyncTimer);
  setState('ended');
  showNotice(END_SENTENCES[reason] ?? 'The session has ended.', 'ended');
}

// MARK: Stream frames

/**
 * Frames are applied in the filter's sequence. Before the first snapshot (and after a gap,
 * until the fresh snapshot) only a snapshot is taken; a gap asks the sharer for one.
 */
function onFrame(current, frame) {
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
      overlay.setViewport(frame.viewport?.w, frame.viewport?.h);
      mirror.loadSnapshot(frame);
      ui.customerURL.textContent = frame.url ?? '';
      ui.customerURL.title = [frame.title, frame.url].filter(Boolean).join('\n');
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
      overlay.setViewport(frame.w, frame.h);
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
        showNotice(PAUSED_SENTENCE, 'paused');
      }, PAUSE_DEBOUNCE_MS);
      break;
    default:
      // `resumed` and anything newer: a snapshot follows when it matters.
      break;
  }
}

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

function showForm(token, sessionId) {
  if (token != null) ui.token.value = token;
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

ui.form.addEventListener('submit', (event) => {
  event.preventDefault();
  const token = ui.token.value.trim();
  const sessionId = parseSessionId(ui.session.value);
  if (!token) return showFormError('Paste your agent token.', ui.token);
  if (!sessionId) return showFormError('The session ID is exactly 9 digits, as the customer reads it out.', ui.session);
  showFormError(null);
  startJoin(token, sessionId);
});

/**
 * `#token=…&session=…` joins at once (embedding desktops, tests). The token leaves the
 * address bar straight away; the session stays so that a reload offers it again.
 */
function joinFromAddress() {
  const params = new URLSearchParams(location.hash.slice(1));
  const token = params.get('token');
  const sessionId = parseSessionId(params.get('session'));
  if (!token && !params.has('session')) return false;
  history.replaceState(null, '', `${location.pathname}${location.search}${sessionId ? `#session=${sessionId}` : ''}`);
  if (token && sessionId) {
    startJoin(token, sessionId);
    return true;
  }
  showForm(token, sessionId ?? params.get('session'));
  if (params.has('session') && !sessionId) showFormError('The session ID is exactly 9 digits, as the customer reads it out.', ui.session);
  return false;
}

window.addEventListener('hashchange', joinFromAddress);

document.body.dataset.seq = '0';
if (!joinFromAddress()) setState('signed-out');

// For debugging from the browser's console only.
window.cobrowseConsole = {
  get state() { return consoleState; },
  get sessionId() { return activeJoin?.sessionId ?? null; },
  get lastSeq() { return activeJoin?.lastSeq ?? null; },
  mirror,
  overlay,
};
