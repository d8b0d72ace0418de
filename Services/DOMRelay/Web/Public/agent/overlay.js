// Fits the view iframe (the customer's viewport size) into the console, scaled down when needed,
// and draws the customer's cursor and click markers, and the agent's own annotations, over it.
// When the customer pinch-zoomed (or a keyboard covers part of their screen) the stage shows
// only their visual viewport, magnified as on their screen, and #view-zoom says so.
import { t } from './i18n/languages.js';

const CLICK_MARKER_MS = 1500;
/** Visual and layout viewports this close are the same: a desktop's scrollbars take up to this. */
const SCROLLBAR_ALLOWANCE = 48;
/** Zoom factors this close to 1 are no zoom. */
const SCALE_TOLERANCE = 0.01;

/**
 * The customer's visual viewport {x, y, w, h, scale} (the protocol's `visual`), clamped to the
 * layout viewport `w`×`h`, when it is not all of it; else null (also for a malformed `visual`).
 */
export function visualRegion(visual, w, h) {
  if (!visual || typeof visual !== 'object') return null;
  const [x, y, width, height, scale] = [visual.x, visual.y, visual.w, visual.h, visual.scale].map(Number);
  if (![x, y, width, height, scale].every(Number.isFinite) || !(width > 0 && height > 0 && scale > 0)) return null;
  const region = { x: Math.min(Math.max(0, x), w - 1), y: Math.min(Math.max(0, y), h - 1), scale };
  region.w = Math.min(width, w - region.x);
  region.h = Math.min(height, h - region.y);
  const zoomed = Math.abs(scale - 1) > SCALE_TOLERANCE;
  const moved = region.x >= 0.5 || region.y >= 0.5;
  const smaller = w - region.w > SCROLLBAR_ALLOWANCE || h - region.h > SCROLLBAR_ALLOWANCE;
  return zoomed || moved || smaller ? region : null;
}

export class Overlay {
  #area;
  #stage;
  #iframe;
  #layer;
  #cursor;
  #viewScroll;
  #viewport = null;
  /** The part of the layout viewport the customer sees, when not all of it (visualRegion). */
  #visual = null;
  #zoom;
  /** View pixels → console pixels: the customer's zoom times the fit into the console. */
  #scale = 1;
  /** The customer's pointer in page coordinates, or null when not known. */
  #pointer = null;

  /**
   * @param {{area: HTMLElement, stage: HTMLElement, iframe: HTMLIFrameElement, layer: HTMLElement,
   *          cursor: HTMLElement, zoom: HTMLElement, viewScroll: () => {x: number, y: number}}} parts
   *   (`zoom`: the indicator, #view-zoom)
   */
  constructor({ area, stage, iframe, layer, cursor, zoom, viewScroll }) {
    this.#area = area;
    this.#zoom = zoom;
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

  /**
   * The customer's viewport: the layout viewport's size (the iframe gets exactly that, then a
   * transform fits it in) and `visual`, their visual viewport, when known: zoomed in, panned or
   * shortened, the stage shows that part, as their screen does.
   */
  setViewport(w, h, visual) {
    const width = Math.max(1, Math.round(Number(w) || 0));
    const height = Math.max(1, Math.round(Number(h) || 0));
    this.#viewport = { w: width, h: height };
    this.#visual = visualRegion(visual, width, height);
    this.#iframe.style.width = `${width}px`;
    this.#iframe.style.height = `${height}px`;
    this.#showZoom();
    this.#fit();
  }

  /** #view-zoom: how far the customer zoomed in (or that they see part of the page); hidden otherwise. */
  #showZoom() {
    if (!this.#zoom) return;
    const visual = this.#visual;
    this.#zoom.hidden = !visual;
    this.#area.toggleAttribute('data-customer-zoom', !!visual);
    if (!visual) {
      this.#zoom.textContent = '';
      delete this.#zoom.dataset.scale;
      return;
    }
    this.#zoom.dataset.scale = String(visual.scale);
    this.#zoom.textContent = Math.abs(visual.scale - 1) > SCALE_TOLERANCE
      ? t('view.zoomed', { scale: visual.scale.toFixed(1) })
      : t('view.partOfScreen');
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

  /** What the stage shows, in the layout viewport's pixels: the visual viewport, or all of it. */
  #region() {
    return this.#visual || { x: 0, y: 0, w: this.#viewport.w, h: this.#viewport.h, scale: 1 };
  }

  /** Page coordinates → the overlay's pixels; null outside what the customer sees. */
  #toStage(x, y) {
    if (!this.#viewport) return null;
    const scroll = this.#viewScroll();
    const region = this.#region();
    const inViewX = x - scroll.x - region.x;
    const inViewY = y - scroll.y - region.y;
    if (inViewX < 0 || inViewY < 0 || inViewX > region.w || inViewY > region.h) return null;
    return { x: inViewX * this.#scale, y: inViewY * this.#scale };
  }

  #fit() {
    if (!this.#viewport) return;
    const style = getComputedStyle(this.#area);
    const room = {
      w: this.#area.clientWidth - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight),
      h: this.#area.clientHeight - parseFloat(style.paddingTop) - parseFloat(style.paddingBottom),
    };
    // What the customer's screen shows, at the size it shows it (their zoom), is scaled down to
    // fit, never up: the agent sees it at most at its real size.
    const region = this.#region();
    const fit = Math.min(1, room.w / (region.w * region.scale), room.h / (region.h * region.scale));
    this.#scale = region.scale * (fit > 0 ? fit : 1);
    // The iframe keeps the layout viewport's size; the region's corner goes to the stage's corner.
    this.#iframe.style.transform = this.#visual
      ? `scale(${this.#scale}) translate(${-region.x}px, ${-region.y}px)`
      : `scale(${this.#scale})`;
    this.#stage.style.width = `${region.w * this.#scale}px`;
    this.#stage.style.height = `${region.h * this.#scale}px`;
    this.refresh();
  }
}
