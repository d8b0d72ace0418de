// The masking rules editor (docs/masking.md, "Rules editor"). The page being edited runs in
// #site-frame with the SDK in editor mode (sdk/editing.js): it proposes selectors for what is
// clicked and sends snapshots serialized under the draft. This page keeps the draft, has the
// relay check it (/cobrowse/editor/check) and a masking filter mask each snapshot under it
// (/cobrowse/editor/preview), rebuilds the masked page in #preview-frame with the console's
// own rebuilding code, and saves (PUT /cobrowse/rules) or downloads the draft. The link to the
// page being edited is edited-page.js's.
import { RebuiltPage } from '../agent/rebuild.js';
import { lineDiff } from './diff.js';
import { EditedPage } from './edited-page.js';

const TOKEN_KEY = 'cobrowse.editor.token';
/** The marks the editor adds, as the rules file names them. */
const KINDS = ['mask', 'maskImages', 'block', 'noAgent'];
const KIND_LABELS = { mask: 'mask', maskImages: 'mask image', block: 'block', noAgent: 'no agent' };
/** After a save: how long to wait for a masking filter to say it enforces the new file. */
const IN_FORCE_WITHIN_MS = 60000;

const $ = (id) => document.getElementById(id);
const ui = {
  pageForm: $('page-form'), pageURL: $('page-url'), pick: $('pick-toggle'), notice: $('notice'),
  signIn: $('admin-sign-in'), token: $('admin-token'), signInError: $('admin-error'),
  site: $('site-frame'), preview: $('preview-frame'), previewStatus: $('preview-status'),
  picked: $('picked-element'), proposals: $('selector-proposals'), selector: $('selector'), selectorCount: $('selector-count'),
  ruleSet: $('rule-set'), newSet: $('new-set'), newSite: $('new-site'), newURLs: $('new-urls'),
  maskPage: $('mask-page'), privateMode: $('private-mode'), setRules: $('set-rules'),
  draft: $('draft'), findings: $('findings'), save: $('save'), download: $('download'), revert: $('revert'),
  inForce: $('in-force'), diff: $('diff'),
};

const state = {
  token: sessionStorage.getItem(TOKEN_KEY) || '',
  /** The rules in force: `{ source, hash, file, writable }` from the relay. */
  inForce: null,
  /** The draft file's text (what is checked, previewed, saved) and its parsed form (null: not JSON). */
  draftText: '',
  draft: null,
  /** The last check of the draft for the open page. */
  check: null,
  /** Requests answered out of order are dropped: only the latest check and preview count. */
  checkSeq: 0,
  previewSeq: 0,
  /** A saved file not yet reported in force by a filter: `{ hash, until }`. */
  awaitingFilter: null,
};

const previewPage = new RebuiltPage(ui.preview);

function notice(text) { ui.notice.textContent = text || ''; }

/** The page being edited (its `url` as its SDK says it: the address the draft is checked for). */
const editedPage = new EditedPage(ui.site, {
  notice,
  ready: (url) => {
    ui.pageURL.value = url;
    ui.newURLs.value = '';
    editedPage.send({ t: 'pick', on: ui.pick.checked });
    notice('');
    check();
  },
  snapshot: (frame) => preview(frame),
  picked: (message) => showPicked(message),
  probed: (message) => {
    if (message.selector === ui.selector.value) {
      ui.selectorCount.textContent = message.count === null ? 'The browser cannot read this selector.'
        : `Matches ${message.count} element${message.count === 1 ? '' : 's'} on this page.`;
    }
  },
});

// MARK: The relay's editor API

async function api(path, { method = 'GET', body } = {}) {
  const headers = {};
  if (state.token) headers.Authorization = `Bearer ${state.token}`;
  const response = await fetch(path, { method, body, headers, cache: 'no-store', credentials: 'omit' });
  if (response.status === 401 || response.status === 403) {
    const answer = await response.json().catch(() => ({}));
    signedOut(answer.error || 'not allowed');
    throw new Error(answer.error || 'not allowed');
  }
  return response;
}

