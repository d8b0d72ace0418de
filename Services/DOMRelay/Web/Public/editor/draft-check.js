// Draft check: the relay checks every draft as `cobrowse-ctl rules check` does
// (POST /cobrowse/editor/check, for the edited page's address); the findings are listed under
// the draft, and the page outlines what the draft's rules for it match.
import { KINDS } from './draft.js';

/** The checks of the draft, the latest one counting. */
export class DraftCheck {
  /** Answers that come out of order are dropped: only the latest check counts. */
  #seq = 0;
  #ui;
  #api;
  #hooks;

  /**
   * @param ui findings (#findings)
   * @param api the admin API (admin-api.js)
   * @param hooks draft(): the Draft (draft.js); page(): the edited page (edited-page.js);
   *   notice(text); saveAllowed(valid): whether the draft may be saved; setsApplying(indexes):
   *   the draft's rule sets that apply to the page
   */
  constructor(ui, api, hooks) {
    this.#ui = ui;
    this.#api = api;
    this.#hooks = hooks;
  }

  /** Checks the draft as it is now. */
  async run() {
    const hooks = this.#hooks;
    const seq = ++this.#seq;
    const draft = hooks.draft();
    if (draft.parsed === null) {
      this.#showFindings([{ severity: 'error', location: 'draft', message: 'not JSON' }]);
      hooks.saveAllowed(false);
      return;
    }
    const page = hooks.page();
    const query = page.url ? `?url=${encodeURIComponent(page.url)}` : '';
    let result;
    try {
      result = await (await this.#api.request(`/cobrowse/editor/check${query}`, { method: 'POST', body: draft.text })).json();
    } catch (error) {
      hooks.notice(`The relay did not check the draft: ${error.message}`);
      return;
    }
    if (seq !== this.#seq) return;
    this.#showFindings(result.findings);
    hooks.saveAllowed(result.valid);
    hooks.setsApplying(result.ruleSets);
    if (result.pageRules) page.send({ t: 'rules', pageRules: result.pageRules, marks: marksOf(result.pageRules) });
  }

  #showFindings(findings) {
    this.#ui.findings.replaceChildren(...findings.map((finding) => {
      const item = document.createElement('li');
      item.dataset.severity = finding.severity;
      item.textContent = `${finding.severity}: ${finding.location}: ${finding.message}`;
      return item;
    }));
  }
}

/** What the page outlines: each selector of the page's rules with its kind. */
function marksOf(pageRules) {
  return KINDS.flatMap((kind) => (Array.isArray(pageRules[kind]) ? pageRules[kind] : []).map((selector) => ({ kind, selector })));
}
