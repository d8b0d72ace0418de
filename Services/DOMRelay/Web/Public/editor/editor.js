// The masking rules editor (docs/masking.md, "Rules editor"): wires its parts together and
// starts it. The page being edited runs in #site-frame (or a window of its own) with the SDK in
// editor mode (sdk/editing.js): it proposes selectors for what is clicked and sends snapshots
// serialized under the draft. Each part does one job: admin-api.js (the admin's token and the
// relay's editor API), edited-page.js (the link to the page being edited), draft.js (the draft
// file and its editing tools), draft-check.js (the relay's check of the draft),
// filter-preview.js (each snapshot masked by a filter under the draft, rebuilt in
// #preview-frame), rules-in-force.js (the rules in force, the diff, save, download, revert) and
// selector-picking.js (the picked element's selectors and the selector field).
import { AdminAPI } from './admin-api.js';
import { EditedPage } from './edited-page.js';
import { Draft } from './draft.js';
import { DraftCheck } from './draft-check.js';
import { FilterPreview } from './filter-preview.js';
import { RulesInForce } from './rules-in-force.js';
import { SelectorPicking } from './selector-picking.js';

const $ = (id) => document.getElementById(id);
const ui = {
  pageForm: $('page-form'), pageURL: $('page-url'), openWindow: $('open-window'), pick: $('pick-toggle'), notice: $('notice'),
  signIn: $('admin-sign-in'), token: $('admin-token'), signInError: $('admin-error'),
  site: $('site-frame'), preview: $('preview-frame'), previewStatus: $('preview-status'),
  picked: $('picked-element'), proposals: $('selector-proposals'), selector: $('selector'), selectorCount: $('selector-count'),
  kindButtons: document.querySelectorAll('button[data-kind]'),
  ruleSet: $('rule-set'), newSet: $('new-set'), newSite: $('new-site'), newURLs: $('new-urls'),
  maskPage: $('mask-page'), privateMode: $('private-mode'), setRules: $('set-rules'),
  draft: $('draft'), findings: $('findings'), save: $('save'), download: $('download'), revert: $('revert'),
  inForce: $('in-force'), diff: $('diff'),
};

function notice(text) { ui.notice.textContent = text || ''; }

// The parts reach each other only through what they are handed here (the arrows run later,
// once every part exists).
const api = new AdminAPI(ui, () => start());
/** The page being edited (its `url` as its SDK says it: the address the draft is checked for). */
const editedPage = new EditedPage(ui.site, {
  notice,
  ready: (url) => {
    ui.pageURL.value = url;
    draft.pageOpened();
    picking.sendPickMode();
    notice('');
    check.run();
  },
  snapshot: (frame) => preview.show(frame),
  picked: (message) => picking.showPicked(message),
  probed: (message) => picking.showCount(message),
});
const picking = new SelectorPicking(ui, editedPage);
const draft = new Draft(ui, {
  notice,
  pageURL: () => editedPage.url,
  changed: () => {
    rulesInForce.showDiff();
    check.run();
  },
});
const rulesInForce = new RulesInForce(ui, api, { draft: () => draft, check: () => check.run(), notice });
const check = new DraftCheck(ui, api, {
  draft: () => draft,
  page: () => editedPage,
  notice,
  saveAllowed: (valid) => rulesInForce.allowSave(valid),
  setsApplying: (indexes) => draft.showSets(indexes),
});
const preview = new FilterPreview(ui, api, { draft: () => draft, filterRules: (hash) => rulesInForce.noteFilterRules(hash) });

ui.pageForm.addEventListener('submit', (event) => {
  event.preventDefault();
  editedPage.openInFrame(ui.pageURL.value.trim());
});
ui.openWindow.addEventListener('click', () => {
  if (ui.pageForm.reportValidity()) editedPage.openInWindow(ui.pageURL.value.trim());
});

/** Loads the rules in force (or asks for the admin token), then opens `?page=` if given. */
async function start() {
  try {
    await rulesInForce.load();
  } catch {
    return; // signed out: the form says why
  }
  const page = new URLSearchParams(location.search).get('page');
  if (page && !ui.site.getAttribute('src')) {
    ui.pageURL.value = new URL(page, location.href).href;
    editedPage.openInFrame(ui.pageURL.value);
  }
}

start();