function signedOut(reason) {
  document.body.dataset.state = 'signed-out';
  ui.signIn.hidden = false;
  ui.signInError.textContent = state.token ? reason : '';
}

async function loadRulesInForce() {
  const response = await api('/cobrowse/editor/rules');
  state.inForce = await response.json();
  document.body.dataset.state = 'ready';
  ui.signIn.hidden = true;
  ui.save.title = state.inForce.writable ? '' : 'The relay cannot write its rules file (MASKING_RULES unset or read-only): download it instead.';
  setDraftText(state.inForce.source);
  showInForce();
}

// MARK: The draft

function setDraftText(text, { fromTextarea = false } = {}) {
  state.draftText = text;
  try {
    state.draft = JSON.parse(text);
  } catch {
    state.draft = null;
  }
  if (!fromTextarea) ui.draft.value = text;
  showDiff();
  check();
}

/** Rewrites the draft from its parsed form (after an edit through the tools). */
function draftEdited() {
  setDraftText(`${JSON.stringify(state.draft, null, 2)}\n`);
}

function ruleSets() {
  if (!state.draft || typeof state.draft !== 'object') return [];
  if (!Array.isArray(state.draft.rules)) state.draft.rules = [];
  return state.draft.rules;
}

/** The rule set the tools edit: the one chosen, or a new one for this page (created on first use). */
function chosenSet({ create }) {
  const sets = ruleSets();
  if (ui.ruleSet.value !== 'new') return sets[Number(ui.ruleSet.value)] || null;
  if (!create) return null;
  const set = {};
  const site = ui.newSite.value.trim();
  if (site && site !== '*') set.site = site;
  const urls = ui.newURLs.value.trim().split(/\s+/).filter(Boolean);
  set.urls = urls.length ? urls : ['*'];
  sets.push(set);
  pendingChoice = String(sets.length - 1);
  return set;
}

/** The set to choose once the next check lists the sets again. */
let pendingChoice = null;

function addRule(kind) {
  const selector = ui.selector.value.trim();
  if (!selector || state.draft === null) return;
  const set = chosenSet({ create: true });
  if (!set) return;
  set[kind] = Array.isArray(set[kind]) ? set[kind] : [];
  if (!set[kind].includes(selector)) set[kind].push(selector);
  pendingChoice = pendingChoice ?? ui.ruleSet.value;
  notice(`Added ${selector} as ${KIND_LABELS[kind]}.`);
  draftEdited();
}

function setFlag(apply) {
  if (state.draft === null) return;
  const set = chosenSet({ create: true });
  if (!set) return;
  apply(set);
  pendingChoice = pendingChoice ?? ui.ruleSet.value;
  draftEdited();
}

function describeSet(set, index) {
  const site = set.site || '*';
  const urls = Array.isArray(set.urls) ? set.urls.join(' ') : '*';
  return `rules[${index}]: site ${site}, ${urls}`;
}

function showSets() {
  const sets = ruleSets();
  const applying = state.check ? state.check.ruleSets : [];
  const keep = pendingChoice ?? ui.ruleSet.value;
  pendingChoice = null;
  ui.ruleSet.replaceChildren(...applying.map((index) => new Option(describeSet(sets[index] || {}, index), String(index))),
    new Option('A new rule set for…', 'new'));
  ui.ruleSet.value = [...ui.ruleSet.options].some((option) => option.value === keep) ? keep
    : (applying.length ? String(applying[applying.length - 1]) : 'new');
  showChosenSet();
}

function showChosenSet() {
  const isNew = ui.ruleSet.value === 'new';
  ui.newSet.hidden = !isNew;
  if (isNew && editedPage.url && !ui.newURLs.value) {
    const url = new URL(editedPage.url);
    ui.newSite.value = url.origin;
    // This page, with or without a query string (patterns are separated by spaces).
    ui.newURLs.value = `${url.pathname} ${url.pathname}?*`;
  }
  const set = chosenSet({ create: false });
  ui.maskPage.checked = Boolean(set && set.maskPage === true);
  ui.privateMode.checked = Boolean(set && set.mode === 'private');
  const items = [];
  for (const kind of KINDS) {
    for (const selector of (set && Array.isArray(set[kind]) ? set[kind] : [])) {
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
        pendingChoice = ui.ruleSet.value;
        draftEdited();
      });
      item.append(text, remove);
      items.push(item);
    }
  }
  ui.setRules.replaceChildren(...items);
}

