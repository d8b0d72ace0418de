// Share session: one co-browse session as this page runs it, over its transport (transport.js):
// the page's rules, snapshots and changes streamed (in sequence and bounded: outbound-stream.js;
// what the PII detectors masked: detection-reports.js), what the registry's notices say (the
// agent, viewers, the mode, a request for control) shown in the bar, the agent's pointer,
// annotations and actions, and the end. session.js keeps at most one of these on the page.
import { Mirror } from './mirror.js';
import { Masking } from './masking.js';
import { catchUpPasswordHistory } from './password-history.js';
import { Serializer, snapshotFrame } from './serialize.js';
import { PageObserver } from './observe.js';
import { pageURL, fetchRules } from './rules.js';
import { showMarks, adoptMarkSheet } from './customer-mark.js';
import { SessionBar } from './bar.js';
import { AgentMarks } from './agent-marks.js';
import { AgentActions } from './actions.js';
import { showEndNotice, DEFAULT_END_NOTICE_SECONDS } from './end-notice.js';
import { sdkTranslator } from './i18n/languages.js';
import { ShareTransport, endWithoutSocket } from './transport.js';
import { OutboundStream } from './outbound-stream.js';
import { DetectionReports } from './detection-reports.js';

/** Where the session is kept across pages of the site (cobrowse.js reads it to resume). */
const STORAGE_KEY = 'cobrowse.session';
/** How long an Exit waits for the relay's `ended` before saying it over HTTP and cleaning up. */
const END_ANSWER_MS = 3000;

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
    this.mirror = new Mirror();
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
    this.stored = null; // { sessionId, customerKey }
    this.closedForGood = false;
    this.transport = new ShareTransport({
      // The rules are fetched while the socket opens; the first snapshot waits for them.
      connecting: () => {
        if (this.rulesURL !== pageURL()) this.loadRules();
      },
      credentials: () => this.stored,
      opened: (message) => this.opened(message),
      refused: (message, opening) => this.refused(message, opening),
      received: (message) => this.received(message),
      lost: () => this.lost(),
    });
    this.detections = new DetectionReports(() => this.masking, (frame) => this.send(frame));
    this.outbound = new OutboundStream(this.transport, {
      snapshot: () => this.snapshot(),
      tooLarge: (frame, maxFrameBytes) =>
        this.events.emit('error', { code: 'frame-too-large', message: `a ${frame.t} frame is over ${maxFrameBytes} bytes` }),
      sent: (frame) => this.detections.frameSent(frame),
    });
  }

  get sessionId() { return this.stored ? this.stored.sessionId : null; }

  /** Opens the socket and sends `opening` (start or resume); resolves on started/resumed. */
  connect(opening) {
    return this.transport.connect(opening);
  }

  /** Started or resumed, and streaming. */
  get live() {
    return this.transport.live;
  }

  opened(message) {
    if (this.testOnlyDisableMasking && message.testHooks !== true) {
      // Only a relay in dev mode says `testHooks`: anywhere else the page is masked as always,
      // under its real rules (the first snapshot waits for them).
      console.warn('CoBrowse: testOnlyDisableMasking ignored: the relay is not in dev mode');
      this.testOnlyDisableMasking = false;
      this.rulesLoading = null;
      this.rulesURL = null;
      this.masking = null;
      if (this.observer) this.observer.serializer.masking = new Masking(null, false);
      this.loadRules();
    }
    if (message.t === 'started') {
      this.stored = { sessionId: message.sessionId, customerKey: message.customerKey };
      if (this.testOnlyDisableMasking) this.stored.testOnlyDisableMasking = true;
      if (this.endNoticeSeconds !== DEFAULT_END_NOTICE_SECONDS) this.stored.endNoticeSeconds = this.endNoticeSeconds;
      if (this.language !== undefined) this.stored.language = this.language;
      sessionStorage.setItem(STORAGE_KEY, JSON.stringify(this.stored));
    }
    // A new socket starts from the registry's view; the relay says again if the agent is away.
    this.leadReconnecting = false;
    this.outbound.needsSnapshot = true; // nothing but a snapshot goes out first (it may wait for the rules)
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
    this.transport.sendMessage(message);
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

  /** The socket went: over if the registry said it ended (the relay's `ended` did not make it), else back soon. */
  lost() {
    if (this.endedNotice) this.finish(this.endedNotice.reason);
    else if (this.transport.reconnectLater()) this.bar.status(this.t('status.reconnecting'));
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
      this.outbound.needsSnapshot = true;
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
    this.outbound.restart();
    this.send(snapshotFrame(this.observer.serializer, this.transport.streamID));
  }

  /** Sends a frame of the page, next in sequence, unless the stream's bounds drop it (true: sent). */
  send(frame) {
    return this.outbound.send(frame);
  }

  /** The customer's Exit: the relay is told (over HTTP if there is no socket), and the session is over here. */
  end() {
    if (this.transport.open) {
      this.transport.sendMessage({ t: 'end', seq: this.outbound.seq + 1 });
      // The relay answers `ended`; if it does not in time (a dead socket), say it over HTTP
      // too and clean up here all the same.
      const stored = this.stored;
      this.endTimer = setTimeout(() => {
        endWithoutSocket(stored);
        this.finish('customer-exited', 'customer');
      }, END_ANSWER_MS);
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
    this.transport.close('start failed');
    showMarks(null, []);
    this.bar.remove();
  }

  /**
   * The session is over: no bar, no listeners, no timers, no socket, nothing stored; then the
   * end notice (which goes away by itself) and the `ended` event.
   */
  finish(reason, knownBy = null) {
    if (this.closedForGood) return;
    this.closedForGood = true;
    this.transport.close('session ended');
    if (this.observer) this.observer.stop();
    clearTimeout(this.frameSnapshotTimer);
    clearTimeout(this.endTimer);
    this.detections.stop();
    sessionStorage.removeItem(STORAGE_KEY);
    showMarks(null, this.observer ? this.observer.serializer.shadowRoots : []);
    this.bar.remove();
    this.marks.remove();
    this.mode = 'pointer';
    this.owner.finished();
    // Who ended it: known here (the customer's own Exit) or as the registry's notice said
    // (the relay's `ended` names only the reason).
    const by = knownBy || (this.endedNotice && this.endedNotice.reason === reason ? this.endedNotice.by : null);
    showEndNotice({ reason, by, seconds: this.endNoticeSeconds, t: this.t });
    this.events.emit('ended', by ? { reason, by } : { reason });
  }
}
