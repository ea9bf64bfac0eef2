// A client for the idle-game backend's WebSocket protocol, version 2 (docs/protocol.md,
// docs/asyncapi.json). No runtime dependencies: in a browser it uses the global WebSocket; in
// Node, pass a WebSocket constructor (for example the `ws` package's).

import type {
  AckReply,
  Catalog,
  ClientMessage,
  DurableNotification,
  ErrorCode,
  ErrorReply,
  PongReply,
  Reply,
  ServerMessage,
  SnapshotReply,
  TaskProgress,
  TaskRequest,
} from "./protocol.js";
import { DURABLE_TYPES } from "./protocol.js";

export * from "./protocol.js";

/** The part of the WebSocket interface the client uses (browsers' and `ws`'s both fit). */
export interface SocketLike {
  readonly readyState: number;
  send(data: string): void;
  close(code?: number, reason?: string): void;
  // `any` events: the browser's and `ws`'s event types differ, and the client reads only
  // `data`, `code` and `reason`.
  onopen: ((event: any) => void) | null;
  onmessage: ((event: any) => void) | null;
  onclose: ((event: any) => void) | null;
  onerror: ((event: any) => void) | null;
}

export type SocketConstructor = new (url: string) => SocketLike;

export interface ReconnectOptions {
  /** Delay before the first reconnect attempt, before jitter. Default 250 ms. */
  initialDelayMs?: number;
  /** Longest delay between attempts. Default 10 s. */
  maxDelayMs?: number;
  /** Growth of the delay per failed attempt. Default 2. */
  factor?: number;
}

export interface ClientOptions {
  /** The WebSocket URL without the token: `ws://127.0.0.1:8787/ws`, `wss://…/prod`. */
  url: string;
  /**
   * The player's JWT, or a function called before every connect and reconnect that returns a
   * fresh one (tokens expire; there is no refresh in-band).
   */
  token: string | (() => string | Promise<string>);
  /** The WebSocket constructor. Default: `globalThis.WebSocket` (browsers, Node 22+). */
  WebSocket?: SocketConstructor;
  /** How long a request waits for its reply (and for a connection to send it on). Default 10 s. */
  requestTimeoutMs?: number;
  /**
   * How many times an `enqueue` is sent in all, with the same `request_id`, when its reply does
   * not come (timeout, lost connection) or the server answers `unavailable`. Safe: the server
   * queues a `request_id` once. Default 4.
   */
  enqueueAttempts?: number;
  /** Reconnect with exponential backoff and jitter after an unexpected close; `false` disables. */
  reconnect?: ReconnectOptions | false;
  /** The last `seq` this player's client saw (a stored one, to resume); default 0. */
  lastSeq?: number;
  /** Random numbers in [0, 1) for jitter and request ids; default `Math.random`. */
  random?: () => number;
  /**
   * For tests: sees every parsed server message first; returning `false` drops it, as if the
   * network had lost it.
   */
  filterIncoming?: (message: ServerMessage) => boolean;
}

/** What the client emits; `on(type, listener)` is typed by this map. */
export interface ClientEvents {
  queue_updated: Extract<DurableNotification, { type: "queue_updated" }>;
  task_started: Extract<DurableNotification, { type: "task_started" }>;
  task_completed: Extract<DurableNotification, { type: "task_completed" }>;
  /** A chunk of a continuous task (`repeat: "until_stopped"`) was settled and granted. */
  chunk_settled: Extract<DurableNotification, { type: "chunk_settled" }>;
  /** The running task stopped at the offline cap; the next message or connect resumes it. */
  task_paused: Extract<DurableNotification, { type: "task_paused" }>;
  task_failed: Extract<DurableNotification, { type: "task_failed" }>;
  task_cancelled: Extract<DurableNotification, { type: "task_cancelled" }>;
  task_progress: TaskProgress;
  /** Every durable notification, once each, in `seq` order. */
  notification: DurableNotification;
  /**
   * A snapshot: the player and queue as they are (always the truth). Sent after every connect
   * and after every resync; the notifications it did not cover follow it.
   */
  snapshot: SnapshotReply;
  /** The socket opened (first connect or a reconnect). */
  open: { reconnect: boolean };
  /** The socket closed; `reconnecting` tells whether the client will try again. */
  close: { code: number; reason: string; reconnecting: boolean };
  /** A reconnect attempt is scheduled. */
  reconnecting: { attempt: number; delayMs: number };
  /** An error no request is waiting for (a reply without `request_id`, an unreadable message). */
  error: Error;
  /** Every server message as it arrived, before dedupe (for logging). */
  message: ServerMessage;
}

