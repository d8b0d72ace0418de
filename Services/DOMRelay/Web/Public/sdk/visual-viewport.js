// The visual viewport: the part of the page the customer actually sees. On a phone it differs
// from the layout viewport (where `position: fixed` places boxes) when the customer pinch-zooms
// or the on-screen keyboard covers the bottom of the screen. Two jobs here: its geometry for the
// agent (`viewport` frames and the snapshot's `viewport`), and keeping the SDK's own fixed UI
// (the bar, the notices, the code prompt) inside it, counter-scaled so that it keeps its size on
// the screen whatever the zoom.

/** How far (on-screen CSS pixels) the bar and the notices keep from the visual viewport's edges. */
export const EDGE_MARGIN = 16;

/** Sub-pixel noise need not travel: hundredths of a pixel, ten-thousandths of the scale. */
const round = (value, places) => Math.round(value * 10 ** places) / 10 ** places;

/**
 * The viewport as the protocol sends it (docs/stream-protocol.md): `w`, `h` the layout viewport
 * (innerWidth/innerHeight), and `visual` {x, y, w, h, scale}, the visual viewport's offset and
 * size in the layout viewport's CSS pixels and its pinch-zoom scale; without `visual` where the
 * browser has no `window.visualViewport`.
 */
export function viewportState() {
  const state = { w: window.innerWidth, h: window.innerHeight };
  const visual = window.visualViewport;
  if (visual && visual.scale > 0) {
    state.visual = {
      x: round(visual.offsetLeft, 2), y: round(visual.offsetTop, 2),
      w: round(visual.width, 2), h: round(visual.height, 2), scale: round(visual.scale, 4),
    };
  }
  return state;
}

/** The layout viewport (innerWidth/innerHeight) may exceed the visual one by this much: a desktop's scrollbars. */
const SCROLLBAR_ALLOWANCE = 24;

/**
 * The visual viewport {x, y, w, h, scale} when it is not the layout viewport (zoomed, panned,
 * shortened by a keyboard, or narrower than a page that overflows a phone's screen, which
 * widens the layout viewport), else null: then the UI's own CSS places it, as on a desktop.
 */
function visualRegion() {
  const visual = window.visualViewport;
  if (!visual || !(visual.scale > 0)) return null;
  const region = { x: visual.offsetLeft, y: visual.offsetTop, w: visual.width, h: visual.height, scale: visual.scale };
  const same = Math.abs(region.scale - 1) < 0.01 && Math.abs(region.x) < 0.5 && Math.abs(region.y) < 0.5 &&
    window.innerWidth - region.w <= SCROLLBAR_ALLOWANCE && window.innerHeight - region.h <= SCROLLBAR_ALLOWANCE;
  return same ? null : region;
}

/** The inline properties a follower sets, removed again when the visual viewport is the layout one. */
const PLACED_PROPERTIES = ['left', 'top', 'right', 'bottom', 'height', 'width', 'transform', 'transform-origin',
  '--cobrowse-visual-width', '--cobrowse-visual-height'];

/**
 * Keeps a fixed-position element of the SDK inside the visual viewport while it differs from
 * the layout viewport, by its inline style (which no site CSP governs). `placement`:
 * - `corner`: the element (a host whose own CSS is `position: fixed; right: 16px; bottom: 16px`)
 *   goes to the visual viewport's bottom-right corner, 16 on-screen pixels from its edges,
 *   scaled by 1/scale; `--cobrowse-visual-width` / `--cobrowse-visual-height` on it say how much
 *   room (on-screen pixels) it has, for its `max-width` / `max-height`.
 * - `cover`: the element (fixed, `inset: 0`) covers exactly the visual viewport, its content laid
 *   out at the on-screen size (scaled by 1/scale).
 * Follows visualViewport `resize` and `scroll` (coalesced to an animation frame) and, for a
 * corner, the element's own size. Returns a function that stops following (and puts the
 * element's style back).
 */
export function followVisualViewport(element, placement) {
  const visual = window.visualViewport;
  if (!visual) return () => {};
  let frame = 0;
  let placed = false;
  const clear = () => {
    if (!placed) return;
    placed = false;
    for (const property of PLACED_PROPERTIES) element.style.removeProperty(property);
  };
  const place = () => {
    frame = 0;
    const region = visualRegion();
    if (!region || !element.isConnected) return clear();
    placed = true;
    const style = element.style;
    const shrink = 1 / region.scale;
    style.setProperty('transform', `scale(${shrink})`);
    style.setProperty('transform-origin', '0 0');
    style.setProperty('right', 'auto');
    style.setProperty('bottom', 'auto');
    if (placement === 'cover') {
      style.setProperty('left', `${region.x}px`);
      style.setProperty('top', `${region.y}px`);
      style.setProperty('width', `${region.w * region.scale}px`);
      style.setProperty('height', `${region.h * region.scale}px`);
      return;
    }
    // Its own size, not the room left of it, sets its width (else it would narrow as it moves right).
    style.setProperty('width', 'max-content');
    style.setProperty('--cobrowse-visual-width', `${Math.max(0, region.w * region.scale - 2 * EDGE_MARGIN)}px`);
    style.setProperty('--cobrowse-visual-height', `${Math.max(0, region.h * region.scale - 2 * EDGE_MARGIN)}px`);
    // offsetWidth/Height: its layout size, before the transform; on the screen it is that size.
    const left = region.x + region.w - (EDGE_MARGIN + element.offsetWidth) * shrink;
    const top = region.y + region.h - (EDGE_MARGIN + element.offsetHeight) * shrink;
    style.setProperty('left', `${Math.max(region.x, left)}px`);
    style.setProperty('top', `${Math.max(region.y, top)}px`);
  };
  const schedule = () => { if (!frame) frame = requestAnimationFrame(place); };
  visual.addEventListener('resize', schedule);
  visual.addEventListener('scroll', schedule);
  // A corner moves when its content grows or shrinks (the consent question, a longer status).
  const sizes = placement === 'corner' && typeof ResizeObserver === 'function' ? new ResizeObserver(schedule) : null;
  if (sizes) sizes.observe(element);
  place();
  return () => {
    visual.removeEventListener('resize', schedule);
    visual.removeEventListener('scroll', schedule);
    if (sizes) sizes.disconnect();
    if (frame) cancelAnimationFrame(frame);
    frame = 0;
    clear();
  };
}
