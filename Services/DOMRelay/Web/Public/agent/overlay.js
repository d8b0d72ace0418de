// Fits the view iframe (the customer's viewport size) into the console, scaled down when needed,
// and draws the customer's cursor and click markers, and the agent's own annotations, over it.

const CLICK_MARKER_MS = 1500;

export class Overlay {
  #area;
  #stage;
  #iframe;
  #layer;
  #cursor;
  #viewScroll;
  #viewport = null;
  #scale = 1;
  /** The customer's pointer in page coordinates, or null when not known. */
  #pointer = null;

  /**
   * @param {{area: HTMLElement, stage: HTMLElement, iframe: HTMLIFrameElement, layer: HTMLElement,
   *          cursor: HTMLElement, viewScroll: () => {x: number, y: number}}} parts
   */
  constructor({ area, stage, iframe, layer, cursor, viewScroll }) {
    this.#area = area;
    this.#stage = stage;
    this.#iframe = iframe;
    this.#layer = layer;
    this.#cursor = cursor;
    this.#viewScroll = viewScroll;
    // The area changes with the window and with the header (a notice appearing, say).
    new ResizeObserver(() => this.#fit()).observe(area);
    window.addEventListener('resize', () => this.#fit());
  }

  get scale() { return this.#scale; }

  /** The customer's viewport size: the iframe gets exactly that, then a transform fits it in. */
  setViewport(w, h) {
    const width = Math.max(1, Math.round(Number(w) || 0));
    const height = Math.max(1, Math.round(Number(h) || 0));
    this.#viewport = { w: width, h: height };
    this.#iframe.style.width = `${width}px`;
    this.#iframe.style.height = `${height}px`;
    this.#fit();
  }

  /** Where the customer's pointer is, in page coordinates. */
  moveCursor(x, y) {
    this.#pointer = { x: Number(x) || 0, y: Number(y) || 0 };
    this.refresh();
  }

  hideCursor() {
    this.#pointer = null;
    this.#cursor.hidden = true;
  }

  /** A fading circle where the customer clicked (page coordinates). */
  showClick(x, y) {
    this.#marker('customer-click', x, y);
  }

  /** The agent's own annotation (pointer mode), drawn at once where they clicked (page coordinates). */
  showAnnotation(x, y) {
    this.#marker('agent-annotation', x, y);
  }

  #marker(className, x, y) {
    const point = this.#toStage(Number(x) || 0, Number(y) || 0);
    if (!point) return;
    const marker = document.createElement('div');
    marker.className = className;
    marker.style.left = `${point.x}px`;
    marker.style.top = `${point.y}px`;
    this.#layer.append(marker);
    setTimeout(() => marker.remove(), CLICK_MARKER_MS);
  }

  /** Places the cursor again (after the view scrolled or was rescaled). */
  refresh() {
    const point = this.#pointer && this.#toStage(this.#pointer.x, this.#pointer.y);
    if (!point) {
      this.#cursor.hidden = true;
      return;
    }
    this.#cursor.style.transform = `translate(${point.x}px, ${point.y}px)`;
    this.#cursor.hidden = false;
  }

  /** Page coordinates → the overlay's pixels; null outside the customer's viewport. */
  #toStage(x, y) {
    if (!this.#viewport) return null;
    const scroll = this.#viewScroll();
    const inViewX = x - scroll.x;
    const inViewY = y - scroll.y;
    if (inViewX < 0 || inViewY < 0 || inViewX > this.#viewport.w || inViewY > this.#viewport.h) return null;
    return { x: inViewX * this.#scale, y: inViewY * this.#scale };
  }

  #fit() {
    if (!this.#viewport) return;
    const style = getComputedStyle(this.#area);
    const room = {
      w: this.#area.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
      h: this.#area.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom),
    };
    // Scaled down to fit, never up: the agent sees the page at most at its real size.
    const scale = Math.min(1, room.w / this.#viewport.w, room.h / this.#viewport.h);
    this.#scale = scale > 0 ? scale : 1;
    this.#iframe.style.transform = `scale(${this.#scale})`;
    this.#stage.style.width = `${this.#viewport.w * this.#scale}px`;
    this.#stage.style.height = `${this.#viewport.h * this.#scale}px`;
    this.refresh();
  }
}
