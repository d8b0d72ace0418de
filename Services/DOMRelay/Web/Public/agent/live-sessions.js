// Live sessions: the supervisor's list of every live session (docs/agent-console.md, "Supervisor's
// live view"), from the relay's GET /cobrowse/supervision with the token kept for the tab. It
// shows while no session is joined and the token is a supervisor's, refreshes every 2 s (one
// request at a time), updates its rows in place (a focused Observe button stays focused), and its
// Observe joins a session as the console's normal join does: the registry makes a supervisor a
// read-only observer.
import { t } from './i18n/languages.js';

/** How long after each answer the list asks again. */
const REFRESH_MS = 2000;
/** The console's states in which no session is joined: the list may show. */
const NOT_JOINED = ['signed-out', 'refused', 'ended'];
/** The registry's health statuses (anything else is shown as `unknown`). */
const HEALTH_STATUSES = ['good', 'slow', 'unknown'];
/** The relay's refusal codes that say the token itself is no good (invalid or expired). */
const TOKEN_REFUSALS = ['invalid-token', 'expired-token'];
/** The table's cells after the session's row header, in order, by class. */
const CELLS = ['agent', 'channel', 'state', 'mode', 'duration', 'observers', 'health', 'watch'];

/** Nine digits in three groups, as people read them ("123 456 789"). */
function grouped(sessionId) {
  return `${sessionId.slice(0, 3)} ${sessionId.slice(3, 6)} ${sessionId.slice(6)}`;
}

/** A duration in seconds as a clock: "4:05", "1:02:09". */
function clock(seconds) {
  const hours = Math.floor(seconds / 3600);
  const minutes = Math.floor((seconds % 3600) / 60);
  const rest = String(seconds % 60).padStart(2, '0');
  return hours ? `${hours}:${String(minutes).padStart(2, '0')}:${rest}` : `${minutes}:${rest}`;
}

/** Sets an element's text only when it changes (no needless DOM mutation every 2 s). */
function setText(element, text) {
  if (element.textContent !== text) element.textContent = text;
}

/** Sets or removes a data attribute only when it changes. */
function setData(element, name, value) {
  if (value == null) delete element.dataset[name];
  else if (element.dataset[name] !== value) element.dataset[name] = value;
}

/** The supervisor's list of live sessions, shown in `#live-sessions`. */
export class LiveSessions {
  #ui;
  #state;
  #kept;
  #keep;
  #forget;
  #formError;
  #observe;
  /** The token the list is asking with (null: the list is off). */
  #token = null;
  /** Whether the list is shown (a 200 came for `#token`). */
  #shown = false;
  /** Asked by the Live sessions button: refusals are said in the form, a 200 keeps the token. */
  #explicit = false;
  /** Bumped on every start and stop: an answer to an older request is dropped. */
  #generation = 0;
  #timer = null;
  /** The last token the relay said is not a supervisor's: not asked with again by itself. */
  #notSupervisor = null;
  /** The count the status line says (it changes only when the count does). */
  #count = null;
  /** The rows by session ID. */
  #rows = new Map();

  /**
   * @param ui the list's elements: `button` (#show-live-sessions), `section`, `title`, `count`,
   *   `table`, `rows` (its tbody), `empty`, `error`, and the sign-in's `token` field
   * @param state the console's state (console-state.js): the list follows it
   * @param kept () => the token and session kept for the tab (sign-in.js), or null
   * @param keep (token) => keeps the token for the tab, as a sign-in does (no session)
   * @param forget () => forgets the kept token (the relay refused it)
   * @param formError (message, field) => says `message` in #sign-in-error (null clears it)
   * @param observe (sessionId) => joins the session with the kept token
   */
  constructor({ ui, state, kept, keep, forget, formError, observe }) {
    this.#ui = ui;
    this.#state = state;
    this.#kept = kept;
    this.#keep = keep;
    this.#forget = forget;
    this.#formError = formError;
    this.#observe = observe;
    ui.button.addEventListener('click', () => {
      const token = kept()?.token ?? ui.token.value.trim();
      if (!token) return formError(t('signIn.noToken'), ui.token);
      formError(null);
      this.#begin(token, true);
    });
    ui.rows.addEventListener('click', (event) => {
      const button = event.target.closest('button.observe');
      const sessionId = button?.closest('tr')?.dataset.session;
      if (!sessionId || button.disabled) return;
      this.#stop();
      this.#observe(sessionId);
    });
  }