/** The server refused a request: `code` is the protocol's error code. */
export class IdleError extends Error {
  readonly code: ErrorCode;
  readonly retryAfterMs?: number;
  readonly requestId?: string;
  readonly reply: ErrorReply;
  constructor(reply: ErrorReply) {
    super(`${reply.code}: ${reply.message}`);
    this.name = "IdleError";
    this.code = reply.code;
    this.retryAfterMs = reply.retry_after_ms;
    this.requestId = reply.request_id;
    this.reply = reply;
  }
}

/** No reply came in time, or the connection went away before it did. */
export class RequestFailedError extends Error {
  readonly reason: "timeout" | "disconnected" | "closed";
  readonly requestId: string;
  constructor(reason: "timeout" | "disconnected" | "closed", requestId: string, message: string) {
    super(message);
    this.name = "RequestFailedError";
    this.reason = reason;
    this.requestId = requestId;
  }
}

type Listener<T> = (event: T) => void;
type Expect = "ack" | "snapshot" | "catalog" | "pong";

interface Pending {
  message: ClientMessage & { request_id: string };
  expect: Expect;
  attemptsLeft: number;
  sent: boolean;
  timer: ReturnType<typeof setTimeout> | undefined;
  resolve: (reply: any) => void;
  reject: (error: Error) => void;
}

const OPEN = 1;
const DURABLE = new Set<string>(DURABLE_TYPES);

/**
 * One player's connection. Requests return promises correlated by `request_id`; durable
 * notifications are delivered once each, in `seq` order: repeats are dropped, and a gap (a
 * `seq` more than one past the last delivered) is held back while the client asks `sync` for
 * what is missing. After a lost connection it reconnects with backoff, resyncs from the last
 * `seq` and resends unanswered `enqueue`s with their `request_id`.
 */
export class IdleClient {
  private readonly options: ClientOptions;
  private readonly listeners = new Map<string, Set<Listener<any>>>();
  private readonly pending = new Map<string, Pending>();
  /** Notifications after a gap, by seq, until the gap is filled or a snapshot covers them. */
  private readonly held = new Map<number, DurableNotification>();
  private socket: SocketLike | undefined;
  private seq: number;
  private counter = 0;
  private attempt = 0;
  private reconnectTimer: ReturnType<typeof setTimeout> | undefined;
  private stopped = false;
  private connectedOnce = false;
  private resyncing = false;
  private ready: { resolve: () => void; reject: (e: Error) => void } | undefined;

  constructor(options: ClientOptions) {
    this.options = options;
    this.seq = options.lastSeq ?? 0;
  }

  /** The highest `seq` delivered: what a resync asks after. Store it to resume later. */
  get lastSeq(): number {
    return this.seq;
  }

  /** True while the socket is open. */
  get connected(): boolean {
    return this.socket !== undefined && this.socket.readyState === OPEN;
  }

  /** Listens for `type`; returns a function that stops listening. */
  on<K extends keyof ClientEvents>(type: K, listener: Listener<ClientEvents[K]>): () => void {
    let set = this.listeners.get(type);
    if (!set) this.listeners.set(type, (set = new Set()));
    set.add(listener);
    return () => set!.delete(listener);
  }

  /**
   * Opens the connection; resolves once the first snapshot has arrived. Keeps reconnecting
   * after a failed attempt (unless reconnect is off) until `close()`.
   */
  connect(): Promise<void> {
    this.stopped = false;
    const ready = new Promise<void>((resolve, reject) => (this.ready = { resolve, reject }));
    void this.open();
    return ready;
  }

  /** Closes the connection for good: no reconnect; waiting requests fail with `closed`. */
  close(): void {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    const socket = this.socket;
    this.socket = undefined;
    if (socket) socket.close(1000, "client closed");
    for (const [id, p] of this.pending) {
      this.settle(id, p, () => p.reject(new RequestFailedError("closed", id, "the client was closed")));
    }
    this.ready?.reject(new Error("the client was closed"));
    this.ready = undefined;
  }

