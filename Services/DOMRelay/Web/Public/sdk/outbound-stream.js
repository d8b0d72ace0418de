// Outbound stream: the page's frames on their way to the relay, numbered in sequence and kept
// within what the relay and the network take. A frame over the relay's size limit, or one that
// comes while the socket's buffer is full, is dropped, and nothing but a snapshot goes out after
// it: later frames would name nodes the filter never saw.

/** One share session's outgoing frames: their sequence, and whether only a snapshot may go next. */
export class OutboundStream {
  /** The sequence number of the last frame sent (a snapshot restarts it: its own is 1). */
  seq = 0;
  /** Nothing but a snapshot goes out next: a frame was dropped, or a new socket opened. */
  needsSnapshot = false;

  /**
   * @param transport the session's connection (transport.js): open, congested, maxFrameBytes,
   *   whenDrained, sendText
   * @param handlers.snapshot sends a fresh snapshot (a dropped frame is followed by one)
   * @param handlers.tooLarge (frame, maxFrameBytes) a frame over the relay's limit was dropped
   * @param handlers.sent (frame) a frame went out
   */
  constructor(transport, { snapshot, tooLarge, sent }) {
    this.transport = transport;
    this.handlers = { snapshot, tooLarge, sent };
  }

  /** A snapshot is about to go: the sequence starts again, and frames may follow it. */
  restart() {
    this.seq = 0;
    this.needsSnapshot = false;
  }

  /** Sends `frame` as the next in sequence; true when it went out, false when it was dropped. */
  send(frame) {
    const transport = this.transport;
    if (!transport.open) {
      this.needsSnapshot = true; // dropped: the next connection starts from a snapshot
      return false;
    }
    if (this.needsSnapshot && frame.t !== 'snapshot') return false;
    if (transport.congested) {
      // The network cannot keep up: drop, and start again from a snapshot once it drains.
      this.needsSnapshot = true;
      transport.whenDrained(() => this.handlers.snapshot());
      return false;
    }
    const text = JSON.stringify({ ...frame, seq: this.seq + 1 });
    // Over the relay's limit the socket would be closed: drop it, and say so once. (A UTF-8
    // character is at most 3 bytes, so most frames are known small without encoding them.)
    const { maxFrameBytes } = transport;
    if (text.length * 3 > maxFrameBytes && new TextEncoder().encode(text).length > maxFrameBytes) {
      // A too-large snapshot waits for the next resync request.
      this.needsSnapshot = true;
      if (frame.t !== 'snapshot') setTimeout(() => this.handlers.snapshot(), 0);
      this.handlers.tooLarge(frame, maxFrameBytes);
      return false;
    }
    this.seq += 1;
    transport.sendText(text);
    this.handlers.sent(frame);
    return true;
  }
}
