// Embedding: the console framed by a contact-center desktop (docs/agent-console.md, "Embedding it
// in a contact-center desktop"). Only the page that frames the console (`window.parent`), only
// from an origin of the relay's CONSOLE_EMBEDDERS (`/agent/embedding.json`), only messages
// `{ type: 'cobrowse-console', t: 'sign-in' | 'sign-out', … }` are heard; the console's news go
// back to that desktop alone.

/** What the console and the desktop that frames it say in their messages' `type`. */
const EMBEDDING_TYPE = 'cobrowse-console';
/** Longer than any agent token; a longer one in a message is not one. */
const MAX_TOKEN_LENGTH = 16384;

/** The origins of a list as the browser writes origins (entries that are none are left out). */
function originsOf(list) {
  if (!Array.isArray(list)) return [];
  const origins = new Set();
  for (const entry of list) {
    try {
      const origin = new URL(String(entry)).origin;
      if (origin !== 'null') origins.add(origin);
    } catch { /* not an origin */ }
  }
  return [...origins];
}

/** The link to the desktop that frames the console (when it is framed). */
export class DesktopEmbedding {
  /** For debugging and tests: the embedders' origins (null until known; [] when not framed) and how many messages were ignored. */
  status = { origins: null, ignored: 0 };
  /** Resolves with the origins of CONSOLE_EMBEDDERS (none when not framed, or unknown). */
  ready;
  #framed = window.parent !== window;
  /** The desktop that signed in last (its origin), where the console's news go. */
  #embedderOrigin = null;

  /**
   * @param signIn (token, sessionText) => the desktop's sign-in (`sessionText`: its session, or null)
   * @param signOut () => the desktop's sign-out
   */
  constructor({ signIn, signOut }) {
    this.ready = (this.#framed
      ? fetch(new URL('embedding.json', import.meta.url), { cache: 'no-store', credentials: 'same-origin' })
        .then((response) => (response.ok ? response.json() : null))
        .then((body) => originsOf(body?.embedders))
        .catch(() => [])
      : Promise.resolve([])
    ).then((origins) => {
      this.status.origins = origins;
      return origins;
    });
    addEventListener('message', (event) => this.#received(event, signIn, signOut));
  }

  /**
   * Tells the desktop what happened: posted to the parent, only ever to an allowed origin (the
   * desktop's that signed in, else the parent's as the browser says it, else each allowed one:
   * the browser delivers it only to the parent's own). Nothing secret is in it.
   */
  tell(message) {
    if (!this.#framed) return;
    this.ready.then((origins) => {
      const parentOrigin = location.ancestorOrigins?.[0];
      const targets = this.#embedderOrigin ? [this.#embedderOrigin]
        : parentOrigin ? origins.filter((origin) => origin === parentOrigin) : origins;
      for (const origin of targets) window.parent.postMessage({ type: EMBEDDING_TYPE, ...message }, origin);
    });
  }

  #ignore(origin, why) {
    this.status.ignored += 1;
    console.warn(`Co-browse console: ignored a message from ${origin}: ${why}`);
  }

  #received(event, signIn, signOut) {
    const message = event.data;
    if (!this.#framed || !message || typeof message !== 'object' || message.type !== EMBEDDING_TYPE) return;
    const { source, origin } = event;
    this.ready.then((origins) => {
      if (source !== window.parent) return this.#ignore(origin, 'it does not come from the page that frames the console');
      if (!origins.includes(origin)) return this.#ignore(origin, "that origin is not in the relay's CONSOLE_EMBEDDERS");
      switch (message.t) {
        case 'sign-in': {
          const token = typeof message.token === 'string' ? message.token.trim() : '';
          if (!token || token.length > MAX_TOKEN_LENGTH) return this.#ignore(origin, 'sign-in needs a token');
          this.#embedderOrigin = origin;
          signIn(token, message.sessionId == null ? null : String(message.sessionId));
          break;
        }
        case 'sign-out':
          this.#embedderOrigin = origin;
          signOut();
          break;
        default:
          this.#ignore(origin, `unknown message ${JSON.stringify(String(message.t))}`);
      }
    });
  }
}
