// Transport: one socket to the relay that served the SDK (the ShareSession); starts or resumes,
// reconnects, sends snapshots and changes, never buffers unbounded, and runs the page's side.
import { NodeMirror } from './mirror.js';
import { Masking, catchUpPasswordHistory } from './masking.js';
import { Serializer, snapshotFrame } from './serialize.js';
import { PageObserver } from './observe.js';
import { pageURL, fetchRules } from './rules.js';
import { showMarks, adoptMarkSheet } from './customer-mark.js';
import { SessionBar } from './bar.js';
import { AgentMarks } from './agent-marks.js';
import { AgentActions } from './actions.js';
import { showEndNotice, DEFAULT_END_NOTICE_SECONDS } from './end-notice.js';
import { sdkTranslator } from './i18n/languages.js';

/** Where the session is kept across pages of the site (cobrowse.js reads it to resume). */
const STORAGE_KEY = 'cobrowse.session';
/** Above this many unsent bytes the socket is too slow: stop queueing, snapshot when drained. */
const MAX_BUFFERED_BYTES = 4 << 20;
/**
 * How often, at most, the filter hears what the SDK's PII detectors masked (a `detected` frame,
 * counted in the session's masking record; docs/stream-protocol.md).
 */
const DETECTED_REPORT_MS = 2000;

/** The relay that served the SDK (these modules come from the same place as cobrowse.js). */
const relayURL = new URL(import.meta.url);
const relaySocketURL = `${relayURL.protocol === 'https:' ? 'wss:' : 'ws:'}//${relayURL.host}/ws/share`;
/** Where an Exit goes when there is no socket to say it on. */
const relayEndURL = `${relayURL.origin}/cobrowse/end`;

/**
 * Ends the session at the registry over HTTP, for an Exit pressed while reconnecting: the
 * registry then records that the customer ended it, not (a grace later) that they were gone.
 * A beacon is used because it is sent even if the customer closes the tab right after.
 */
function endWithoutSocket({ sessionId, customerKey }) {
  const body = JSON.stringify({ sessionId, customerKey });
  if (navigator.sendBeacon && navigator.sendBeacon(relayEndURL, body)) return;
  fetch(relayEndURL, { method: 'POST', body, keepalive: true, credentials: 'omit' }).catch(() => {});
}

export class ShareSession {
  /**
   * @param owner the API (session.js): end() for the bar's Exit, finished() when the session is over,
   *   nativeValueSetters for the agent's typing
   * @param options.testOnlyDisableMasking sends everything unmasked (tests of the filter only)
   * @param options.endNoticeSeconds how long the end notice stays (0: none)
   * @param options.language the `language` option of start (kept for the site's next pages), else the page's
   */
  constructor(owner, events, { testOnlyDisableMasking = false, endNoticeSeconds = DEFAULT_END_NOTICE_SECONDS, language } = {}) {
    this.owner = owner;
    this.language = typeof language === 'string' ? language : undefined;
    /** The session's sentences: the bar, its status and the end notice speak this page's language. */
    this.t = sdkTranslator(this.language);
    this.events = events;
    this.testOnlyDisableMasking = testOnlyDisableMasking === true;
    this.endNoticeSeconds = endNoticeSeconds;
    /** The registry's `ended` notice ({ reason, by }), which comes just before the relay's `ended`. */
    this.endedNotice = null;
    /** The address the rules in force are for (null: none fetched yet), and the fetch under way. */
    this.rulesURL = null;
    this.rulesLoading = null;
    /** A resync asked for the rules to be fetched again before the snapshot. */
    this.rulesStale = false;
    this.mirror = new NodeMirror();
    this.observer = null;
    this.bar = new SessionBar({
      exit: () => owner.end(),
      answer: (approve) => this.answerWrite(approve),
      revoke: () => this.revokeWrite(),
    }, this.t);
    this.marks = new AgentMarks();
    this.actions = new AgentActions(this, owner.nativeValueSetters);
    /** What the agent may do, as the registry's notices say: `pointer` until the customer allows `write`. */
    this.mode = 'pointer';
    this.agentPresent = false;
    /** Who is viewing (the session's open visits), as `viewersChanged` last told. */
    this.viewers = [];
    /** The lead agent's console went away without the session ending (relay's `presence`), until it is back. */
    this.leadReconnecting = false;
    /** The write request the customer answered (its deadline), so a late notice does not ask again. */
    this.answeredRequest = null;
    this.pendingRequest = null;
    this.socket = null;
    this.seq = 0;
    this.stored = null; // { sessionId, customerKey }
    this.live = false; // started/resumed and streaming
    this.needsSnapshot = false;
    this.retryDelay = 500;
    this.closedForGood = false;
    this.pageHidden = false;
    // A page leaving for the back-forward cache keeps its sockets open unless told: close
    // ours, so the relay tells the agent the customer is gone (paused) until they return.
    this.onPageHide = () => {
      this.pageHidden = true;
      const socket = this.socket;
      this.socket = null;
      this.live = false;
      if (socket) socket.close(1000, 'page hidden');
    };
    this.onPageShow = (event) => {
      this.pageHidden = false;
      if (event.persisted && !this.closedForGood && !this.socket) this.connect({ t: 'resume' }); // back from bfcache
    };
    addEventListener('pagehide', this.onPageHide);
    addEventListener('pageshow', this.onPageShow);
  }

