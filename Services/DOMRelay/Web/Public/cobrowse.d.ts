/**
 * TypeScript declarations of the co-browse sharer SDK: `window.CoBrowse`, as `cobrowse.js`
 * defines it (docs/sdk.md). Every relay serves this file next to the SDK, at `/cobrowse.d.ts`.
 *
 * Copy it into your project and include it in the compilation (tsconfig `include` or `files`):
 * `window.CoBrowse` and the global `CoBrowse` are then typed, and the types below can be
 * imported (`import type { CoBrowseEndedEvent } from './cobrowse'`). It describes version 1 of
 * the API (`/v1/cobrowse.js`), and needs TypeScript 4.1 or newer.
 *
 * @packageDocumentation
 */

/**
 * What the agent may do on the customer's page: `pointer` (point and annotate; every session
 * starts so) or `write` (act on the page: click, type, scroll, navigate), which only the
 * customer can allow, in the SDK's bar, and take back.
 */
export type CoBrowseMode = 'pointer' | 'write';

/**
 * Why a session ended (the `ended` event's `reason`).
 *
 * The registry's reasons:
 * - `customer-exited`: the customer ended it (the bar's Exit, or `CoBrowse.end()`);
 * - `agent-exited`: the agent ended it;
 * - `interaction-ended`, `interaction-transferred`, `interaction-conferenced`: the contact
 *   center's interaction ended, was transferred to another agent, or became a conference;
 * - `inactivity`: nothing happened for the channel's inactivity timeout;
 * - `no-agent-joined`: no agent joined in time;
 * - `agent-absent`: the agent's console was gone longer than its grace;
 * - `customer-absent`: the customer's page was gone (tab closed, left the site) longer than its grace;
 * - `administrator`: an administrator ended it.
 *
 * And, when a later page of the site cannot resume the stored session: `ended` (it ended
 * meanwhile), `unknown-session` or `not-allowed` (the registry does not know it for this browser).
 */
export type CoBrowseEndReason =
  | 'customer-exited'
  | 'agent-exited'
  | 'interaction-ended'
  | 'interaction-transferred'
  | 'interaction-conferenced'
  | 'inactivity'
  | 'no-agent-joined'
  | 'agent-absent'
  | 'customer-absent'
  | 'administrator'
  | 'ended'
  | 'unknown-session'
  | 'not-allowed';

/**
 * Who did something to a session, as the registry records it: `customer`, `agent:<id>`,
 * `supervisor:<id>`, `system:<service>` (e.g. `system:interaction-watch` for the contact
 * center's events and the timeouts) or `administrator`.
 */
export type CoBrowseActor =
  | 'customer'
  | 'administrator'
  | `agent:${string}`
  | `supervisor:${string}`
  | `system:${string}`;

/**
 * The `code` of an error: of the `Error` that `CoBrowse.start` rejects with, and of the `error`
 * event. The registry's and the relay's refusals (docs/registry.md, docs/stream-protocol.md) and
 * the SDK's own codes:
 * - `invalid-token`: the interaction token is not one the registry accepts (signature, shape,
 *   issuer, a token of another kind);
 * - `expired-token`: the interaction token has expired: get a fresh one from the contact center;
 * - `interaction-ended`: the interaction is over: no session can start in it;
 * - `malformed-request`: the relay or the registry could not read the request;
 * - `unsupported-version`: the registry does not speak this version of its protocol;
 * - `unavailable`: the co-browse service cannot be reached (the SDK's parts did not load, the
 *   socket could not open or closed before the relay answered, or the relay has no registry);
 * - `too-many-attempts`: this address made too many wrong attempts (session ids, keys, voice
 *   codes) lately;
 * - `code-unknown`, `code-expired`, `code-used`: a voice code (`startWithCode`) is not right, is
 *   older than its 5 minutes, or already started a session;
 * - `cancelled`: the customer closed `startWithCode`'s code prompt;
 * - `unknown-session`, `session-ended`, `not-allowed`, `not-active`: the session is not (or no
 *   longer) one this page may act on;
 * - `write-mode-disabled`: the registry refuses write mode altogether;
 * - `no-pending-write-request`: the agent's request for control lapsed before the customer answered;
 * - `not-supported`, `malformed-frame`: the relay refused a message of the SDK (an SDK that does
 *   not match the relay);
 * - `frame-too-large`: a frame was over the relay's limit (`MAX_FRAME_BYTES`) and was not sent;
 *   the agent's view catches up with the next snapshot.
 */
