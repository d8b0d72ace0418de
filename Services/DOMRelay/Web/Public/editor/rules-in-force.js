// Rules in force: the relay's rules file (GET /cobrowse/editor/rules), the draft's changes from
// it (a line diff), and what becomes of the draft: saved (PUT /cobrowse/rules, then waiting
// until a masking filter says it enforces the saved file), downloaded, or reverted to it.
import { lineDiff } from './diff.js';

/** After a save: how long to wait for a masking filter to say it enforces the new file. */
const IN_FORCE_WITHIN_MS = 60000;
/** While waiting, how soon to check again (a new snapshot, and its preview, asks a filter). */
const RECHECK_MS = 1000;

/** The rules file in force and the draft's way to it. */
export class RulesInForce {
  /** `{ source, hash, file, writable }` from the relay (null until loaded). */
  current = null;
  /** A saved file not yet reported in force by a filter: `{ hash, until }`. */
  #awaitingFilter = null;
  #ui;
  #api;
  #hooks;

  /**
   * @param ui save, download, revert, inForce (#in-force), diff (#diff)
   * @param api the admin API (admin-api.js)
   * @param hooks draft(): the Draft (draft.js); check(): checks the draft again; notice(text)
   */
  constructor(ui, api, hooks) {
    this.#ui = ui;
    this.#api = api;
    this.#hooks = hooks;
    ui.save.addEventListener('click', () => this.#save());
    ui.download.addEventListener('click', () => this.#download());
    ui.revert.addEventListener('click', () => this.current && hooks.draft().setText(this.current.source));
  }

  /** Loads the rules in force and makes them the draft; throws when the relay refuses the admin. */
  async load() {
    const response = await this.#api.request('/cobrowse/editor/rules');
    this.current = await response.json();
    this.#api.accepted();
    this.#ui.save.title = this.current.writable ? '' : 'The relay cannot write its rules file (MASKING_RULES unset or read-only): download it instead.';
    this.#hooks.draft().setText(this.current.source);
    this.#show();
  }

  /** Save is enabled for a valid draft when the relay can write its file. */
  allowSave(valid) {
    this.#ui.save.disabled = !valid || !(this.current && this.current.writable);
  }

  /** A filter said which rules it enforces: after a save, the wait is over when it names the saved file. */
  noteFilterRules(hash) {
    const waiting = this.#awaitingFilter;
    if (!waiting) return;
    if (hash === waiting.hash) {
      this.#awaitingFilter = null;
      this.#show(true);
    } else if (Date.now() > waiting.until) {
      this.#awaitingFilter = null;
      this.#hooks.notice('No masking filter reported the saved rules in force within a minute: check the filters\' MASKING_RULES file.');
      this.#show();
    } else {
      setTimeout(() => this.#hooks.check(), RECHECK_MS);
    }
  }

  /** Shows the draft's changes from the rules in force ("No changes." when there are none). */
  showDiff() {
    if (!this.current) return;
    const ui = this.#ui;
    const normalized = (text) => {
      try { return `${JSON.stringify(JSON.parse(text), null, 2)}\n`; } catch { return text; }
    };
    const lines = lineDiff(normalized(this.current.source), normalized(this.#hooks.draft().text));
    const changed = lines.some((line) => line.op !== ' ');
    ui.diff.replaceChildren(...(changed ? lines : []).map((line) => {
      const row = document.createElement('span');
      row.className = line.op === '+' ? 'added' : line.op === '-' ? 'removed' : '';
      row.textContent = `${line.op} ${line.text}\n`;
      return row;
    }));
    if (!changed) ui.diff.textContent = 'No changes.';
    ui.diff.dataset.changed = changed ? 'true' : 'false';
  }

  #show(filterConfirmed = false) {
    if (!this.current) return;
    const ui = this.#ui;
    const where = this.current.file ? this.current.file : 'no file: the built-in rules only';
    ui.inForce.textContent = `In force: ${this.current.hash.slice(0, 12)} (${where})`
      + (this.#awaitingFilter ? '; waiting for a masking filter to load it…' : filterConfirmed ? '; a masking filter enforces it.' : '');
    ui.inForce.dataset.filterConfirmed = filterConfirmed ? 'true' : 'false';
  }

  async #save() {
    const ui = this.#ui;
    const text = this.#hooks.draft().text;
    ui.save.disabled = true;
    const response = await this.#api.request('/cobrowse/rules', { method: 'PUT', body: text }).catch((error) => ({ ok: false, error }));
    const answer = response.json ? await response.json().catch(() => ({})) : {};
    if (!response.ok) {
      this.#hooks.notice(`Not saved: ${answer.error || (response.error && response.error.message) || response.status}`);
      ui.save.disabled = false;
      return;
    }
    this.current = { ...this.current, source: text, hash: answer.hash };
    this.#awaitingFilter = { hash: answer.hash, until: Date.now() + IN_FORCE_WITHIN_MS };
    this.#hooks.notice(`Saved to ${answer.file}.`);
    this.#show();
    this.showDiff();
    this.#hooks.check();
  }

  #download() {
    const link = document.createElement('a');
    link.href = URL.createObjectURL(new Blob([this.#hooks.draft().text], { type: 'application/json' }));
    link.download = 'rules.json';
    link.click();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }
}