  get sessionId() { return this.stored ? this.stored.sessionId : null; }

  /** Opens the socket and sends `opening` (start or resume); resolves on started/resumed. */
  connect(opening) {
    // The rules are fetched while the socket opens; the first snapshot waits for them.
    if (this.rulesURL !== pageURL()) this.loadRules();
    return new Promise((resolve, reject) => {
      const socket = new WebSocket(relaySocketURL);
      this.socket = socket;
      // Names this connection's sequences, so a late "paused" for an old socket is ignored.
      this.streamID = Math.random().toString(36).slice(2, 12);
      let settled = false;
      socket.onopen = () => {
        const message = opening.t === 'resume'
          ? { t: 'resume', sessionId: this.stored.sessionId, customerKey: this.stored.customerKey }
          : opening;
        socket.send(JSON.stringify(message));
      };
      socket.onmessage = (event) => {
        let message;
        try { message = JSON.parse(event.data); } catch { return; }
        if (!settled && (message.t === 'started' || message.t === 'resumed')) {
          settled = true;
          this.opened(message);
          resolve({ sessionId: message.sessionId });
        } else if (!settled && message.t === 'error') {
          settled = true;
          reject(Object.assign(new Error(message.message), { code: message.code }));
          this.refused(message, opening);
        } else {
          this.received(message);
        }
      };
      let gone = false;
      const onGone = () => {
        if (gone) return;
        gone = true;
        if (this.socket === socket) this.socket = null;
        this.live = false;
        if (!settled) {
          settled = true;
          reject(Object.assign(new Error('could not reach the co-browse service'), { code: 'unavailable' }));
          if (opening.t === 'start') return;
        }
        // The registry said the session ended, and the relay's `ended` did not make it: over all the same.
        if (this.endedNotice) this.finish(this.endedNotice.reason);
        else this.scheduleReconnect();
      };
      socket.onclose = onGone;
      // A socket the page's CSP (connect-src) refuses is closed at once with an `error` and, in
      // Chromium, no `close`: it is gone all the same (a `close` that follows changes nothing).
      socket.onerror = () => {
        if (socket.readyState === WebSocket.CLOSED) onGone();
      };
    });
  }

  opened(message) {
    if (message.t === 'started') {
      this.stored = { sessionId: message.sessionId, customerKey: message.customerKey };
      if (this.testOnlyDisableMasking) this.stored.testOnlyDisableMasking = true;
      if (this.endNoticeSeconds !== DEFAULT_END_NOTICE_SECONDS) this.stored.endNoticeSeconds = this.endNoticeSeconds;
      if (this.language !== undefined) this.stored.language = this.language;
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
    }
    this.retryDelay = 500;
    this.maxFrameBytes = message.maxFrameBytes || 4 << 20;
    this.live = true;
    // A new socket starts from the registry's view; the relay says again if the agent is away.
    this.leadReconnecting = false;
    this.needsSnapshot = true; // nothing but a snapshot goes out first (it may wait for the rules)
    this.bar.show(message.sessionId);
    if (!this.observer) {
      const serializer = new Serializer(this.mirror, (node) => node === this.bar.host || this.marks.owns(node), (root) => {
        this.observer.observe(root);
        adoptMarkSheet(root);
      }, (frameDocument) => this.observer.watchDocument(frameDocument));
      serializer.masking = this.masking || new Masking(null, this.testOnlyDisableMasking);
      this.observer = new PageObserver(this.mirror, serializer, (frame) => this.send(frame), {
        urlChanged: () => {
          if (this.rulesURL === pageURL()) return false;
          this.snapshot();
          return true;
        },
        statusChanged: () => this.snapshot(),
        // A frame loaded or navigated: a fresh copy of the page with its new document.
        frameChanged: () => {
          if (this.frameSnapshotTimer) return;
          this.frameSnapshotTimer = setTimeout(() => {
            this.frameSnapshotTimer = null;
            this.snapshot();
          }, 0);
        },
      });
      this.observer.start();
    }
    this.snapshot();
    this.events.emit(message.t, { sessionId: message.sessionId });
    this.follow(message.session);
  }