export type CoBrowseErrorCode =
  | 'invalid-token'
  | 'expired-token'
  | 'interaction-ended'
  | 'malformed-request'
  | 'unsupported-version'
  | 'unavailable'
  | 'too-many-attempts'
  | 'code-unknown'
  | 'code-expired'
  | 'code-used'
  | 'cancelled'
  | 'unknown-session'
  | 'session-ended'
  | 'not-allowed'
  | 'not-active'
  | 'write-mode-disabled'
  | 'no-pending-write-request'
  | 'not-supported'
  | 'malformed-frame'
  | 'frame-too-large';

/**
 * What `CoBrowse.start` rejects with: an `Error` whose `message` is a sentence for people and
 * whose `code` is for programs.
 */
export interface CoBrowseError extends Error {
  /**
   * Why: the registry's or relay's refusal, or `unavailable`. Absent only when `start` was
   * called without an `interactionToken` (a mistake in the page, not a refusal).
   */
  code?: CoBrowseErrorCode;
}

/** What `CoBrowse.start` takes. */
export interface CoBrowseStartOptions {
  /**
   * The contact center's token for the customer's live interaction (a JWT for their chat,
   * messaging or voice interaction), fetched by the page from its own back end.
   */
  interactionToken: string;
  /**
   * How many seconds the end notice (the sentence that says who ended co-browsing, or why)
   * stays on the page: default 8; `0` for none (the site tells the customer itself, from the
   * `ended` event). Kept with the session, so later pages of the session use it too. Anything
   * but a finite number ≥ 0 gets the default, with a console warning.
   */
  endNoticeSeconds?: number;
  /**
   * How many seconds the start failure notice (the sentence that tells the customer why
   * co-browsing could not start: an expired link, an ended conversation, a service that cannot
   * be reached) stays on the page when `start` fails: default 15; `0` for none (the site tells
   * the customer itself, from the rejection). Anything but a finite number ≥ 0 gets the
   * default, with a console warning.
   */
  failureNoticeSeconds?: number;
  /**
   * The language of the SDK's own words (the bar, its consent prompt, the notices, the code
   * prompt), as a BCP 47 tag: `'en'` or `'ja'` (`'ja-JP'` gets `'ja'`). Without it, or for a
   * language the SDK has no words in (with a console warning), the page's `<html lang>` decides,
   * else English. Kept with the session, so later pages of the session use it too.
   */
  language?: string;
  /**
   * **Tests only.** `true` shares the page with no masking at all in the browser (no rules, no
   * built-ins, passwords included; scripts and handlers are still dropped), as a stale or
   * bypassed SDK would, so that tests can check the masking filter alone. Never on a real site:
   * the unmasked page leaves the customer's browser.
   */
  testOnlyDisableMasking?: boolean;
}

/** What `CoBrowse.startWithCode` takes besides the code: `start`'s options without the token. */
export type CoBrowseCodeStartOptions = Omit<CoBrowseStartOptions, 'interactionToken'>;

/** What `CoBrowse.start` resolves with. */
export interface CoBrowseStartResult {
  /** The session's nine-digit ID, which the customer reads out to the agent. */
  sessionId: string;
}

/** A step in the history of a session's mode (`CoBrowseSession.modeChanges`). */
export interface CoBrowseModeChange {
  /** What happened: the agent `requested` control, the customer `approved` or `denied` it, the request `timed-out`, or control was `revoked`. */
  kind: 'requested' | 'approved' | 'denied' | 'timed-out' | 'revoked';
  /** When, as an ISO 8601 date with milliseconds (`2026-03-01T09:30:00.000Z`). */
  at: string;
  /** Who. */
  by: CoBrowseActor;
}

/** What masking did in a session, as the masking filter reported it to the registry (no page content). */
export interface CoBrowseMaskingRecord {
  /** The SHA-256 (hex) of each rules file the session was masked under, in the order they came into force. */
  rulesHashes: string[];
  /** Elements masked, blocked or image-masked. */
  maskedElements: number;
  /** Form values sent as `****`. */
  maskedValues: number;
  /** What each PII detector of the filter masked, by detector name. */
  detectorHits: Record<string, number>;
  /** What each PII detector of the SDK masked in the customer's browser, by detector name. */
  sdkDetectorHits: Record<string, number>;
  /** Agent actions the filter refused (the first 200). */
  droppedActions: Array<{ at: string; action: string; reason: string }>;
  /** Every agent action the filter refused. */
  droppedActionsTotal: number;
}