  /**
   * Queues a task. The `request_id` (given, or made here) is the idempotency key: the request is
   * resent with it after a timeout, a lost connection or `unavailable`, and the server queues
   * it once (`duplicate: true` on a repeat).
   */
  enqueue(
    task: TaskRequest,
    options: { requestId?: string; bypassValidation?: boolean } = {},
  ): Promise<AckReply> {
    const message: ClientMessage & { request_id: string } = {
      action: "enqueue",
      request_id: options.requestId ?? this.newRequestId(),
      task,
    };
    if (options.bypassValidation) message.bypass_validation = true;
    return this.request(message, "ack", this.options.enqueueAttempts ?? 4);
  }

  /** Cancels a queued or running task. */
  cancel(taskId: string): Promise<AckReply> {
    return this.request({ action: "cancel", request_id: this.newRequestId(), task_id: taskId }, "ack", 1);
  }

  /**
   * Asks for the snapshot and the kept notifications after `afterSeq` (default: the last
   * delivered). The notifications are delivered through the events, not the promise.
   */
  sync(afterSeq: number = this.seq): Promise<SnapshotReply> {
    return this.request({ action: "sync", request_id: this.newRequestId(), after_seq: afterSeq }, "snapshot", 1);
  }

  /** The game catalog. */
  async catalog(): Promise<Catalog> {
    const reply = await this.request({ action: "catalog", request_id: this.newRequestId() }, "catalog", 1);
    return reply.catalog;
  }

  /** A round trip to the server. */
  ping(): Promise<PongReply> {
    return this.request({ action: "ping", request_id: this.newRequestId() }, "pong", 1);
  }

  // ---- requests ------------------------------------------------------------------------------

  private newRequestId(): string {
    const random = this.options.random ?? Math.random;
    this.counter += 1;
    const noise = Math.floor(random() * 2 ** 48).toString(36);
    return `c-${Date.now().toString(36)}-${noise}-${this.counter}`;
  }

  private request(message: ClientMessage & { request_id: string }, expect: "ack", attempts: number): Promise<AckReply>;
  private request(message: ClientMessage & { request_id: string }, expect: "snapshot", attempts: number): Promise<SnapshotReply>;
  private request(message: ClientMessage & { request_id: string }, expect: "catalog", attempts: number): Promise<Extract<ServerMessage, { type: "catalog" }>>;
  private request(message: ClientMessage & { request_id: string }, expect: "pong", attempts: number): Promise<PongReply>;
  private request(message: ClientMessage & { request_id: string }, expect: Expect, attempts: number): Promise<any> {
    return new Promise((resolve, reject) => {
      if (this.stopped) {
        reject(new RequestFailedError("closed", message.request_id, "the client is closed"));
        return;
      }
      const p: Pending = { message, expect, attemptsLeft: attempts, sent: false, timer: undefined, resolve, reject };
      this.pending.set(message.request_id, p);
      this.transmit(message.request_id, p);
    });
  }

  /** Sends (or resends) a pending request now if the socket is open, and starts its timer. */
  private transmit(id: string, p: Pending): void {
    clearTimeout(p.timer);
    p.timer = setTimeout(() => this.timedOut(id, p), this.options.requestTimeoutMs ?? 10_000);
    if (this.connected) {
      p.sent = true;
      p.attemptsLeft -= 1;
      this.socket!.send(JSON.stringify(p.message));
    } else {
      p.sent = false; // sent by `flush` when the socket opens
    }
  }

  private timedOut(id: string, p: Pending): void {
    if (this.pending.get(id) !== p) return;
    // Waiting for a connection the whole time counts as an attempt, so a request made while
    // the server is away still ends.
    if (!p.sent) p.attemptsLeft -= 1;
    if (p.attemptsLeft > 0) {
      this.transmit(id, p);
      return;
    }
    this.settle(id, p, () =>
      p.reject(new RequestFailedError("timeout", id, `no reply to ${p.message.action} ${id} in time`)),
    );
  }

  private settle(id: string, p: Pending, then: () => void): void {
    clearTimeout(p.timer);
    this.pending.delete(id);
    then();
  }