  refused(message, opening) {
    // A session that cannot be resumed (ended meanwhile, unknown) is over for this page too. A
    // start that is refused never was a session: session.js discards it and says why.
    if (opening.t === 'resume' &&
        (message.code === 'session-ended' || message.code === 'unknown-session' || message.code === 'not-allowed')) {
      this.finish(message.code === 'session-ended' ? 'ended' : message.code);
    } else {
      this.events.emit('error', { code: message.code, message: message.message });
    }
  }

  received(message) {
    switch (message.t) {
      case 'resync':
        // The filter also asks when the rules file changed: fetch them again first.
        this.rulesStale = true;
        this.snapshot();
        break;
      case 'session':
        if (message.event === 'activated') {
          this.events.emit('agentJoined', { agentId: message.session && message.session.leadAgentID });
        }
        this.events.emit('session', { event: message.event, session: message.session });
        if (message.event === 'ended' && message.session) {
          // The relay's `ended` follows at once: the bar stays as it was until then.
          this.endedNotice = { reason: message.session.endReason || 'ended', by: message.session.endedBy || null };
        } else {
          this.follow(message.session);
        }
        break;
      case 'action':
        this.agentAction(message.action);
        break;
      case 'presence':
        // The lead agent's console left without ending the session (closed, reloaded, in the
        // back-forward cache) and may come back within its grace; `connected` when it is back.
        if (message.lead === 'reconnecting' || message.lead === 'connected') {
          this.leadReconnecting = message.lead === 'reconnecting';
          this.showStatus();
        }
        break;
      case 'ended':
        this.finish(message.reason);
        break;
      case 'error':
        // The request lapsed (or was withdrawn) before the customer answered.
        if (message.code === 'no-pending-write-request') this.bar.hideConsent();
        this.events.emit('error', { code: message.code, message: message.message });
        break;
    }
  }

  /** The registry's view of the session (on every open and notice): the mode, a pending request. */
  follow(session) {
    if (!session || typeof session !== 'object' || this.closedForGood) return;
    this.agentPresent = session.state === 'active';
    this.followViewers(session);
    this.setMode(session.mode === 'write' ? 'write' : 'pointer');
    const pending = this.mode === 'pointer' && this.agentPresent && session.writeRequestPendingUntil != null &&
      session.writeRequestPendingUntil !== this.answeredRequest;
    if (pending && !this.bar.asking) {
      this.pendingRequest = session.writeRequestPendingUntil;
      this.bar.askConsent();
      this.events.emit('controlRequested', { until: session.writeRequestPendingUntil });
    } else if (!pending) {
      this.bar.hideConsent();
    }
    this.showStatus();
  }

  /**
   * Who is viewing: the session's open visits (the lead and every observer), in the order they
   * joined, each `{ name, role }` (`name` null when the agent's token carries none).
   */
  followViewers(session) {
    const visits = Array.isArray(session.visits) ? session.visits : [];
    const viewers = visits.filter((visit) => visit && !visit.leftAt)
      .map((visit) => ({ name: typeof visit.name === 'string' ? visit.name : null, role: visit.role === 'supervisor' ? 'supervisor' : 'agent' }));
    if (JSON.stringify(viewers) === JSON.stringify(this.viewers || [])) return;
    this.viewers = viewers;
    this.bar.setViewers(viewers.length);
    this.events.emit('viewersChanged', { viewers: viewers.map((viewer) => ({ ...viewer })) });
  }

  setMode(mode) {
    if (mode === this.mode) return;
    this.mode = mode;
    this.bar.setMode(mode);
    this.showStatus();
    this.events.emit('modeChanged', { mode });
  }

  showStatus() {
    if (!this.live) return; // "Reconnecting…" stays until the socket is back
    const reconnecting = this.leadReconnecting && !this.closedForGood;
    this.bar.setLead(reconnecting ? 'reconnecting' : 'connected');
    this.bar.status(reconnecting ? this.t('status.agentReconnecting')
      : this.mode === 'write' ? this.t('status.control')
        : this.agentPresent ? this.viewingSentence() : this.t('status.waiting'));
  }