/** The registry's view of the session, as the `session` event carries it. Dates are ISO 8601 strings with milliseconds. */
export interface CoBrowseSession {
  /** The session's nine-digit ID. */
  id: string;
  /** `idle` (no agent yet), `active` (a lead agent joined) or `ended`. */
  state: 'idle' | 'active' | 'ended';
  /** What the agent may do. */
  mode: CoBrowseMode;
  /** Until when the agent's request for control waits for the customer's answer; absent when none is pending. */
  writeRequestPendingUntil?: string;
  /** The contact center's interaction the session belongs to. */
  interactionID: string;
  /** The interaction's channel. */
  channel: 'chat' | 'messaging' | 'voice';
  /** The lead agent's ID, once one joined. */
  leadAgentID?: string;
  /** The IDs of the supervisors who watched (each once). */
  observers: string[];
  /** Who watched and when: the lead from joining, each observer from each join to its leave. */
  visits: CoBrowseVisit[];
  /** When the customer started the session. */
  createdAt: string;
  /** When the lead agent joined. */
  joinedAt?: string;
  /** When the session ended. */
  endedAt?: string;
  /** Why the session ended (the registry's reasons only). */
  endReason?: Exclude<CoBrowseEndReason, 'ended' | 'unknown-session' | 'not-allowed'>;
  /** Who ended the session. */
  endedBy?: CoBrowseActor;
  /** The history of the session's mode. */
  modeChanges: CoBrowseModeChange[];
  /** What masking did so far; absent until the masking filter first reported. */
  masking?: CoBrowseMaskingRecord;
}

/** One agent's time in the session. */
export interface CoBrowseVisit {
  /** The agent's ID, as the contact center's token names them. */
  agentID: string;
  /** The display name the agent's token carries; absent without one. */
  name?: string;
  /** `agent` (the lead) or `supervisor` (an observer). */
  role: 'agent' | 'supervisor';
  /** When they joined (ISO 8601, with milliseconds). */
  joinedAt: string;
  /** When they left; absent while they are viewing. */
  leftAt?: string;
}

/** Someone viewing the page now (the `viewersChanged` event). */
export interface CoBrowseViewer {
  /** The display name their token carries, or null. */
  name: string | null;
  /** `agent` (the lead) or `supervisor` (an observer). */
  role: 'agent' | 'supervisor';
}

/** The `viewersChanged` event. */
export interface CoBrowseViewersChangedEvent {
  /** Everyone viewing now, in the order they joined (the lead first). */
  viewers: CoBrowseViewer[];
}

/**
 * A change in the session's life, as the registry announced it (`session` event's `event`):
 * `created`, `activated` (the lead agent joined), `observer-joined` (a supervisor watches),
 * `observer-left` (a supervisor's console closed),
 * `mode-requested` (the agent asks for control), `mode-request-declined` (denied or timed out),
 * `mode-changed`, `ended`.
 */
export type CoBrowseSessionEventKind =
  | 'created'
  | 'activated'
  | 'observer-joined'
  | 'observer-left'
  | 'mode-requested'
  | 'mode-request-declined'
  | 'mode-changed'
  | 'ended';

/** The `started` and `resumed` events. */
export interface CoBrowseStartedEvent {
  /** The session's nine-digit ID. */
  sessionId: string;
}

/** The `agentJoined` event. */
export interface CoBrowseAgentJoinedEvent {
  /** The lead agent's ID, as the contact center's token names them (undefined if the registry named none). */
  agentId: string | undefined;
}

/** The `session` event: every lifecycle change of the session. */
export interface CoBrowseSessionEvent {
  /** What changed. */
  event: CoBrowseSessionEventKind;
  /** The session after the change. */
  session: CoBrowseSession;
}

/** The `controlRequested` event: the agent asks for control, and the bar asks the customer. */
export interface CoBrowseControlRequestedEvent {
  /** Until when the request waits for the customer's answer (ISO 8601, with milliseconds). */
  until: string;
}

/** The `modeChanged` event. */
export interface CoBrowseModeChangedEvent {
  /** `write` when the customer allowed control; `pointer` when they took it back or the request ended. */
  mode: CoBrowseMode;
}