  /**
   * From now on the list shows by itself whenever a token is kept, no session is joined and the
   * relay says the token is a supervisor's; it stops and hides while a session is joined.
   * Called once the console has started (so a reload that rejoins a session asks nothing).
   */
  follow() {
    this.#state.onRender(() => this.#follow());
    this.#follow();
  }

  #follow() {
    const kept = this.#kept();
    if (!NOT_JOINED.includes(this.#state.name)) {
      if (this.#token) this.#stop();
      return;
    }
    if (!kept) {
      // Signed out: the list goes (but not a request the button made with a typed token).
      if (this.#token && !this.#explicit) this.#stop();
      return;
    }
    if (kept.sessionId !== null || kept.token === this.#notSupervisor || kept.token === this.#token) return;
    this.#begin(kept.token, false);
  }

  /** Asks now with `token`; `explicit`: the Live sessions button (refusals said in the form). */
  #begin(token, explicit) {
    clearTimeout(this.#timer);
    this.#generation += 1;
    this.#token = token;
    this.#explicit = explicit;
    this.#ask(this.#generation);
  }

  /** Stops asking and hides the list. */
  #stop() {
    clearTimeout(this.#timer);
    this.#generation += 1;
    this.#token = null;
    this.#explicit = false;
    this.#shown = false;
    this.#count = null;
    this.#ui.section.hidden = true;
    this.#showError(null);
  }

  async #ask(generation) {
    const token = this.#token;
    let response = null;
    let answer = null;
    try {
      response = await fetch('/cobrowse/supervision', {
        cache: 'no-store', credentials: 'omit', headers: { Authorization: `Bearer ${token}` },
      });
      answer = await response.json().catch(() => null);
    } catch {
      response = null; // the relay is unreachable: as a failed refresh
    }
    if (generation !== this.#generation) return; // stopped, or started again, meanwhile
    if (response?.ok && answer && Array.isArray(answer.sessions)) return this.#answered(token, answer, generation);
    // Any other answer is no list; what it means is said by the refusal's code.
    const explicit = this.#explicit;
    const code = typeof answer?.code === 'string' ? answer.code : null;
    if (code === 'not-allowed' || response?.status === 403) {
      this.#notSupervisor = token;
      this.#stop();
      if (explicit) this.#formError(t('liveSessions.notSupervisor'), this.#typed(token));
      return;
    }
    if (TOKEN_REFUSALS.includes(code) || response?.status === 401) {
      if (this.#shown && !explicit) {
        // The token expired while the list was shown: the rows stay, nothing is asked again.
        clearTimeout(this.#timer);
        this.#generation += 1;
        return this.#showError(t('liveSessions.tokenRefused'));
      }
      this.#stop();
      if (explicit) {
        if (this.#kept()?.token === token) this.#forget();
        this.#formError(t('liveSessions.tokenRefused'), this.#ui.token);
      }
      return;
    }
    // `unavailable` (503), another refusal, a body that is not the list, or no answer at all.
    if (this.#shown) {
      this.#showError(t('liveSessions.failed'));
      this.#timer = setTimeout(() => this.#ask(generation), REFRESH_MS);
      return;
    }
    this.#stop();
    if (explicit) this.#formError(t('liveSessions.unavailable'), null);
  }

  /** The token field when the token was typed there (its error marks it), else nothing to mark. */
  #typed(token) {
    return this.#kept()?.token === token ? null : this.#ui.token;
  }

  #answered(token, answer, generation) {
    const first = !this.#shown;
    this.#shown = true;
    if (this.#explicit) {
      // The button's 200: the token is kept for the tab as a sign-in keeps it.
      this.#explicit = false;
      if (this.#kept()?.token !== token) this.#keep(token);
    }
    this.#showError(null);
    this.#render(answer);
    this.#ui.section.hidden = false;
    if (first && document.activeElement === this.#ui.button) this.#ui.title.focus();
    this.#timer = setTimeout(() => this.#ask(generation), REFRESH_MS);
  }

  #showError(message) {
    const error = this.#ui.error;
    setText(error, message ?? '');
    error.hidden = !message;
  }

  /** The rows for the answer's sessions, oldest first, each updated in place. */
  #render({ at, sessions }) {
    const ui = this.#ui;
    const now = Number.isFinite(Date.parse(at)) ? Date.parse(at) : Date.now();
    const live = sessions.filter((session) => /^[0-9]{9}$/.test(String(session?.sessionID ?? '')));
    // The focus is put back if a move or removal took it from a button of the list.
    const focused = ui.rows.contains(document.activeElement) ? document.activeElement : null;
    const wanted = new Set(live.map((session) => String(session.sessionID)));
    for (const [sessionId, row] of this.#rows) {
      if (wanted.has(sessionId)) continue;
      row.remove();
      this.#rows.delete(sessionId);
    }
    let next = ui.rows.firstElementChild;
    for (const session of live) {
      const sessionId = String(session.sessionID);
      let row = this.#rows.get(sessionId);
      if (!row) {
        row = this.#newRow(sessionId);
        this.#rows.set(sessionId, row);
      }
      this.#fill(row, session, now);
      if (row === next) next = next.nextElementSibling;
      else ui.rows.insertBefore(row, next);
    }
    if (focused && document.activeElement !== focused) {
      if (focused.isConnected) focused.focus();
      else ui.title.focus(); // its session ended: the focus stays in the list
    }
    const count = live.length;
    ui.table.hidden = count === 0;
    ui.empty.hidden = count !== 0;
    if (count !== this.#count) {
      this.#count = count;
      setText(ui.count, t('liveSessions.count', { count }));
    }
  }

  #newRow(sessionId) {
    const row = document.createElement('tr');
    row.dataset.session = sessionId;
    const header = document.createElement('th');
    header.scope = 'row';
    header.className = 'session';
    header.textContent = grouped(sessionId);
    row.append(header);
    for (const name of CELLS) {
      const cell = document.createElement('td');
      cell.className = name;
      row.append(cell);
    }
    const health = row.querySelector('td.health');
    for (const part of ['health-status', 'health-latency', 'health-resyncs']) {
      const span = document.createElement('span');
      span.className = part;
      health.append(span);
    }
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'observe';
    button.textContent = t('liveSessions.observe');
    button.setAttribute('aria-label', t('liveSessions.observeLabel', { session: grouped(sessionId) }));
    row.querySelector('td.watch').append(button);
    return row;
  }

  /** One session's cells (`now`: the registry's clock when it answered). */
  #fill(row, session, now) {
    const cell = (name) => row.querySelector(`td.${name}`);
    const state = session.state === 'active' ? 'active' : 'idle';
    const mode = session.mode === 'write' ? 'write' : 'pointer';
    const health = HEALTH_STATUSES.includes(session.healthStatus) ? session.healthStatus : 'unknown';
    setData(row, 'state', state);
    setData(row, 'mode', mode);
    setData(row, 'health', health);

    setText(cell('agent'), session.leadAgentName || session.leadAgentID || t('liveSessions.noAgent'));
    const channel = String(session.channel ?? '');
    setText(cell('channel'), t.has(`liveSessions.channel.${channel}`) ? t(`liveSessions.channel.${channel}`) : channel);
    setText(cell('state'), t(`liveSessions.state.${state}`));
    const modeWord = t(`mode.${mode}`);
    setText(cell('mode'), session.writeRequestPending === true ? t('liveSessions.writeRequested', { mode: modeWord }) : modeWord);

    // Since an agent joined, else since the customer started; both by the registry's clock.
    const since = Date.parse(session.joinedAt ?? session.createdAt);
    const seconds = Number.isFinite(since) ? Math.max(0, Math.round((now - since) / 1000)) : 0;
    setText(cell('duration'), t(session.joinedAt ? 'liveSessions.sinceJoined' : 'liveSessions.sinceCreated', { time: clock(seconds) }));
    setText(cell('observers'), String(Array.isArray(session.observers) ? session.observers.length : 0));

    const report = session.health; // the masking filter's last window, or null
    const latency = report && report.latencyP50Milliseconds != null && report.latencyMaxMilliseconds != null
      ? t('liveSessions.latency', { p50: report.latencyP50Milliseconds, max: report.latencyMaxMilliseconds }) : '';
    setText(row.querySelector('.health-status'), t(`liveSessions.health.${health}`));
    setText(row.querySelector('.health-latency'), latency);
    setText(row.querySelector('.health-resyncs'), t('liveSessions.resyncs', { count: Number(session.recentResyncs) || 0 }));

    // The registry lets a supervisor watch only a session an agent has joined.
    const button = row.querySelector('button.observe');
    const observable = state === 'active';
    if (button.disabled === observable) button.disabled = !observable;
  }
}