// MARK: Checks, previews and the diff

async function check() {
  const seq = ++state.checkSeq;
  if (state.draft === null) {
    state.check = null;
    showFindings([{ severity: 'error', location: 'draft', message: 'not JSON' }]);
    ui.save.disabled = true;
    return;
  }
  const query = editedPage.url ? `?url=${encodeURIComponent(editedPage.url)}` : '';
  let result;
  try {
    result = await (await api(`/cobrowse/editor/check${query}`, { method: 'POST', body: state.draftText })).json();
  } catch (error) {
    notice(`The relay did not check the draft: ${error.message}`);
    return;
  }
  if (seq !== state.checkSeq) return;
  state.check = result;
  showFindings(result.findings);
  ui.save.disabled = !result.valid || !(state.inForce && state.inForce.writable);
  showSets();
  if (result.pageRules) editedPage.send({ t: 'rules', pageRules: result.pageRules, marks: marksOf(result.pageRules) });
}

function marksOf(pageRules) {
  return KINDS.flatMap((kind) => (Array.isArray(pageRules[kind]) ? pageRules[kind] : []).map((selector) => ({ kind, selector })));
}

function showFindings(findings) {
  ui.findings.replaceChildren(...findings.map((finding) => {
    const item = document.createElement('li');
    item.dataset.severity = finding.severity;
    item.textContent = `${finding.severity}: ${finding.location}: ${finding.message}`;
    return item;
  }));
}

async function preview(frame) {
  if (state.draft === null) return;
  const seq = ++state.previewSeq;
  let response;
  try {
    response = await api('/cobrowse/editor/preview', { method: 'POST', body: JSON.stringify({ ...frame, rules: state.draftText }) });
  } catch (error) {
    ui.previewStatus.textContent = `No preview: ${error.message}`;
    return;
  }
  if (seq !== state.previewSeq) return;
  const inForce = response.headers.get('X-Rules-In-Force');
  if (!response.ok) {
    const answer = await response.json().catch(() => ({}));
    ui.previewStatus.textContent = `No preview: ${answer.error || response.status}`;
    noteFilterRules(inForce);
    return;
  }
  previewPage.loadSnapshot(await response.json());
  const hits = JSON.parse(response.headers.get('X-Detector-Hits') || '{}');
  const detected = Object.entries(hits).map(([name, count]) => `${name} ${count}`).join(', ');
  ui.previewStatus.textContent = `Masked by a masking filter under the draft (${(response.headers.get('X-Rules-Hash') || '').slice(0, 12)}): `
    + `${response.headers.get('X-Masked-Elements')} elements, ${response.headers.get('X-Masked-Values')} values`
    + `${detected ? `; detectors: ${detected}` : ''}.`;
  document.body.dataset.previewSeq = String(Number(document.body.dataset.previewSeq) + 1);
  noteFilterRules(inForce);
}

function showInForce(filterConfirmed = false) {
  if (!state.inForce) return;
  const where = state.inForce.file ? state.inForce.file : 'no file: the built-in rules only';
  ui.inForce.textContent = `In force: ${state.inForce.hash.slice(0, 12)} (${where})`
    + (state.awaitingFilter ? '; waiting for a masking filter to load it…' : filterConfirmed ? '; a masking filter enforces it.' : '');
  ui.inForce.dataset.filterConfirmed = filterConfirmed ? 'true' : 'false';
}

/** A filter said which rules it enforces: after a save, the wait is over when it names the saved file. */
function noteFilterRules(hash) {
  const waiting = state.awaitingFilter;
  if (!waiting) return;
  if (hash === waiting.hash) {
    state.awaitingFilter = null;
    showInForce(true);
  } else if (Date.now() > waiting.until) {
    state.awaitingFilter = null;
    notice('No masking filter reported the saved rules in force within a minute: check the filters\' MASKING_RULES file.');
    showInForce();
  } else {
    setTimeout(check, 1000); // a new snapshot, and its preview, asks again
  }
}

