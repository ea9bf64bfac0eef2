// The client's logic against a fake socket: seq dedupe and ordering, resync on a gap, request
// correlation, idempotent enqueue retries, reconnect backoff with a fresh token.
import { test, beforeEach } from "node:test";
import assert from "node:assert/strict";
import { IdleClient, IdleError, RequestFailedError } from "../dist/index.js";
import { FakeSocket, queueUpdated } from "./support/fake-socket.js";

beforeEach(() => FakeSocket.reset());

const settle = () => new Promise((resolve) => setImmediate(resolve));

async function connected(options = {}) {
  const client = new IdleClient({ url: "ws://fake/ws", token: "t", WebSocket: FakeSocket, random: () => 0.5, ...options });
  const ready = client.connect();
  await settle();
  FakeSocket.last.open();
  FakeSocket.last.answerSync({ seq: options.lastSeq ?? 0 });
  await ready;
  return client;
}

test("notifications are delivered once each, in seq order, and a late one fills its gap", async () => {
  // Given a connected client
  const client = await connected();
  const delivered = [];
  client.on("notification", (n) => delivered.push(n.seq));
  const socket = FakeSocket.last;

  // When 1 arrives, then 3 (out of order), then 2, then 1 and 3 again
  for (const seq of [1, 3, 2, 1, 3]) socket.deliver(queueUpdated(seq));

  // Then each is delivered once, in order, and only the gap at 3 asked for a sync
  assert.deepEqual(delivered, [1, 2, 3]);
  assert.equal(client.lastSeq, 3);
  assert.equal(socket.sentOf("sync").length, 2, "the connect's sync and the gap's");
  assert.equal(socket.sentOf("sync")[1].after_seq, 1);
  client.close();
});

test("an old seq is a repeat, not a gap: it asks for no sync", async () => {
  const client = await connected({ lastSeq: 5 });
  const socket = FakeSocket.last;
  const delivered = [];
  client.on("notification", (n) => delivered.push(n.seq));

  socket.deliver(queueUpdated(4));
  socket.deliver(queueUpdated(5));

  assert.deepEqual(delivered, []);
  assert.equal(socket.sentOf("sync").length, 1, "only the connect's sync");
  client.close();
});

test("a gap is healed by the sync's kept notifications", async () => {
  const client = await connected();
  const socket = FakeSocket.last;
  const delivered = [];
  client.on("notification", (n) => delivered.push(n.seq));

  // Given 2 was lost on the way: 1 and 3 arrive
  socket.deliver(queueUpdated(1));
  socket.deliver(queueUpdated(3));
  assert.deepEqual(delivered, [1]);

  // When the sync (after 1) answers with the snapshot and the kept 2 and 3
  const sync = socket.answerSync({ seq: 3 });
  socket.deliver(queueUpdated(2));
  socket.deliver(queueUpdated(3));

  // Then 2 and 3 are delivered once, in order
  assert.equal(sync.after_seq, 1);
  assert.deepEqual(delivered, [1, 2, 3]);
  assert.equal(client.lastSeq, 3);
  client.close();
});

test("a truncated snapshot is the truth: the client continues from its seq", async () => {
  const client = await connected();
  const socket = FakeSocket.last;
  const delivered = [];
  const snapshots = [];
  client.on("notification", (n) => delivered.push(n.seq));
  client.on("snapshot", (s) => snapshots.push(s));

  // Given 1 arrived, 2 was lost and is no longer kept, 3 arrived
  socket.deliver(queueUpdated(1));
  socket.deliver(queueUpdated(3));

  // When the sync answers truncated at seq 4
  socket.answerSync({ seq: 4, truncated: true });

  // Then 3 (held) is delivered, the client is at 4, and 4 arriving late is a repeat
  socket.deliver(queueUpdated(4));
  socket.deliver(queueUpdated(5));
  assert.deepEqual(delivered, [1, 3, 5]);
  assert.equal(snapshots.at(-1).truncated, true);
  assert.equal(client.lastSeq, 5);
  client.close();
});

test("more: true pages through the kept notifications", async () => {
  const client = await connected();
  const socket = FakeSocket.last;
  const delivered = [];
  client.on("notification", (n) => delivered.push(n.seq));

  socket.deliver(queueUpdated(3)); // a gap after 0
  socket.answerSync({ seq: 4, more: true });
  socket.deliver(queueUpdated(1));
  socket.deliver(queueUpdated(2));
  await settle();
  // The client pings to know the page is in, then syncs again from the last one.
  const ping = socket.sentOf("ping").at(-1);
  socket.deliver({ type: "pong", at: 1, request_id: ping.request_id });
  await settle();
  const next = socket.sentOf("sync").at(-1);
  assert.equal(next.after_seq, 3);
  socket.answerSync({ seq: 4 });
  socket.deliver(queueUpdated(4));
  assert.deepEqual(delivered, [1, 2, 3, 4]);
  client.close();
});

