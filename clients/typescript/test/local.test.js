// The client against a real idle-local (scripts/client-test.sh builds it; IDLE_LOCAL_BIN names
// the binary): a task's whole lifecycle, an error with its code, a restart of the server in the
// middle of a task, and a notification lost on the way.
import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import WebSocket from "ws";
import { IdleClient, IdleError } from "../dist/index.js";
import { LocalServer } from "./support/server.js";

const server = new LocalServer();
before(() => server.start());
after(() => server.dispose());

const guam = (quantity) => ({ activity: "harvest", resource: "guam_leaf", location: "meadow", quantity });

/** A client for a new player, recording every notification it delivers. */
async function player(name, options = {}) {
  const player = `${name}-${Date.now().toString(36)}`;
  let tokens = 0;
  const client = new IdleClient({
    url: (await server.token(player)).ws_url,
    token: async () => {
      tokens += 1;
      return (await server.token(player)).token;
    },
    WebSocket,
    reconnect: { initialDelayMs: 50, maxDelayMs: 500 },
    ...options,
  });
  const seen = { notifications: [], snapshots: [], closes: 0, reconnects: 0, tokens: () => tokens };
  client.on("notification", (n) => seen.notifications.push(n));
  client.on("snapshot", (s) => seen.snapshots.push(s));
  client.on("close", () => (seen.closes += 1));
  client.on("reconnecting", () => (seen.reconnects += 1));
  await client.connect();
  return { client, seen };
}

/** Resolves with the first event of `type` that `match` accepts. */
function next(client, type, match = () => true) {
  return new Promise((resolve) => {
    const stop = client.on(type, (event) => {
      if (match(event)) {
        stop();
        resolve(event);
      }
    });
  });
}

/** Every delivered seq is one more than the one before: nothing lost, nothing twice. */
function assertContiguous(notifications) {
  const seqs = notifications.map((n) => n.seq);
  seqs.forEach((seq, i) => i > 0 && assert.equal(seq, seqs[i - 1] + 1, `seqs ${seqs}`));
}

test("a task's lifecycle: ack, started, completed, in the inventory; a retried enqueue is a duplicate", { timeout: 60_000 }, async () => {
  const { client, seen } = await player("lifecycle");
  const catalog = await client.catalog();
  assert.ok(catalog.resources.guam_leaf);

  const completed = next(client, "task_completed");
  const ack = await client.enqueue(guam(1), { requestId: "lifecycle-1" });
  assert.equal(ack.duplicate, false);
  const done = await completed;

  assert.equal(done.task_id, ack.task_id);
  assert.equal(done.outcome.actions, 1);
  const types = seen.notifications.filter((n) => n.task_id === ack.task_id).map((n) => n.type);
  assert.deepEqual(types, ["task_started", "task_completed"]);
  assertContiguous(seen.notifications);
  const snapshot = await client.sync();
  assert.equal(snapshot.seq, client.lastSeq);
  assert.equal(snapshot.protocol, 2);
  assert.ok(snapshot.player.inventory.guam_leaf >= 1);

  // The same request_id again (a retry after a lost reply) queues nothing
  const again = await client.enqueue(guam(1), { requestId: "lifecycle-1" });
  assert.equal(again.task_id, ack.task_id);
  assert.equal(again.duplicate, true);
  client.close();
});

test("an error reply rejects with the server's code", { timeout: 30_000 }, async () => {
  const { client } = await player("errors");
  await assert.rejects(client.cancel("no-such-task"), (error) => {
    assert.ok(error instanceof IdleError);
    assert.equal(error.code, "not_found");
    assert.ok(error.requestId);
    return true;
  });
  await assert.rejects(client.enqueue({ activity: "craft", recipe: "no-such-recipe", quantity: 1 }), (error) => {
    assert.equal(error.code, "unknown_target");
    return true;
  });
  client.close();
});

test("a server restart mid-task: the client reconnects, resyncs and loses nothing", { timeout: 90_000 }, async () => {
  const { client, seen } = await player("restart");

  // Given a task running
  const started = next(client, "task_started");
  const first = await client.enqueue(guam(3));
  await started;

  // When the server stops (it saves its state and closes the socket) and the client, while
  // it is away, queues a second task
  const closed = next(client, "close");
  await server.stop();
  assert.equal((await closed).reconnecting, true);
  const secondAck = client.enqueue(guam(1), { requestId: "restart-second" });

  // And the server comes back on the same port with the same data
  const reopened = next(client, "open");
  await server.start();
  assert.equal((await reopened).reconnect, true);

  // Then the client resynced, sent the waiting enqueue once, and both tasks complete
  const second = await secondAck;
  const completions = new Set();
  await new Promise((resolve) => {
    const check = () => {
      for (const n of seen.notifications) if (n.type === "task_completed") completions.add(n.task_id);
      if (completions.has(first.task_id) && completions.has(second.task_id)) resolve();
    };
    client.on("notification", check);
    check();
  });
  assert.ok(seen.reconnects >= 1);
  assert.ok(seen.tokens() >= 2, "a fresh token for the reconnect");
  assertContiguous(seen.notifications);
  assert.ok(seen.snapshots.every((s) => !s.truncated), "nothing was lost for good");
  const once = seen.notifications.filter((n) => n.type === "task_completed" && n.task_id === first.task_id);
  assert.equal(once.length, 1);
  const snapshot = await client.sync();
  assert.equal(snapshot.seq, client.lastSeq);
  assert.deepEqual(snapshot.queue, []);
  client.close();
});

test("a notification lost on the way is noticed at the next seq and healed by a resync", { timeout: 60_000 }, async () => {
  // Given a client that loses the first task_started it receives
  let dropped;
  const { client, seen } = await player("gap", {
    filterIncoming: (message) => {
      if (message.type === "task_started" && dropped === undefined) {
        dropped = message.seq;
        return false;
      }
      return true;
    },
  });
  const syncsBefore = seen.snapshots.length;

  // When a task runs to completion
  const completed = next(client, "task_completed");
  const ack = await client.enqueue(guam(1));
  const done = await completed;

  // Then the next notification revealed the gap, a resync answered, the completion was still
  // delivered, and the client ends at the server's seq with every seq at most once
  assert.equal(done.task_id, ack.task_id);
  assert.ok(dropped > 0);
  assert.ok(seen.snapshots.length > syncsBefore, "a resync after the gap");
  const seqs = seen.notifications.map((n) => n.seq);
  assert.deepEqual(seqs, [...new Set(seqs)].sort((a, b) => a - b));
  const snapshot = await client.sync();
  assert.equal(snapshot.seq, client.lastSeq);
  assert.deepEqual(snapshot.queue, []);
  client.close();
});