  /** On open: sends what waited for a connection. */
  private flush(): void {
    for (const [id, p] of this.pending) {
      if (!p.sent) this.transmit(id, p);
    }
  }

  /** On a lost connection: `enqueue`s wait to be resent; other requests fail. */
  private orphan(): void {
    for (const [id, p] of this.pending) {
      if (!p.sent) continue;
      if (p.message.action === "enqueue" && p.attemptsLeft > 0) {
        p.sent = false;
      } else {
        this.settle(id, p, () =>
          p.reject(new RequestFailedError("disconnected", id, `the connection closed before the reply to ${p.message.action} ${id}`)),
        );
      }
    }
  }

  private answer(reply: Reply): boolean {
    const id = reply.request_id;
    const p = id === undefined ? undefined : this.pending.get(id);
    if (!p || id === undefined) return false;
    if (reply.type === "error") {
      if (p.message.action === "enqueue" && p.attemptsLeft > 0) {
        if (reply.code === "unavailable") {
          clearTimeout(p.timer);
          p.timer = setTimeout(() => this.transmit(id, p), reply.retry_after_ms ?? 1000);
          return true;
        }
        if (reply.code === "token_expired") {
          p.sent = false; // the server closes the socket; resent after the reconnect
          return true;
        }
      }
      this.settle(id, p, () => p.reject(new IdleError(reply)));
      return true;
    }
    if (reply.type !== p.expect) return false;
    this.settle(id, p, () => p.resolve(reply));
    return true;
  }

  // ---- the connection ------------------------------------------------------------------------

  private async open(): Promise<void> {
    clearTimeout(this.reconnectTimer);
    let token: string;
    try {
      const t = this.options.token;
      token = typeof t === "function" ? await t() : t;
    } catch (error) {
      this.emit("error", error instanceof Error ? error : new Error(String(error)));
      this.scheduleReconnect();
      return;
    }
    if (this.stopped) return;
    const Socket = this.options.WebSocket ?? (globalThis as any).WebSocket;
    if (!Socket) throw new Error("no WebSocket: pass options.WebSocket (for example the `ws` package)");
    const separator = this.options.url.includes("?") ? "&" : "?";
    const socket: SocketLike = new Socket(`${this.options.url}${separator}token=${encodeURIComponent(token)}`);
    this.socket = socket;
    socket.onopen = () => {
      if (this.socket !== socket) return;
      const reconnect = this.connectedOnce;
      this.connectedOnce = true;
      this.emit("open", { reconnect });
      // Resync first: whatever happened while away comes after this snapshot.
      this.resync();
      this.flush();
    };
    socket.onmessage = (event) => {
      if (this.socket !== socket) return;
      let message: ServerMessage;
      try {
        message = JSON.parse(String(event.data));
      } catch (error) {
        this.emit("error", new Error(`unreadable message from the server: ${String(error)}`));
        return;
      }
      this.receive(message);
    };
    socket.onerror = () => {
      // Followed by onclose, which handles it.
    };
    socket.onclose = (event) => {
      if (this.socket !== socket) return;
      this.socket = undefined;
      this.resyncing = false;
      this.orphan();
      const reconnecting = !this.stopped && this.options.reconnect !== false;
      this.emit("close", { code: event.code, reason: event.reason, reconnecting });
      if (reconnecting) {
        this.scheduleReconnect();
      } else if (this.ready) {
        this.ready.reject(new Error(`the connection closed (${event.code}) before the first snapshot`));
        this.ready = undefined;
      }
    };
  }

  private scheduleReconnect(): void {
    if (this.stopped || this.options.reconnect === false) return;
    const { initialDelayMs = 250, maxDelayMs = 10_000, factor = 2 } = this.options.reconnect ?? {};
    const ceiling = Math.min(maxDelayMs, initialDelayMs * factor ** this.attempt);
    // "Equal jitter": at least half the ceiling, so clients that lost the same server spread
    // out without any of them hammering it.
    const delayMs = Math.round(ceiling / 2 + (this.options.random ?? Math.random)() * (ceiling / 2));
    this.attempt += 1;
    this.emit("reconnecting", { attempt: this.attempt, delayMs });
    clearTimeout(this.reconnectTimer);
    this.reconnectTimer = setTimeout(() => void this.open(), delayMs);
  }

