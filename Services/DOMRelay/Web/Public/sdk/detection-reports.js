// Detection reports: what the SDK's PII detectors masked (masking.js counts their hits), told
// to the filter in a `detected` frame, counted in the session's masking record
// (docs/stream-protocol.md). One report at most every DETECTED_REPORT_MS, however busy the page.

/** How often, at most, the filter hears what the SDK's PII detectors masked. */
const DETECTED_REPORT_MS = 2000;

/** One share session's reports of its detectors' hits. */
export class DetectionReports {
  #timer = null;
  /** The rules (Masking) the last report counted from, and its hits then: only new ones are sent. */
  #reportedMasking = null;
  #reportedHits = {};

  /**
   * @param currentMasking () => the session's Masking in force (null or undefined: none yet)
   * @param send (frame) => true when the frame went out (outbound-stream.js)
   */
  constructor(currentMasking, send) {
    this.currentMasking = currentMasking;
    this.send = send;
  }

  /** A frame went out: what masking it took is reported soon (a report itself asks for none). */
  frameSent(frame) {
    if (frame.t === 'detected' || this.#timer) return;
    this.#timer = setTimeout(() => {
      this.#timer = null;
      this.report();
    }, DETECTED_REPORT_MS);
  }

  /** Tells the filter what the detectors masked since the last report (each page's rules start over). */
  report() {
    const masking = this.currentMasking();
    if (!masking) return;
    if (this.#reportedMasking !== masking) {
      this.#reportedMasking = masking;
      this.#reportedHits = {};
    }
    const hits = {};
    for (const [name, count] of Object.entries(masking.detectorHits)) {
      if (count > (this.#reportedHits[name] || 0)) hits[name] = count - (this.#reportedHits[name] || 0);
    }
    if (Object.keys(hits).length === 0) return;
    if (this.send({ t: 'detected', hits })) this.#reportedHits = { ...masking.detectorHits };
  }

  /** No more reports: the session is over. */
  stop() {
    clearTimeout(this.#timer);
    this.#timer = null;
  }
}
