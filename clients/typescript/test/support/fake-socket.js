// A WebSocket stand-in driven by the test: it records what the client sends and lets the test
// open, answer and close it.
export class FakeSocket {
  static instances = [];
  static refuse = 0; // how many of the next sockets fail to open

  constructor(url) {
    this.url = url;
    this.readyState = 0;
    this.sent = [];
    this.onopen = this.onmessage = this.onclose = this.onerror = null;
    FakeSocket.instances.push(this);
    if (FakeSocket.refuse > 0) {
      FakeSocket.refuse -= 1;
      queueMicrotask(() => this.serverClose(1006));
    }
  }

  static reset() {
    FakeSocket.instances = [];
    FakeSocket.refuse = 0;
  }

  static get last() {
    return FakeSocket.instances[FakeSocket.instances.length - 1];
  }

  send(data) {
    this.sent.push(JSON.parse(data));
  }

  close(code = 1000, reason = "") {
    this.serverClose(code, reason);
  }

  open() {
    this.readyState = 1;
    this.onopen?.({});
  }

  deliver(message) {
    this.onmessage?.({ data: JSON.stringify(message) });
  }

  serverClose(code, reason = "") {
    if (this.readyState === 3) return;
    this.readyState = 3;
    this.onclose?.({ code, reason });
  }

  /** The messages sent with this action. */
  sentOf(action) {
    return this.sent.filter((m) => m.action === action);
  }

  /** Answers the latest sync with a snapshot. */
  answerSync({ seq, truncated = false, more = false }) {
    const sync = this.sentOf("sync").at(-1);
    this.deliver({
      type: "snapshot", at: 1, request_id: sync.request_id, protocol: 2, seq,
      player: { player_id: "p", character: { level: 1, xp: 0 }, skills: {}, equipment: {}, inventory: {}, stations: [] },
      queue: [], more, truncated,
    });
    return sync;
  }
}

export const queueUpdated = (seq) => ({ type: "queue_updated", seq, at: seq, queue: [] });
