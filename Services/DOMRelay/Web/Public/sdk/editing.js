// Editing: the page's side of the rules editor (docs/masking.md, "Rules editor"). When the
// editor, a page of the relay that served this SDK, frames this page (or opened it in a
// window) and says hello, the SDK
// highlights what the pointer is over, proposes selectors for what is clicked, outlines what
// the draft rules match, and hands the editor snapshots of the page serialized under the
// draft (the editor has a masking filter mask them again, as in a session). Nothing is
// shared with anyone else: the snapshots go to the framing editor only, by postMessage.
import { Mirror } from './mirror.js';
import { Masking } from './masking.js';
import { usePasswordHistory, catchUpPasswordHistory } from './password-history.js';
import { Serializer, snapshotFrame } from './serialize.js';
import { proposeSelectors, countMatches } from './selector.js';

/** The marks the editor may add, and the colour each is outlined in. */
const KIND_COLOURS = { mask: '#7c3aed', maskImages: '#0369a1', block: '#b45309', noAgent: '#15803d' };
/** Changes to the page are gathered this long before a new snapshot goes to the editor. */
const SNAPSHOT_DELAY_MS = 300;
/** Outlines drawn at most (a selector that matches every element stays readable). */
const MAX_OUTLINES = 300;

/**
 * Starts editor mode in this page, framed by `editor` (a window of `origin`, the relay's).
 * `passwordHistory` is cobrowse.js's record of fields that were ever password fields.
 */
export function startEditing({ editor, origin, passwordHistory }) {
  usePasswordHistory(passwordHistory);
  return new EditingSession(editor, origin);
}

class EditingSession {
  constructor(editor, origin) {
    this.editor = editor;
    this.origin = origin;
    /** Names this page's editing session: the editor tells a new page from a repeated hello. */
    this.instance = Math.random().toString(36).slice(2);
    this.pageRules = null;
    this.marks = [];
    this.probe = null;
    this.picking = true;
    this.hovered = null;
    this.picked = null;
    this.url = null;
    this.snapshotTimer = null;
    this.drawPending = false;

    // The overlay lives in a closed shadow root the serializer leaves out, so it is never in a snapshot.
    this.host = document.createElement('cobrowse-editor');
    this.host.style.cssText = 'all: initial; position: fixed; inset: 0; pointer-events: none; z-index: 2147483647;';
    this.layer = this.host.attachShadow({ mode: 'closed' });
    document.documentElement.append(this.host);
    this.mirror = new Mirror();
    this.serializer = new Serializer(this.mirror, (node) => node === this.host, () => {}, () => {});

    window.addEventListener('message', (event) => this.received(event));
    document.addEventListener('mouseover', (event) => this.hover(event), true);
    document.addEventListener('click', (event) => this.click(event), true);
    for (const type of ['mousedown', 'mouseup', 'submit']) {
      document.addEventListener(type, (event) => { if (this.picking) { event.preventDefault(); event.stopPropagation(); } }, true);
    }
    window.addEventListener('scroll', () => this.draw(), true);
    window.addEventListener('resize', () => this.draw());
    new MutationObserver(() => this.changed()).observe(document, {
      subtree: true, childList: true, attributes: true, characterData: true,
    });
    // A page that changes its address without loading (history.pushState) is another page to the rules.
    this.addressWatch = setInterval(() => { if (this.url !== null && this.address() !== this.url) this.ready(); }, 500);
    this.ready();
  }

  /** The page's address as the rules see it (no fragment). */
  address() { return location.href.split('#')[0]; }

  post(message) {
    this.editor.postMessage({ cobrowseEditor: 1, ...message }, this.origin);
  }

  ready() {
    this.url = this.address();
    this.post({ t: 'ready', url: this.url, title: document.title, instance: this.instance });
  }