  /** Asks for what came after the last delivered notification (once at a time). */
  private resync(): void {
    if (this.resyncing) return;
    this.resyncing = true;
    this.sync(this.seq).then(
      (snapshot) => this.afterSnapshot(snapshot),
      (error) => {
        this.resyncing = false;
        if (error instanceof RequestFailedError && error.reason !== "timeout") return; // reconnect resyncs
        this.emit("error", error);
        const delayMs = error instanceof IdleError ? (error.retryAfterMs ?? 1000) : 0;
        setTimeout(() => this.connected && this.resync(), delayMs);
      },
    );
  }

  private afterSnapshot(snapshot: SnapshotReply): void {
    this.attempt = 0;
    if (this.ready) {
      this.ready.resolve();
      this.ready = undefined;
    }
    if (snapshot.more) {
      // The page follows the snapshot on this connection; once a ping's pong is back it is in,
      // and the next sync starts after it.
      this.ping().then(
        () => {
          this.resyncing = false;
          this.resync();
        },
        () => (this.resyncing = false),
      );
      return;
    }
    this.resyncing = false;
    // A snapshot's own notifications follow it; a gap still open after them needs another
    // sync, which a later notification's arrival (or this check, once they are in) asks for.
    if (this.held.size > 0) {
      this.ping().then(
        () => {
          if (this.held.size > 0 && !this.held.has(this.seq + 1)) this.resync();
        },
        () => {},
      );
    }
  }

  // ---- incoming ------------------------------------------------------------------------------

  private receive(message: ServerMessage): void {
    if (this.options.filterIncoming && this.options.filterIncoming(message) === false) return;
    this.emit("message", message);
    if (typeof message !== "object" || message === null) return;
    if (message.type === "snapshot") {
      this.applySnapshot(message);
      this.answer(message);
      return;
    }
    if (DURABLE.has(message.type)) {
      this.notification(message as DurableNotification);
      return;
    }
    if (message.type === "task_progress") {
      this.emit("task_progress", message);
      return;
    }
    if (message.type === "ack" || message.type === "catalog" || message.type === "pong" || message.type === "error") {
      if (!this.answer(message) && message.type === "error") this.emit("error", new IdleError(message));
    }
    // Anything else is a type this client does not know: ignored, as the protocol asks.
  }

  private applySnapshot(snapshot: SnapshotReply): void {
    if (snapshot.truncated || snapshot.seq < this.seq) {
      // Some notifications after ours are no longer kept: the snapshot is the truth, so
      // continue from its seq. Held ones it covers are still real events: deliver them first,
      // in order (what is missing between them cannot be had).
      const covered = [...this.held.keys()].filter((seq) => seq <= snapshot.seq).sort((a, b) => a - b);
      for (const seq of covered) {
        const n = this.held.get(seq)!;
        this.held.delete(seq);
        if (seq > this.seq) this.deliver(n);
      }
      this.seq = snapshot.seq;
    }
    this.emit("snapshot", snapshot);
    this.drain();
  }

  private notification(n: DurableNotification): void {
    if (n.seq <= this.seq || this.held.has(n.seq)) return; // seen already: at least once
    if (n.seq === this.seq + 1) {
      this.deliver(n);
      this.drain();
      return;
    }
    // A gap: hold this one back and ask for what is missing. An old seq is a repeat, never a
    // gap; a missing one that arrives late fills the gap before the sync's answer does.
    this.held.set(n.seq, n);
    this.resync();
  }

  /** Delivers held notifications that are now next in line. */
  private drain(): void {
    for (let next = this.held.get(this.seq + 1); next; next = this.held.get(this.seq + 1)) {
      this.held.delete(next.seq);
      this.deliver(next);
    }
  }

  private deliver(n: DurableNotification): void {
    this.seq = n.seq;
    this.emit("notification", n);
    this.emit(n.type, n as any);
  }

  private emit<K extends keyof ClientEvents>(type: K, event: ClientEvents[K]): void {
    for (const listener of [...(this.listeners.get(type) ?? [])]) {
      try {
        listener(event);
      } catch (error) {
        if (type !== "error") this.emit("error", error instanceof Error ? error : new Error(String(error)));
      }
    }
  }
}