test("replies resolve their request by request_id; errors reject with the server's code", async () => {
  const client = await connected();
  const socket = FakeSocket.last;

  const pong = client.ping();
  const cancel = client.cancel("t-404");
  const [ping, cancelMessage] = [socket.sentOf("ping")[0], socket.sentOf("cancel")[0]];
  // Answered out of order
  socket.deliver({ type: "error", at: 1, code: "not_found", message: "no task t-404", request_id: cancelMessage.request_id });
  socket.deliver({ type: "pong", at: 1, request_id: ping.request_id });

  assert.equal((await pong).request_id, ping.request_id);
  await assert.rejects(cancel, (error) => {
    assert.ok(error instanceof IdleError);
    assert.equal(error.code, "not_found");
    assert.equal(error.requestId, cancelMessage.request_id);
    return true;
  });
  client.close();
});

test("an unanswered enqueue is resent with the same request_id, and gives up with a timeout", async () => {
  const client = await connected({ requestTimeoutMs: 5, enqueueAttempts: 2 });
  const socket = FakeSocket.last;
  const task = { activity: "harvest", resource: "oak_log", location: "meadow", quantity: 1 };

  // When the server answers the second attempt
  const acked = client.enqueue(task, { requestId: "order-1" });
  while (socket.sentOf("enqueue").length < 2) await new Promise((r) => setTimeout(r, 5));
  socket.deliver({ type: "ack", at: 1, request_id: "order-1", task_id: "t1", duplicate: true });
  assert.equal((await acked).task_id, "t1");
  assert.deepEqual(socket.sentOf("enqueue").map((m) => m.request_id), ["order-1", "order-1"]);

  // And when it answers none, the promise fails with a timeout after the attempts
  const lost = client.enqueue(task, { requestId: "order-2" });
  await assert.rejects(lost, (error) => error instanceof RequestFailedError && error.reason === "timeout");
  assert.equal(socket.sentOf("enqueue").filter((m) => m.request_id === "order-2").length, 2);
  client.close();
});

test("after a lost connection it reconnects with backoff and a fresh token, resyncs and resends the enqueue", async () => {
  let tokens = 0;
  const client = await connected({ token: () => `token-${++tokens}`, reconnect: { initialDelayMs: 1, maxDelayMs: 4 } });
  const delays = [];
  client.on("reconnecting", (r) => delays.push(r.delayMs));
  const first = FakeSocket.last;
  first.deliver(queueUpdated(1));

  // Given an enqueue in flight when the connection drops, and two refused reconnects
  const acked = client.enqueue({ activity: "craft", recipe: "plank", quantity: 1 }, { requestId: "order-9" });
  FakeSocket.refuse = 2;
  first.serverClose(1006);
  while (FakeSocket.instances.length < 4) await new Promise((r) => setTimeout(r, 2));
  await settle();

  // Then the third reconnect opens; the client syncs from 1 and resends the same enqueue
  const socket = FakeSocket.last;
  socket.open();
  assert.equal(socket.sentOf("sync")[0].after_seq, 1);
  assert.deepEqual(socket.sentOf("enqueue").map((m) => m.request_id), ["order-9"]);
  socket.answerSync({ seq: 1 });
  socket.deliver({ type: "ack", at: 1, request_id: "order-9", task_id: "t9", duplicate: false });
  assert.equal((await acked).task_id, "t9");

  // And each attempt used a fresh token, with delays growing to the cap (jitter is 0.5 here)
  assert.equal(tokens, 4);
  assert.match(socket.url, /token=token-4$/);
  assert.deepEqual(delays, [1, 2, 3]);
  client.close();
});

test("a request made while the server is away fails with a timeout instead of waiting for ever", async () => {
  const client = await connected({ requestTimeoutMs: 5, reconnect: false });
  FakeSocket.last.serverClose(1006);

  await assert.rejects(client.ping(), (error) => error instanceof RequestFailedError && error.reason === "timeout");
  await assert.rejects(
    client.enqueue({ activity: "combat", enemy: "chicken", quantity: 1 }, { requestId: "away" }),
    (error) => error instanceof RequestFailedError && error.reason === "timeout",
  );
  client.close();
});