function showDiff() {
  if (!state.inForce) return;
  const normalized = (text) => {
    try { return `${JSON.stringify(JSON.parse(text), null, 2)}\n`; } catch { return text; }
  };
  const lines = lineDiff(normalized(state.inForce.source), normalized(state.draftText));
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

async function save() {
  ui.save.disabled = true;
  const response = await api('/cobrowse/rules', { method: 'PUT', body: state.draftText }).catch((error) => ({ ok: false, error }));
  const answer = response.json ? await response.json().catch(() => ({})) : {};
  if (!response.ok) {
    notice(`Not saved: ${answer.error || (response.error && response.error.message) || response.status}`);
    ui.save.disabled = false;
    return;
  }
  state.inForce = { ...state.inForce, source: state.draftText, hash: answer.hash };
  state.awaitingFilter = { hash: answer.hash, until: Date.now() + IN_FORCE_WITHIN_MS };
  notice(`Saved to ${answer.file}.`);
  showInForce();
  showDiff();
  check();
}

function download() {
  const link = document.createElement('a');
  link.href = URL.createObjectURL(new Blob([state.draftText], { type: 'application/json' }));
  link.download = 'rules.json';
  link.click();
  setTimeout(() => URL.revokeObjectURL(link.href), 1000);
}

// MARK: What the page proposes

function showPicked(message) {
  ui.picked.textContent = `<${message.tag}> ${message.text ? `“${message.text}”` : ''}`;
  ui.proposals.replaceChildren(...message.selectors.map(({ selector, count }) => {
    const item = document.createElement('li');
    const button = document.createElement('button');
    button.type = 'button';
    button.dataset.selector = selector;
    button.textContent = `${selector}  (${count === 1 ? 'this element only' : `${count} elements`})`;
    button.addEventListener('click', () => useSelector(selector));
    item.append(button);
    return item;
  }));
  if (message.selectors.length) useSelector(message.selectors[0].selector);
}

function useSelector(selector) {
  ui.selector.value = selector;
  editedPage.send({ t: 'probe', selector });
}

// MARK: Wiring

ui.pageForm.addEventListener('submit', (event) => {
  event.preventDefault();
  editedPage.openInFrame(ui.pageURL.value.trim());
});
$('open-window').addEventListener('click', () => {
  if (ui.pageForm.reportValidity()) editedPage.openInWindow(ui.pageURL.value.trim());
});
ui.pick.addEventListener('change', () => editedPage.send({ t: 'pick', on: ui.pick.checked }));
ui.selector.addEventListener('input', () => editedPage.send({ t: 'probe', selector: ui.selector.value }));
for (const button of document.querySelectorAll('button[data-kind]')) button.addEventListener('click', () => addRule(button.dataset.kind));
ui.ruleSet.addEventListener('change', showChosenSet);
ui.maskPage.addEventListener('change', () => setFlag((set) => {
  if (ui.maskPage.checked) set.maskPage = true; else delete set.maskPage;
}));
ui.privateMode.addEventListener('change', () => setFlag((set) => {
  if (ui.privateMode.checked) set.mode = 'private'; else delete set.mode;
}));
let typing = null;
ui.draft.addEventListener('input', () => {
  clearTimeout(typing);
  typing = setTimeout(() => setDraftText(ui.draft.value, { fromTextarea: true }), 300);
});
ui.save.addEventListener('click', save);
ui.download.addEventListener('click', download);
ui.revert.addEventListener('click', () => state.inForce && setDraftText(state.inForce.source));
ui.signIn.addEventListener('submit', (event) => {
  event.preventDefault();
  state.token = ui.token.value.trim();
  sessionStorage.setItem(TOKEN_KEY, state.token);
  start();
});

async function start() {
  try {
    await loadRulesInForce();
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