  /** "Ada is viewing this page", "2 people are viewing this page", or an agent without a name. */
  viewingSentence() {
    const viewers = this.viewers || [];
    if (viewers.length >= 2) return this.t('status.viewingCount', { count: viewers.length });
    const name = viewers.length === 1 ? viewers[0].name : null;
    return name ? this.t('status.viewingNamed', { name }) : this.t('status.viewing');
  }

  /** The customer's Allow or Deny. */
  answerWrite(approve) {
    this.answeredRequest = this.pendingRequest;
    this.bar.hideConsent();
    this.sendControl({ t: 'answer-write', approve: approve === true });
  }

  /** Stop control: the agent's actions stop here at once, whatever the relay answers. */
  revokeWrite() {
    this.setMode('pointer');
    this.sendControl({ t: 'revoke-write' });
  }

  sendControl(message) {
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN) socket.send(JSON.stringify(message));
  }

  /** What the filter let through: the agent's pointer and annotations, or an action (checked again). */
  agentAction(action) {
    if (!action || typeof action !== 'object' || this.closedForGood) return;
    const x = Number(action.x);
    const y = Number(action.y);
    if (action.t === 'pointer' || action.t === 'annotate') {
      if (!Number.isFinite(x) || !Number.isFinite(y)) return;
      if (action.t === 'pointer') this.marks.pointer(x, y);
      else this.marks.annotate(x, y);
      return;
    }
    this.actions.perform(action);
  }

  scheduleReconnect() {
    if (this.closedForGood || this.pageHidden || !this.stored) return;
    this.bar.status(this.t('status.reconnecting'));
    const delay = this.retryDelay;
    this.retryDelay = Math.min(this.retryDelay * 2, 10000);
    setTimeout(() => {
      if (!this.closedForGood && !this.socket) this.connect({ t: 'resume' }).catch(() => {});
    }, delay);
  }

  /** Fetches this page's rules (the built-ins only if that fails), unless already under way. */
  loadRules() {
    const url = pageURL();
    if (this.rulesLoading && this.rulesLoading.url === url) return this.rulesLoading.promise;
    this.rulesStale = false;
    const fetched = this.testOnlyDisableMasking ? Promise.resolve(null) : fetchRules(url);
    const loading = {
      url,
      promise: fetched.then((rules) => {
        if (this.rulesLoading !== loading || this.closedForGood) return; // superseded: the page moved on
        this.rulesLoading = null;
        // A refetch that fails keeps this address's rules; a new address gets the built-ins.
        if (rules === null && this.rulesURL === url && this.masking) return;
        this.rulesURL = url;
        this.masking = new Masking(rules, this.testOnlyDisableMasking);
        if (this.observer) this.observer.serializer.masking = this.masking;
        showMarks(this.masking.markCSS, this.observer ? this.observer.serializer.shadowRoots : []);
        this.bar.explainMarks(this.masking.markDeclarations, this.masking.privateMode);
      }),
    };
    this.rulesLoading = loading;
    return loading.promise;
  }

  /** A fresh full copy of the page under its rules: restarts the sequence and the mirror. */
  snapshot() {
    if (!this.live || !this.observer) return;
    if (this.rulesURL !== pageURL() || this.rulesStale) {
      // Nothing goes out until the rules for this address are known; then the snapshot.
      this.needsSnapshot = true;
      this.observer.discardPending();
      if (!this.snapshotAwaitsRules) {
        this.snapshotAwaitsRules = true;
        this.loadRules().then(() => {
          this.snapshotAwaitsRules = false;
          this.snapshot();
        });
      }
      return;
    }
    this.observer.discardPending();
    catchUpPasswordHistory(); // a field shown in the task that asked for this snapshot
    this.mirror.reset();
    this.seq = 0;
    this.needsSnapshot = false;
    this.send(snapshotFrame(this.observer.serializer, this.streamID));
  }

  send(frame) {
    const socket = this.socket;
    if (!this.live || !socket || socket.readyState !== WebSocket.OPEN) {
      this.needsSnapshot = true; // dropped: the next connection starts from a snapshot
      return;
    }
    if (this.needsSnapshot && frame.t !== 'snapshot') return;
    if (socket.bufferedAmount > MAX_BUFFERED_BYTES) {
      // The network cannot keep up: drop, and start again from a snapshot once it drains.
      this.needsSnapshot = true;
      this.waitForDrain();
      return;
    }
    const text = JSON.stringify({ ...frame, seq: this.seq + 1 });
    // Over the relay's limit the socket would be closed: drop it, and say so once.
    if (text.length * 3 > this.maxFrameBytes && new TextEncoder().encode(text).length > this.maxFrameBytes) {
      // Nothing more goes out until a snapshot does: later frames would name nodes the
      // filter never saw. A too-large snapshot waits for the next resync request.
      this.needsSnapshot = true;
      if (frame.t !== 'snapshot') setTimeout(() => this.snapshot(), 0);
      this.events.emit('error', { code: 'frame-too-large', message: `a ${frame.t} frame is over ${this.maxFrameBytes} bytes` });
      return;
    }
    this.seq += 1;
    socket.send(text);
    if (frame.t !== 'detected') this.reportDetectionsSoon();
    return true;
  }

  reportDetectionsSoon() {
    if (this.detectedTimer) return;
    this.detectedTimer = setTimeout(() => {
      this.detectedTimer = null;
      this.reportDetections();
    }, DETECTED_REPORT_MS);
  }

  /** Tells the filter what the detectors masked since the last report (each page's rules start over). */
  reportDetections() {
    const masking = this.masking;
    if (!masking) return;
    if (this.reportedMasking !== masking) {
      this.reportedMasking = masking;
      this.reportedHits = {};
    }
    const hits = {};
    for (const [name, count] of Object.entries(masking.detectorHits)) {
      if (count > (this.reportedHits[name] || 0)) hits[name] = count - (this.reportedHits[name] || 0);
    }
    if (Object.keys(hits).length === 0) return;
    if (this.send({ t: 'detected', hits })) this.reportedHits = { ...masking.detectorHits };
  }

  waitForDrain() {
    if (this.drainTimer) return;
    this.drainTimer = setInterval(() => {
      const socket = this.socket;
      if (!socket || socket.bufferedAmount < MAX_BUFFERED_BYTES / 4) {
        clearInterval(this.drainTimer);
        this.drainTimer = null;
        if (socket) this.snapshot();
      }
    }, 250);
  }

  end() {
    const socket = this.socket;
    if (socket && socket.readyState === WebSocket.OPEN && this.live) {
      socket.send(JSON.stringify({ t: 'end', seq: this.seq + 1 }));
      // The relay answers `ended`; if it does not in time (a dead socket), say it over HTTP
      // too and clean up here all the same.
      const stored = this.stored;
      this.endTimer = setTimeout(() => {
        endWithoutSocket(stored);
        this.finish('customer-exited', 'customer');
      }, 3000);
    } else {
      if (this.stored) endWithoutSocket(this.stored);
      this.finish('customer-exited', 'customer');
    }
  }

  /**
   * A start that failed: nothing of it stays on the page (its bar was never shown; the
   * customer's mark is, if the rules came before the refusal).
   */
  discard() {
    this.closedForGood = true;
    this.live = false;
    removeEventListener('pagehide', this.onPageHide);
    removeEventListener('pageshow', this.onPageShow);
    showMarks(null, []);
    this.bar.remove();
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'start failed');
  }

  /**
   * The session is over: no bar, no listeners, no timers, no socket, nothing stored; then the
   * end notice (which goes away by itself) and the `ended` event.
   */
  finish(reason, knownBy = null) {
    if (this.closedForGood) return;
    this.closedForGood = true;
    this.live = false;
    if (this.observer) this.observer.stop();
    clearInterval(this.drainTimer);
    clearTimeout(this.frameSnapshotTimer);
    clearTimeout(this.endTimer);
    clearTimeout(this.detectedTimer);
    removeEventListener('pagehide', this.onPageHide);
    removeEventListener('pageshow', this.onPageShow);
    sessionStorage.removeItem(STORAGE_KEY);
    showMarks(null, this.observer ? this.observer.serializer.shadowRoots : []);
    this.bar.remove();
    this.marks.remove();
    this.mode = 'pointer';
    const socket = this.socket;
    this.socket = null;
    if (socket) socket.close(1000, 'session ended');
    this.owner.finished();
    // Who ended it: known here (the customer's own Exit) or as the registry's notice said
    // (the relay's `ended` names only the reason).
    const by = knownBy || (this.endedNotice && this.endedNotice.reason === reason ? this.endedNotice.by : null);
    showEndNotice({ reason, by, seconds: this.endNoticeSeconds, t: this.t });
    this.events.emit('ended', by ? { reason, by } : { reason });
  }
}
