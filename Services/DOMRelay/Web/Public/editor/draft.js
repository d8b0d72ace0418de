// Draft: the rules file being edited, as text (the #draft textarea) and parsed, and the tools
// that edit it: the rule set to add to (one that applies to the page, or a new one for it),
// the selector added as mask, mask image, block or no agent, the set's whole-page flags, and
// each rule of the set with its Remove button.

/** The marks the editor adds, as the rules file names them. */
export const KINDS = ['mask', 'maskImages', 'block', 'noAgent'];
const KIND_LABELS = { mask: 'mask', maskImages: 'mask image', block: 'block', noAgent: 'no agent' };
/** How long typing in the textarea pauses before the draft is taken (checked, previewed). */
const TYPING_PAUSE_MS = 300;

/** The draft rules file and its editing tools. */
export class Draft {
  /** The file's text: what is checked, previewed, saved. */
  text = '';
  /** The text parsed (null: not JSON). The tools edit this, then rewrite the text from it. */
  parsed = null;
  /** The set to choose once the next check lists the sets again. */
  #pendingChoice = null;
  #typing = null;
  #ui;
  #hooks;

  /**
   * @param ui draft (#draft), ruleSet, newSet, newSite, newURLs, maskPage, privateMode,
   *   setRules, selector (#selector: what the kind buttons add), kindButtons
   * @param hooks changed(): the text changed (compare, check); notice(text); pageURL(): the
   *   edited page's address (null: none yet)
   */
  constructor(ui, hooks) {
    this.#ui = ui;
    this.#hooks = hooks;
    for (const button of ui.kindButtons) button.addEventListener('click', () => this.#addRule(button.dataset.kind));
    ui.ruleSet.addEventListener('change', () => this.#showChosenSet());
    ui.maskPage.addEventListener('change', () => this.#setFlag((set) => {
      if (ui.maskPage.checked) set.maskPage = true; else delete set.maskPage;
    }));
    ui.privateMode.addEventListener('change', () => this.#setFlag((set) => {
      if (ui.privateMode.checked) set.mode = 'private'; else delete set.mode;
    }));
    ui.draft.addEventListener('input', () => {
      clearTimeout(this.#typing);
      this.#typing = setTimeout(() => this.setText(ui.draft.value, { fromTextarea: true }), TYPING_PAUSE_MS);
    });
  }

  /** Takes `text` as the draft (shown in the textarea unless typed there), then says it changed. */
  setText(text, { fromTextarea = false } = {}) {
    this.text = text;
    try {
      this.parsed = JSON.parse(text);
    } catch {
      this.parsed = null;
    }
    if (!fromTextarea) this.#ui.draft.value = text;
    this.#hooks.changed();
  }

  /** A new page was opened: a new rule set's patterns are for it. */
  pageOpened() {
    this.#ui.newURLs.value = '';
  }

  /** Lists the rule sets that apply to the page (`applying`: their indexes, from a check). */
  showSets(applying) {
    const ui = this.#ui;
    const sets = this.#ruleSets();
    const keep = this.#pendingChoice ?? ui.ruleSet.value;
    this.#pendingChoice = null;
    ui.ruleSet.replaceChildren(...applying.map((index) => new Option(describeSet(sets[index] || {}, index), String(index))),
      new Option('A new rule set for…', 'new'));
    ui.ruleSet.value = [...ui.ruleSet.options].some((option) => option.value === keep) ? keep
      : (applying.length ? String(applying[applying.length - 1]) : 'new');
    this.#showChosenSet();
  }

  /** Rewrites the draft from its parsed form (after an edit through the tools). */
  #edited() {
    this.setText(`${JSON.stringify(this.parsed, null, 2)}\n`);
  }

  #ruleSets() {
    if (!this.parsed || typeof this.parsed !== 'object') return [];
    if (!Array.isArray(this.parsed.rules)) this.parsed.rules = [];
    return this.parsed.rules;
  }

  /** The rule set the tools edit: the one chosen, or a new one for this page (created on first use). */
  #chosenSet({ create }) {
    const ui = this.#ui;
    const sets = this.#ruleSets();
    if (ui.ruleSet.value !== 'new') return sets[Number(ui.ruleSet.value)] || null;
    if (!create) return null;
    const set = {};
    const site = ui.newSite.value.trim();
    if (site && site !== '*') set.site = site;
    const urls = ui.newURLs.value.trim().split(/\s+/).filter(Boolean);
    set.urls = urls.length ? urls : ['*'];
    sets.push(set);
    this.#pendingChoice = String(sets.length - 1);
    return set;
  }

  #addRule(kind) {
    const selector = this.#ui.selector.value.trim();
    if (!selector || this.parsed === null) return;
    const set = this.#chosenSet({ create: true });
    if (!set) return;
    set[kind] = Array.isArray(set[kind]) ? set[kind] : [];
    if (!set[kind].includes(selector)) set[kind].push(selector);
    this.#pendingChoice = this.#pendingChoice ?? this.#ui.ruleSet.value;
    this.#hooks.notice(`Added ${selector} as ${KIND_LABELS[kind]}.`);
    this.#edited();
  }

  #setFlag(apply) {
    if (this.parsed === null) return;
    const set = this.#chosenSet({ create: true });
    if (!set) return;
    apply(set);
    this.#pendingChoice = this.#pendingChoice ?? this.#ui.ruleSet.value;
    this.#edited();
  }

  #showChosenSet() {
    const ui = this.#ui;
    const isNew = ui.ruleSet.value === 'new';
    ui.newSet.hidden = !isNew;
    const pageURL = this.#hooks.pageURL();
    if (isNew && pageURL && !ui.newURLs.value) {
      const url = new URL(pageURL);
      ui.newSite.value = url.origin;
      // This page, with or without a query string (patterns are separated by spaces).
      ui.newURLs.value = `${url.pathname} ${url.pathname}?*`;
    }
    const set = this.#chosenSet({ create: false });
    ui.maskPage.checked = Boolean(set && set.maskPage === true);
    ui.privateMode.checked = Boolean(set && set.mode === 'private');
    const items = [];
    for (const kind of KINDS) {
      for (const selector of (set && Array.isArray(set[kind]) ? set[kind] : [])) {
        items.push(this.#ruleItem(set, kind, selector));
      }
    }
    ui.setRules.replaceChildren(...items);
  }

  /** One rule of the chosen set, with its Remove button. */
  #ruleItem(set, kind, selector) {
    const item = document.createElement('li');
    item.dataset.kind = kind;
    item.dataset.selector = selector;
    const text = document.createElement('span');
    text.textContent = `${KIND_LABELS[kind]}: ${selector}`;
    const remove = document.createElement('button');
    remove.type = 'button';
    remove.textContent = 'Remove';
    remove.setAttribute('aria-label', `Remove ${KIND_LABELS[kind]} ${selector}`);
    remove.addEventListener('click', () => {
      set[kind] = set[kind].filter((value) => value !== selector);
      if (set[kind].length === 0) delete set[kind];
      this.#pendingChoice = this.#ui.ruleSet.value;
      this.#edited();
    });
    item.append(text, remove);
    return item;
  }
}

/** How the "Add to" list names a rule set: its index, site and URL patterns. */
function describeSet(set, index) {
  const site = set.site || '*';
  const urls = Array.isArray(set.urls) ? set.urls.join(' ') : '*';
  return `rules[${index}]: site ${site}, ${urls}`;
}