  received(event) {
    if (event.origin !== this.origin || event.source !== this.editor) return;
    const message = event.data;
    if (!message || message.cobrowseEditor !== 1) return;
    switch (message.t) {
      case 'hello':
        this.ready();
        break;
      case 'rules':
        // The draft's rules for this page, and its marks to outline; a snapshot under them follows.
        this.pageRules = message.pageRules && typeof message.pageRules === 'object' ? message.pageRules : {};
        this.marks = Array.isArray(message.marks) ? message.marks : [];
        this.snapshot();
        this.draw();
        break;
      case 'pick':
        this.picking = message.on === true;
        if (!this.picking) this.hovered = null;
        this.draw();
        break;
      case 'probe':
        // The selector being edited: how many elements it matches here, outlined.
        this.probe = typeof message.selector === 'string' && message.selector.trim() ? message.selector : null;
        this.post({ t: 'probed', selector: message.selector, count: this.probe === null ? 0 : countMatches(this.probe) });
        this.draw();
        break;
      default:
        break;
    }
  }

  hover(event) {
    if (!this.picking) return;
    const element = event.composedPath().find((node) => node instanceof Element);
    if (!element || element === this.hovered || element === this.host) return;
    this.hovered = element;
    this.draw();
  }

  click(event) {
    if (!this.picking) return;
    event.preventDefault();
    event.stopPropagation();
    const element = event.composedPath().find((node) => node instanceof Element);
    if (!element || element === this.host) return;
    this.picked = element;
    this.post({
      t: 'picked', tag: element.localName, text: (element.textContent || '').trim().slice(0, 60),
      selectors: proposeSelectors(element),
    });
    this.draw();
  }

  changed() {
    if (this.pageRules === null || this.snapshotTimer) return;
    this.snapshotTimer = setTimeout(() => {
      this.snapshotTimer = null;
      this.snapshot();
      this.draw();
    }, SNAPSHOT_DELAY_MS);
  }

  /** The page under the draft, as the SDK would send it in a session (the editor has the filter mask it again). */
  snapshot() {
    if (this.pageRules === null) return;
    catchUpPasswordHistory();
    this.mirror.reset();
    this.serializer.masking = new Masking(this.pageRules);
    const frame = { ...snapshotFrame(this.serializer, 'rules-editor'), seq: 0 };
    this.post({ t: 'snapshot', url: this.address(), frame });
  }

  /** Outlines: the draft's marks by kind, the probed selector, the picked and hovered elements. */
  draw() {
    if (this.drawPending) return;
    this.drawPending = true;
    requestAnimationFrame(() => {
      this.drawPending = false;
      const boxes = [];
      const outline = (element, colour, style, label) => {
        if (boxes.length >= MAX_OUTLINES || !element.isConnected) return;
        const box = element.getBoundingClientRect();
        if (box.width === 0 && box.height === 0) return;
        boxes.push({ box, colour, style, label });
      };
      for (const { kind, selector } of this.marks) {
        let found = [];
        try { found = document.querySelectorAll(selector); } catch { continue; }
        for (const element of found) outline(element, KIND_COLOURS[kind] || '#7c3aed', 'dashed', null);
      }
      if (this.probe) {
        let found = [];
        try { found = document.querySelectorAll(this.probe); } catch { /* the editor says it is invalid */ }
        for (const element of found) outline(element, '#dc2626', 'solid', null);
      }
      if (this.picked) outline(this.picked, '#dc2626', 'solid', 'picked');
      if (this.picking && this.hovered) outline(this.hovered, '#2563eb', 'solid', this.hovered.localName);
      this.layer.replaceChildren(...boxes.map(({ box, colour, style, label }) => {
        const div = document.createElement('div');
        div.style.cssText = `position: fixed; box-sizing: border-box; left: ${box.left}px; top: ${box.top}px; width: ${box.width}px; `
          + `height: ${box.height}px; border: 2px ${style} ${colour}; background: ${colour}14;`;
        if (label) {
          const tag = document.createElement('span');
          tag.textContent = label;
          tag.style.cssText = `position: absolute; left: -2px; top: -20px; font: 12px/18px system-ui, sans-serif; color: #fff; `
            + `background: ${colour}; padding: 0 4px; white-space: nowrap;`;
          div.append(tag);
        }
        return div;
      }));
    });
  }
}
