// The SDK's mirror (rrweb's `Mirror`): every node sent to the agent has an id, never reused
// within a page (id ↔ node, and which document each same-origin frame element was sent with).

/** The id ↔ node map of one shared page; ids are what frames and agent actions name nodes by. */
export class Mirror {
  constructor() {
    this.ids = new WeakMap();
    this.nodes = new Map();
    this.nextID = 1;
    /** <iframe>/<frame> element → the document its `frame` was serialized from (same-origin frames). */
    this.frames = new WeakMap();
  }
  id(node) { return this.ids.get(node); }
  has(node) { return this.ids.has(node); }
  assign(node) {
    const id = this.nextID++;
    this.ids.set(node, id);
    this.nodes.set(id, node);
    return id;
  }
  /** Forgets a removed node and everything under it (including open shadow roots). */
  forget(node) {
    const id = this.ids.get(node);
    if (id === undefined) return;
    this.ids.delete(node);
    this.nodes.delete(id);
    for (const child of node.childNodes) this.forget(child);
    if (node.shadowRoot) for (const child of node.shadowRoot.childNodes) this.forget(child);
    const frameDocument = this.frames.get(node);
    if (frameDocument) {
      this.frames.delete(node);
      for (const child of frameDocument.childNodes) this.forget(child);
    }
  }
  reset() {
    this.ids = new WeakMap();
    this.nodes.clear();
    this.frames = new WeakMap();
  }
}