/** The `ended` event, once everything of the session is gone from the page. */
export interface CoBrowseEndedEvent {
  /** Why the session ended. */
  reason: CoBrowseEndReason;
  /**
   * Who ended it, as the registry recorded it; present when known (the customer's own Exit,
   * or the relay told the page), absent for `ended`, `unknown-session` and `not-allowed`.
   */
  by?: CoBrowseActor;
}

/**
 * The `error` event: the relay refused something: a start (as well as `start`'s rejection), a
 * later page's resume that can be tried again, an answer or a message of the SDK; or a frame was
 * too large to send. The session, if there is one, goes on.
 */
export interface CoBrowseErrorEvent {
  /** What, for programs. */
  code: CoBrowseErrorCode;
  /** What, for people. */
  message: string;
}

/** Each event `CoBrowse.on` takes, and what its handler gets. */
export interface CoBrowseEventMap {
  /** A session started on this page (`CoBrowse.start`). */
  started: CoBrowseStartedEvent;
  /** The session carries on: on every later page of the site, and after a reconnect. */
  resumed: CoBrowseStartedEvent;
  /** The lead agent joined and sees the page. */
  agentJoined: CoBrowseAgentJoinedEvent;
  /** Any lifecycle change of the session, with the registry's view of it. */
  session: CoBrowseSessionEvent;
  /** Who is viewing the page changed (an agent or observer joined or left). */
  viewersChanged: CoBrowseViewersChangedEvent;
  /** The agent asks for control of the page; the bar asks the customer (Allow / Deny). */
  controlRequested: CoBrowseControlRequestedEvent;
  /** What the agent may do changed (also on a later page that resumes a session in write mode). */
  modeChanged: CoBrowseModeChangedEvent;
  /** The session is over and the SDK left the page as it was (but for its end notice). */
  ended: CoBrowseEndedEvent;
  /** The relay refused something, or a frame was too large; the session, if any, goes on. */
  error: CoBrowseErrorEvent;
}

/** The name of an event of `CoBrowse.on`. */
export type CoBrowseEventName = keyof CoBrowseEventMap;

/** `window.CoBrowse`: the sharer SDK's API (frozen; defined by `cobrowse.js`). */
export interface CoBrowseAPI {
  /**
   * Creates a session in the registry and starts sharing this page. Resolves with the session's
   * ID; rejects with a {@link CoBrowseError} (`code`: the registry's refusal, such as
   * `invalid-token` or `expired-token`, or `unavailable`). Called while a session runs
   * (including one resumed from an earlier page), it resolves with that session.
   */
  start(options: CoBrowseStartOptions): Promise<CoBrowseStartResult>;
  /**
   * Starts sharing inside a voice call, with the six-digit code the call's agent reads out
   * (docs/sdk.md, "Voice calls"): with `code`, at once (a refusal shows the start failure
   * notice); without one, the SDK's own prompt asks for it, says there what is wrong with a
   * refused code (`code-unknown`, `code-expired`, `code-used`, …) and lets the customer try
   * again. Resolves as `start` does; rejects like it, or with `cancelled` when the customer
   * closes the prompt.
   */
  startWithCode(code?: string | null, options?: CoBrowseCodeStartOptions): Promise<CoBrowseStartResult>;
  /**
   * Ends the session for everyone, as the customer (as the bar's Exit does), also while the SDK
   * reconnects (then over HTTP). Does nothing without a session. The `ended` event follows.
   */
  end(): void;
  /**
   * Subscribes `handler` to `event`; returns a function that unsubscribes it. Subscriptions
   * made before a session exists (or on the loading snippet's stub) hold for every session of
   * the page. A handler that throws is logged and does not stop the others.
   */
  on<E extends CoBrowseEventName>(event: E, handler: (detail: CoBrowseEventMap[E]) => void): () => void;
  /** The live session's nine-digit ID, or `null` without one. */
  readonly sessionId: string | null;
  /** What the agent may do in the live session, or `null` without one. */
  readonly mode: CoBrowseMode | null;
}

declare global {
  interface Window {
    /** The co-browse sharer SDK (cobrowse.js); read-only. */
    readonly CoBrowse: CoBrowseAPI;
  }
  /** The co-browse sharer SDK (cobrowse.js): `window.CoBrowse`. */
  const CoBrowse: CoBrowseAPI;
}
