import type { AckReply, Catalog, DurableNotification, ErrorCode, ErrorReply, PongReply, ServerMessage, SnapshotReply, TaskProgress, TaskRequest } from "./protocol.js";
export * from "./protocol.js";
/** The part of the WebSocket interface the client uses (browsers' and `ws`'s both fit). */
export interface SocketLike {
    readonly readyState: number;
    send(data: string): void;
    close(code?: number, reason?: string): void;
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
    queue_updated: Extract<DurableNotification, {
        type: "queue_updated";
    }>;
    task_started: Extract<DurableNotification, {
        type: "task_started";
    }>;
    task_completed: Extract<DurableNotification, {
        type: "task_completed";
    }>;
    /** A chunk of a continuous task (`repeat: "until_stopped"`) was settled and granted. */
    chunk_settled: Extract<DurableNotification, {
        type: "chunk_settled";
    }>;
    /** The running task stopped at the offline cap; the next message or connect resumes it. */
    task_paused: Extract<DurableNotification, {
        type: "task_paused";
    }>;
    task_failed: Extract<DurableNotification, {
        type: "task_failed";
    }>;
    task_cancelled: Extract<DurableNotification, {
        type: "task_cancelled";
    }>;
    task_progress: TaskProgress;
    /** Every durable notification, once each, in `seq` order. */
    notification: DurableNotification;
    /**
     * A snapshot: the player and queue as they are (always the truth). Sent after every connect
     * and after every resync; the notifications it did not cover follow it.
     */
    snapshot: SnapshotReply;
    /** The socket opened (first connect or a reconnect). */
    open: {
        reconnect: boolean;
    };
    /** The socket closed; `reconnecting` tells whether the client will try again. */
    close: {
        code: number;
        reason: string;
        reconnecting: boolean;
    };
    /** A reconnect attempt is scheduled. */
    reconnecting: {
        attempt: number;
        delayMs: number;
    };
    /** An error no request is waiting for (a reply without `request_id`, an unreadable message). */
    error: Error;
    /** Every server message as it arrived, before dedupe (for logging). */
    message: ServerMessage;
}
/** The server refused a request: `code` is the protocol's error code. */
export declare class IdleError extends Error {
    readonly code: ErrorCode;
    readonly retryAfterMs?: number;
    readonly requestId?: string;
    readonly reply: ErrorReply;
    constructor(reply: ErrorReply);
}
/** No reply came in time, or the connection went away before it did. */
export declare class RequestFailedError extends Error {
    readonly reason: "timeout" | "disconnected" | "closed";
    readonly requestId: string;
    constructor(reason: "timeout" | "disconnected" | "closed", requestId: string, message: string);
}
type Listener<T> = (event: T) => void;
/**
 * One player's connection. Requests return promises correlated by `request_id`; durable
 * notifications are delivered once each, in `seq` order: repeats are dropped, and a gap (a
 * `seq` more than one past the last delivered) is held back while the client asks `sync` for
 * what is missing. After a lost connection it reconnects with backoff, resyncs from the last
 * `seq` and resends unanswered `enqueue`s with their `request_id`.
 */
export declare class IdleClient {
    private readonly options;
    private readonly listeners;
    private readonly pending;
    /** Notifications after a gap, by seq, until the gap is filled or a snapshot covers them. */
    private readonly held;
    private socket;
    private seq;
    private counter;
    private attempt;
    private reconnectTimer;
    private stopped;
    private connectedOnce;
    private resyncing;
    private ready;
    constructor(options: ClientOptions);
    /** The highest `seq` delivered: what a resync asks after. Store it to resume later. */
    get lastSeq(): number;
    /** True while the socket is open. */
    get connected(): boolean;
    /** Listens for `type`; returns a function that stops listening. */
    on<K extends keyof ClientEvents>(type: K, listener: Listener<ClientEvents[K]>): () => void;
    /**
     * Opens the connection; resolves once the first snapshot has arrived. Keeps reconnecting
     * after a failed attempt (unless reconnect is off) until `close()`.
     */
    connect(): Promise<void>;
    /** Closes the connection for good: no reconnect; waiting requests fail with `closed`. */
    close(): void;
    /**
     * Queues a task. The `request_id` (given, or made here) is the idempotency key: the request is
     * resent with it after a timeout, a lost connection or `unavailable`, and the server queues
     * it once (`duplicate: true` on a repeat).
     */
    enqueue(task: TaskRequest, options?: {
        requestId?: string;
        bypassValidation?: boolean;
    }): Promise<AckReply>;
    /** Cancels a queued or running task. */
    cancel(taskId: string): Promise<AckReply>;
    /**
     * Asks for the snapshot and the kept notifications after `afterSeq` (default: the last
     * delivered). The notifications are delivered through the events, not the promise.
     */
    sync(afterSeq?: number): Promise<SnapshotReply>;
    /** The game catalog. */
    catalog(): Promise<Catalog>;
    /** A round trip to the server. */
    ping(): Promise<PongReply>;
    private newRequestId;
    private request;
    /** Sends (or resends) a pending request now if the socket is open, and starts its timer. */
    private transmit;
    private timedOut;
    private settle;
    /** On open: sends what waited for a connection. */
    private flush;
    /** On a lost connection: `enqueue`s wait to be resent; other requests fail. */
    private orphan;
    private answer;
    private open;
    private scheduleReconnect;
    /** Asks for what came after the last delivered notification (once at a time). */
    private resync;
    private afterSnapshot;
    private receive;
    private applySnapshot;
    private notification;
    /** Delivers held notifications that are now next in line. */
    private drain;
    private deliver;
    private emit;
}
