// The in-page half of sdk_burst.py: starts one recorder (our SDK, or rrweb's record) on the
// benchmark page, times its snapshot, then applies the same 1,000-change burst and times the
// recorder's handling of it. Loaded as the page's first script, before either recorder.
(() => {
  'use strict';
  const recorder = new URLSearchParams(location.search).get('recorder');
  const frames = []; // what the recorder handed to its transport: { kind, bytes, at }

  /**
   * Our SDK's transport boundary is the browser's WebSocket (sdk/transport.js opens
   * `new WebSocket(relay)` and only calls send/close on it). Without a relay, this stands where
   * the socket would be: it plays the relay's part of the opening (`start` → `started`) and
   * records every frame the SDK hands it, unchanged.
   */
  class CapturingSocket {
    static CONNECTING = 0;
    static OPEN = 1;
    static CLOSING = 2;
    static CLOSED = 3;

    constructor(url) {
      this.url = url;
      this.readyState = CapturingSocket.CONNECTING;
      this.bufferedAmount = 0;
      this.onopen = this.onmessage = this.onclose = this.onerror = null;
      bench.socket = this;
      setTimeout(() => {
        this.readyState = CapturingSocket.OPEN;
        if (this.onopen) this.onopen({});
      }, 0);
    }

    send(text) {
      const frame = JSON.parse(text);
      frames.push({ kind: frame.t, bytes: text.length, at: performance.now(), frame });
      if (frame.t === 'start') bench.opening = frame;
    }

    close() {
      this.readyState = CapturingSocket.CLOSED;
    }

    deliver(message) {
      this.onmessage({ data: JSON.stringify(message) });
    }
  }

  const nextFrame = () => new Promise((resolve) => requestAnimationFrame(() => resolve()));
  const pause = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
  async function until(what, probe, ms = 10000) {
    const deadline = performance.now() + ms;
    while (!probe()) {
      if (performance.now() > deadline) throw new Error(`timed out waiting for ${what}`);
      await pause(5);
    }
  }
  /** Lets whatever the recorder scheduled after starting (bar, timers, late observers) settle. */
  async function quiet() {
    await nextFrame();
    await nextFrame();
    await pause(300);
  }

  function countNodes() {
    const walker = document.createTreeWalker(document.documentElement, NodeFilter.SHOW_ALL);
    let count = 1;
    while (walker.nextNode()) count += 1;
    return count;
  }

  /**
   * The burst: 1,000 DOM changes, as a page's script makes them (a list re-rendered, prices
   * updated): 400 elements added (each a small subtree of four nodes), 200 removed, 200
   * attributes set (100 `data-state`, 100 class toggles) and 200 texts changed; each change a
   * function, in that order.
   */
  function burstChanges() {
    const cards = document.querySelectorAll('#grid .card');
    const changes = [];
    for (let i = 0; i < 400; i++) {
      changes.push(() => {
        const card = cards[(i * 2) % cards.length];
        const badge = document.createElement('div');
        badge.className = 'badge';
        const strong = document.createElement('b');
        strong.textContent = 'New';
        badge.append(strong, ` offer ${i}`);
        card.insertBefore(badge, card.querySelector('button'));
      });
    }
    for (let i = 0; i < 200; i++) changes.push(() => cards[i * 4 + 1].querySelector('p.desc').remove());
    for (let i = 0; i < 100; i++) changes.push(() => cards[i * 3].setAttribute('data-state', `seen-${i}`));
    for (let i = 0; i < 100; i++) changes.push(() => cards[i * 3 + 1].classList.toggle('hot'));
    for (let i = 0; i < 200; i++) changes.push(() => { cards[i * 4 + 2].querySelector('.price').firstChild.data = `€${(i + 0.99).toFixed(2)}`; });
    return changes;
  }

  const bench = {
    recorder,
    socket: null,
    opening: null,

    /** Starts the recorder and times its snapshot (the first full copy of the page). */
    async start() {
      const nodes = countNodes();
      let snapshotMs;
      let snapshotBytes;
      if (recorder === 'ours') {
        const sheets = document.adoptedStyleSheets.length;
        const started = CoBrowse.start({ interactionToken: 'benchmark' });
        await until('the SDK to open its socket and send start', () => bench.opening);
        // The SDK sends nothing before the page's rules are in; wait for them, so that the
        // snapshot is taken at once when the relay's `started` arrives, and time that. Once it
        // has them it adopts the customer's mark (docs/sdk.md), a sheet on the document.
        await until('the SDK to get its masking rules', () => document.adoptedStyleSheets.length > sheets);
        const before = frames.length;
        const t0 = performance.now();
        bench.socket.deliver({
          t: 'started', sessionId: '123456789', customerKey: 'benchmark-key', maxFrameBytes: 64 << 20,
          session: { state: 'pending', mode: 'pointer' },
        });
        snapshotMs = performance.now() - t0;
        const snapshot = frames.slice(before).find((frame) => frame.kind === 'snapshot');
        if (!snapshot) throw new Error('the SDK did not send its snapshot at once on `started`');
        snapshotBytes = snapshot.bytes;
        await started;
      } else if (recorder === 'rrweb') {
        const record = window.__rrwebRecord;
        if (typeof record !== 'function') throw new Error('rrweb record is not on the page');
        const t0 = performance.now();
        bench.stopRecording = record({
          // rrweb hands each event to the application; turning it into text is what sending
          // it costs, as our SDK's frames are turned into text before they reach the socket.
          emit(event) {
            const text = JSON.stringify(event);
            frames.push({ kind: event.type === 2 ? 'snapshot' : event.type === 3 && event.data.source === 0 ? 'mutations' : `rrweb-${event.type}`,
              bytes: text.length, at: performance.now(), frame: event });
          },
        });
        snapshotMs = performance.now() - t0;
        const snapshot = frames.find((frame) => frame.kind === 'snapshot');
        if (!snapshot) throw new Error('rrweb did not take its full snapshot at once');
        snapshotBytes = snapshot.bytes;
      } else {
        throw new Error(`unknown recorder ${recorder}`);
      }
      await quiet();
      return { nodes, snapshotMs, snapshotBytes };
    },

    /**
     * Applies the burst in `batches` parts, all in one task, each part delivered to the
     * observers before the next (a page that awaits between its changes), and times the
     * recorder's handling. A MutationObserver created now, after the recorder's, is called
     * right after it in each delivery (observers are notified in the order they were created):
     * its callback marks the end of the recorder's. After the last part it forces the layout
     * the changes need, which the browser would do for the next frame anyway unless the
     * recorder's callbacks already did it.
     */
    async burst(batches = 1) {
      const changes = burstChanges();
      const before = frames.length;
      let handled = 0;
      let handlerMs = 0;
      let applied = 0;
      let layoutFrom = null;
      let laidOut = null;
      const sentinel = new MutationObserver(() => {
        const now = performance.now();
        handlerMs += now - applied;
        handled += 1;
        if (handled < batches) return;
        sentinel.disconnect();
        layoutFrom = now;
        void document.documentElement.offsetHeight; // the layout the burst needs
        laidOut = performance.now();
      });
      sentinel.observe(document, { childList: true, subtree: true, attributes: true, characterData: true });
      const size = Math.ceil(changes.length / batches);
      const t0 = performance.now();
      let lastHandled = t0;
      let applyMs = 0;
      for (let part = 0; part < batches; part++) {
        const from = performance.now();
        for (const change of changes.slice(part * size, (part + 1) * size)) change();
        applied = performance.now();
        applyMs += applied - from;
        // The observers' microtask was queued by this part's first change: it runs before this.
        await null;
        if (handled !== part + 1) throw new Error(`the observers ran ${handled} times after part ${part + 1}`);
        lastHandled = performance.now();
      }
      if (laidOut === null) throw new Error('the sentinel observer did not finish');
      const output = frames.slice(before).filter((frame) => frame.at <= lastHandled);
      const mutations = output.filter((frame) => frame.kind === 'mutations');
      if (!mutations.length) throw new Error(`the recorder sent no mutations for the burst (sent ${output.map((f) => f.kind)})`);
      const adds = mutations.reduce((sum, frame) => sum + (recorder === 'ours' ? frame.frame.adds.length : frame.frame.data.adds.length), 0);
      await quiet();
      return {
        applyMs,
        handlerMs,
        layoutMs: laidOut - layoutFrom,
        totalMs: laidOut - t0,
        bytes: output.reduce((sum, frame) => sum + frame.bytes, 0),
        frames: output.length,
        adds,
      };
    },
  };

  window.__bench = bench;
  if (recorder === 'ours') {
    window.WebSocket = CapturingSocket;
    // Each load starts a session of its own: cobrowse.js would resume one stored by the last.
    sessionStorage.removeItem('cobrowse.session');
  }
})();
