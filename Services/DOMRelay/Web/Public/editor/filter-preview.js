// Filter preview: each snapshot of the edited page is masked by a masking filter under the
// draft (POST /cobrowse/editor/preview) and rebuilt in #preview-frame with the console's own
// rebuilding code, with a line saying what the filter masked and its detectors found.
import { RebuiltPage } from '../agent/rebuild.js';

/** The page as an agent would see it under the draft. */
export class FilterPreview {
  /** Answers that come out of order are dropped: only the latest preview counts. */
  #seq = 0;
  #page;
  #ui;
  #api;
  #hooks;

  /**
   * @param ui preview (#preview-frame), previewStatus (#preview-status)
   * @param api the admin API (admin-api.js)
   * @param hooks draft(): the Draft (draft.js); filterRules(hash): the answering filter's rules
   *   in force (its `X-Rules-In-Force`)
   */
  constructor(ui, api, hooks) {
    this.#ui = ui;
    this.#api = api;
    this.#hooks = hooks;
    this.#page = new RebuiltPage(ui.preview);
  }

  /** Masks the page's `frame` (a snapshot) under the draft and shows it. */
  async show(frame) {
    const ui = this.#ui;
    const draft = this.#hooks.draft();
    if (draft.parsed === null) return;
    const seq = ++this.#seq;
    let response;
    try {
      response = await this.#api.request('/cobrowse/editor/preview', { method: 'POST', body: JSON.stringify({ ...frame, rules: draft.text }) });
    } catch (error) {
      ui.previewStatus.textContent = `No preview: ${error.message}`;
      return;
    }
    if (seq !== this.#seq) return;
    const inForce = response.headers.get('X-Rules-In-Force');
    if (!response.ok) {
      const answer = await response.json().catch(() => ({}));
      ui.previewStatus.textContent = `No preview: ${answer.error || response.status}`;
      this.#hooks.filterRules(inForce);
      return;
    }
    this.#page.loadSnapshot(await response.json());
    const hits = JSON.parse(response.headers.get('X-Detector-Hits') || '{}');
    const detected = Object.entries(hits).map(([name, count]) => `${name} ${count}`).join(', ');
    ui.previewStatus.textContent = `Masked by a masking filter under the draft (${(response.headers.get('X-Rules-Hash') || '').slice(0, 12)}): `
      + `${response.headers.get('X-Masked-Elements')} elements, ${response.headers.get('X-Masked-Values')} values`
      + `${detected ? `; detectors: ${detected}` : ''}.`;
    document.body.dataset.previewSeq = String(Number(document.body.dataset.previewSeq) + 1);
    this.#hooks.filterRules(inForce);
  }
}
