// Same-origin frames: which elements are frames, whether their documents may be read, and
// their windows' coordinates as the top page's.

export function isFrameElement(element) {
  return element.localName === 'iframe' || element.localName === 'frame';
}

/** A frame element's document when this page may read it (same origin, and there), else null. */
export function readableFrameDocument(element) {
  try {
    const doc = element.contentDocument;
    return doc && doc.documentElement ? doc : null;
  } catch {
    return null;
  }
}

/** The window a node belongs to: the page's, or a same-origin frame's. */
export function windowOf(node) {
  const doc = node.nodeType === Node.DOCUMENT_NODE ? node : node.ownerDocument;
  return (doc && doc.defaultView) || window;
}

/** A point in a (possibly framed) window's viewport as page coordinates of the top page. */
export function topPagePoint(view, x, y) {
  for (let current = view; current && current !== window; current = current.parent) {
    let element;
    try { element = current.frameElement; } catch { element = null; }
    if (!element) break;
    const box = element.getBoundingClientRect();
    x += box.left + element.clientLeft;
    y += box.top + element.clientTop;
  }
  return { x: Math.round(x + window.scrollX), y: Math.round(y + window.scrollY) };
}
