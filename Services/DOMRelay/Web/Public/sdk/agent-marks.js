// The agent's marks on the customer's page: its pointer and annotations, each in a shadow root
// of its own that is never serialized and never takes a click.

const POINTER_IDLE_MS = 3000;
const ANNOTATION_MS = 1500;

/** A fixed, zero-size host at the viewport's corner; its children are placed in viewport pixels. */
function overlayHost(id, css, html = '') {
  const host = document.createElement('div');
  host.id = id;
  host.setAttribute('aria-hidden', 'true');
  host.style.cssText = 'all: initial !important; position: fixed !important; left: 0 !important; top: 0 !important;' +
    ' width: 0 !important; height: 0 !important; overflow: visible !important; pointer-events: none !important;' +
    ' z-index: 2147483646 !important; display: block !important;';
  host.attachShadow({ mode: 'open' }).innerHTML = `<style>:host { pointer-events: none; } ${css}</style>${html}`;
  return host;
}

export class AgentMarks {
  constructor() {
    this.pointerHost = null;
    this.annotationHost = null;
    /** The agent's pointer in page coordinates, while shown. */
    this.at = null;
    this.idleTimer = null;
    this.onScroll = () => this.place();
  }

  owns(node) { return node != null && (node === this.pointerHost || node === this.annotationHost); }

  /** The agent's pointer moved to (x, y), page coordinates. */
  pointer(x, y) {
    if (!this.pointerHost) {
      this.pointerHost = overlayHost('cobrowse-agent-pointer', `
        .pointer { position: absolute; left: 0; top: 0; will-change: transform; }
        .pointer[hidden] { display: none; }
        svg { display: block; }
        .label { position: absolute; left: 16px; top: 20px; padding: 1px 6px; border-radius: 4px; background: #1f5fd1;
                 color: #fff; font: 600 11px/1.4 system-ui, sans-serif; white-space: nowrap; }`, `
        <div class="pointer" hidden>
          <svg width="20" height="26" viewBox="0 0 20 26"><path d="M1 1 L1 21 L6 16 L10 25 L13.5 23.5 L9.5 15 L17 15 Z"
            fill="#1f5fd1" stroke="#fff" stroke-width="1.5" stroke-linejoin="round"/></svg>
          <span class="label">Agent</span>
        </div>`);
      addEventListener('scroll', this.onScroll, { passive: true });
    }
    if (!this.pointerHost.isConnected) (document.body || document.documentElement).appendChild(this.pointerHost);
    this.at = { x, y };
    this.place();
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(() => {
      this.at = null;
      this.place();
    }, POINTER_IDLE_MS);
  }

  /** Where the pointer is on screen: its page position less the page's scroll. */
  place() {
    if (!this.pointerHost) return;
    const arrow = this.pointerHost.shadowRoot.querySelector('.pointer');
    arrow.hidden = this.at === null;
    if (this.at) arrow.style.transform = `translate(${this.at.x - window.scrollX}px, ${this.at.y - window.scrollY}px)`;
  }

  /** A red circle where the agent clicked (page coordinates), fading out. */
  annotate(x, y) {
    if (!this.annotationHost) {
      this.annotationHost = overlayHost('cobrowse-agent-annotations', `
        .cobrowse-annotation { position: absolute; width: 28px; height: 28px; margin: -17px 0 0 -17px; border-radius: 50%;
          border: 3px solid #e02424; background: rgba(224,36,36,.18); animation: fade ${ANNOTATION_MS}ms ease-out forwards; }
        @keyframes fade { from { opacity: 1; transform: scale(.6); } to { opacity: 0; transform: scale(1.6); } }
        @media (prefers-reduced-motion: reduce) { .cobrowse-annotation { animation-name: plain; }
          @keyframes plain { from { opacity: 1; } to { opacity: 0; } } }`);
    }
    if (!this.annotationHost.isConnected) (document.body || document.documentElement).appendChild(this.annotationHost);
    const circle = document.createElement('div');
    circle.className = 'cobrowse-annotation';
    circle.style.left = `${x - window.scrollX}px`;
    circle.style.top = `${y - window.scrollY}px`;
    this.annotationHost.shadowRoot.appendChild(circle);
    setTimeout(() => circle.remove(), ANNOTATION_MS);
  }

  remove() {
    clearTimeout(this.idleTimer);
    removeEventListener('scroll', this.onScroll);
    if (this.pointerHost) this.pointerHost.remove();
    if (this.annotationHost) this.annotationHost.remove();
    this.pointerHost = this.annotationHost = null;
    this.at = null;
  }
}
