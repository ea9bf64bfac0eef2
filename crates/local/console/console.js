// The local runtime's web console: connect as a player, watch state and notifications live,
// queue and cancel tasks. Plain JS, no build step, served by `idle-local` at `/`. It is a game
// client like any other: it speaks the protocol through the TypeScript client
// (clients/typescript, its committed dist/ served at /client/), which correlates replies,
// drops repeated notifications, resyncs on a gap and reconnects.
import { IdleClient, IdleError } from "./client/index.js";

const $ = (id) => document.getElementById(id);
const state = {
  client: null,
  online: false,
  catalog: null,
  player: null,
  queue: [],
  serverOffset: 0, // server time − local time, from the `at` of every message
  requestCounter: 0,
  progress: {}, // task_id → {done, total} from task_progress
};

// XP at which `level` starts (the RuneScape curve of docs/game-rules.md).
function xpForLevel(level) {
  let points = 0;
  for (let l = 1; l < level; l++) points += Math.floor(l + 300 * Math.pow(2, l / 7));
  return Math.floor(points / 4);
}

// Ends a server message with a full stop, so more can follow it.
function sentence(text) {
  return /[.!?)]$/.test(text) ? text : text + ".";
}

// Errors as a person would want them: what happened and what to do.
function explain(message) {
  const seconds = (ms) => Math.max(1, Math.ceil(ms / 1000));
  switch (message.code) {
    case "rate_limited":
      return `Too many requests: try again in ${seconds(message.retry_after_ms || 1000)} s.`;
    case "queue_full":
      return `Your queue is full: wait for a task to finish or cancel one. (${message.message})`;
    case "not_found":
      return `That task is no longer in your queue: it may have just finished. (${message.message})`;
    case "not_connected":
    case "token_expired":
      return `Signed out: ${sentence(message.message)} Press Connect to sign in again.`;
    case "forbidden":
      return `Not allowed: ${message.message}`;
    default:
      return message.message || message.code;
  }
}

function showError(message) {
  const box = $("error");
  box.textContent = message;
  box.hidden = !message;
}

function setStatus(text, online) {
  const status = $("status");
  status.textContent = text;
  status.className = "status " + (online ? "online" : "offline");
  state.online = online;
  $("connect-button").disabled = online;
  $("disconnect-button").disabled = !online;
  updateQueueButton();
}

// The client's promises: a reply goes to the feed, a refusal is explained.
function request(promise, what = "") {
  promise.then(addToFeed, (error) => {
    showError(what + (error instanceof IdleError ? explain(error.reply) : error.message));
    renderQueue(); // re-enable a cancel button whose cancel was refused
  });
}

// Fresh player, inventory and levels after a task ends (a snapshot event renders them).
function refresh() {
  state.client?.sync().catch(() => {});
}

function itemName(id) {
  const [base, quality] = id.split("@");
  const item = state.catalog && state.catalog.items[base];
  const name = item ? item.name : base;
  return quality ? `${name} (${quality})` : name;
}

function targetName(task) {
  if (!state.catalog) return "";
  switch (task.activity) {
    case "harvest": return `${itemName(state.catalog.resources[task.resource]?.item || task.resource)} at ${state.catalog.locations[task.location]?.name || task.location}`;
    case "craft": return itemName(state.catalog.recipes[task.recipe]?.output || task.recipe);
    case "combat": return state.catalog.enemies[task.enemy]?.name || task.enemy;
  }
  return "";
}

// The name of a task_started target (a resource, recipe or enemy id).
function targetLabel(activity, id) {
  const c = state.catalog;
  if (!c) return id;
  if (activity === "harvest") return itemName(c.resources[id]?.item || id);
  if (activity === "craft") return itemName(c.recipes[id]?.output || id);
  return c.enemies[id]?.name || id;
}

// ---- rendering ------------------------------------------------------------------------------

function renderPlayer() {
  const p = state.player;
  if (!p) return;
  const track = (name, t) => {
    const floor = xpForLevel(t.level);
    const pct = t.next_level_xp
      ? Math.min(100, Math.max(0, (100 * (t.xp - floor)) / Math.max(1, t.next_level_xp - floor)))
      : 100;
    return `<div class="track"><strong>${name}</strong> level ${t.level} · ${t.xp.toLocaleString()} XP` +
      (t.next_level_xp ? ` / ${t.next_level_xp.toLocaleString()}` : " (max)") +
      `<div class="bar"><div style="width:${pct}%"></div></div></div>`;
  };
  $("levels").innerHTML = track("Character", p.character) +
    Object.entries(p.skills).map(([skill, t]) => track(skill[0].toUpperCase() + skill.slice(1), t)).join("");
  $("equipment").tBodies[0].innerHTML = Object.entries(p.equipment).map(([slot, g]) =>
    `<tr><td>${slot}</td><td>${itemName(g.item + (g.quality ? "@" + (state.catalog?.quality_tiers[g.quality]?.name || g.quality) : ""))}</td>` +
    `<td>${g.durability} / ${g.max_durability}</td></tr>`).join("") || `<tr><td colspan="3" class="hint">Nothing worn.</td></tr>`;
  $("inventory").tBodies[0].innerHTML = Object.entries(p.inventory).map(([item, n]) =>
    `<tr><td>${itemName(item)}</td><td>${n.toLocaleString()}</td></tr>`).join("") || `<tr><td colspan="2" class="hint">Empty.</td></tr>`;
  $("stations").textContent = p.stations.map((s) => state.catalog?.stations[s]?.name || s).join(", ") || "None.";
}

function renderQueue() {
  const list = $("queue");
  list.innerHTML = "";
  for (const entry of state.queue) {
    const li = document.createElement("li");
    li.dataset.taskId = entry.task_id;
    li.dataset.status = entry.status;
    const head = document.createElement("div");
    head.className = "task-head";
    const what = document.createElement("span");
    what.className = "task-what";
    what.textContent = entry.task.repeat
      ? `${entry.task.activity} ${targetName(entry.task)} until stopped` +
        (entry.chunk != null ? ` · chunk ${entry.chunk + 1}, ${entry.settled_actions} actions settled` : "")
      : `${entry.task.activity} ${entry.task.quantity} × ${targetName(entry.task)}`;
    const status = document.createElement("span");
    status.className = "task-status";
    status.textContent = entry.status;
    head.append(what, status);
    const cancel = document.createElement("button");
    cancel.textContent = "Cancel";
    cancel.className = "cancel";
    cancel.onclick = () => {
      cancel.disabled = true;
      if (state.client) request(state.client.cancel(entry.task_id));
    };
    head.appendChild(cancel);
    li.appendChild(head);
    const bar = document.createElement("div");
    bar.className = "bar";
    bar.innerHTML = "<div></div>";
    li.appendChild(bar);
    list.appendChild(li);
  }
  $("queue-empty").hidden = state.queue.length > 0;
  // A continuous task holds the head of the queue: say why the rest waits.
  const head = state.queue[0];
  $("queue-waits").hidden = !(head && head.task.repeat && state.queue.length > 1);
  tickProgress();
}

function tickProgress() {
  const now = Date.now() + state.serverOffset;
  for (const li of $("queue").children) {
    const entry = state.queue.find((e) => e.task_id === li.dataset.taskId);
    const fill = li.querySelector(".bar > div");
    if (!entry || !fill) continue;
    if (entry.paused_at) {
      li.querySelector(".task-status").textContent = "paused at the offline cap: any message resumes it";
    } else if (entry.status === "running" && entry.started_at && entry.ends_at) {
      const pct = Math.min(100, Math.max(0, (100 * (now - entry.started_at)) / Math.max(1, entry.ends_at - entry.started_at)));
      fill.style.width = pct.toFixed(1) + "%";
      const p = state.progress[entry.task_id];
      const done = p ? ` · ${p.done}/${p.total} done` : "";
      li.querySelector(".task-status").textContent = `running${done} · ${Math.max(0, Math.ceil((entry.ends_at - now) / 1000))} s left`;
    } else {
      fill.style.width = "0%";
      li.querySelector(".task-status").textContent =
        entry.status === "retrying" && entry.retry_at
          ? `retrying in ${Math.max(0, Math.ceil((entry.retry_at - now) / 1000))} s (attempt ${entry.attempts})`
          : entry.status;
    }
  }
}
setInterval(tickProgress, 250);

function describe(message) {
  switch (message.type) {
    case "task_started": return message.repeat
      ? `started ${message.activity} ${targetLabel(message.activity, message.target)} until stopped; its first chunk (${message.quantity} actions) is settled in ${Math.round((message.ends_at - message.at) / 1000)} s`
      : `started ${message.activity} ${message.quantity} × ${targetLabel(message.activity, message.target)}, ends in ${Math.round((message.ends_at - message.at) / 1000)} s`;
    case "task_progress": return `${message.done} of ${message.total} done`;
    case "chunk_settled": {
      const items = Object.entries(message.outcome.items).map(([k, v]) => `${v} ${itemName(k)}`).join(", ") || "no items";
      const ups = Object.entries(message.level_ups || {}).map(([k, v]) => `${k} → ${v}`).join(", ");
      return `chunk ${message.chunk + 1} settled: ${message.outcome.actions} actions, +${message.outcome.xp} XP, ${items}` + (ups ? `; level up: ${ups} (applies from the next chunk)` : "");
    }
    case "task_paused": return "paused at the offline cap (progress accrues for a limited time after your last visit); any message resumes it";
    case "task_completed": {
      const items = Object.entries(message.outcome.items).map(([k, v]) => `${v} ${itemName(k)}`).join(", ") || "no items";
      const ups = Object.entries(message.level_ups || {}).map(([k, v]) => `${k} → ${v}`).join(", ");
      if (message.reason === "inputs_exhausted") return "stopped: its inputs ran out (materials or tool durability)";
      return `completed: ${message.outcome.successes}/${message.outcome.actions} succeeded, +${message.outcome.xp} XP, ${items}` + (ups ? `; level up: ${ups}` : "");
    }
    case "task_failed": return `${message.code}: ${message.message}` + (message.retry_at ? ` (retry in ${Math.round((message.retry_at - message.at) / 1000)} s)` : "");
    case "task_cancelled": {
      const refunded = Object.entries(message.refunded || {}).map(([k, v]) => `${v} ${itemName(k)}`).join(", ");
      return (message.reason === "stopped" ? "stopped" : "cancelled") + (message.settled ? `; ${message.settled.actions} actions done, +${message.settled.xp} XP` : "") + (refunded ? `; refunded ${refunded}` : "");
    }
    case "queue_updated": return `${message.queue.length} task(s) in the queue`;
    case "ack": return message.duplicate ? `already queued as ${message.task_id}` : `queued as ${message.task_id}`;
    case "error": return explain(message);
    default: return "";
  }
}

function addToFeed(message) {
  if (["snapshot", "catalog", "pong"].includes(message.type)) return;
  const li = document.createElement("li");
  li.className = message.type;
  const time = new Date(message.at || Date.now()).toLocaleTimeString();
  li.innerHTML = `<span class="kind"></span> <span class="text"></span> <span class="hint"></span>`;
  li.querySelector(".kind").textContent = message.type;
  li.querySelector(".text").textContent = describe(message) + (message.task_id ? ` [${message.task_id}]` : "");
  li.querySelector(".hint").textContent = time + (message.seq ? ` #${message.seq}` : "");
  $("feed").prepend(li);
}

// ---- the task form ---------------------------------------------------------------------------

// Why the player cannot start this yet ("needs harvesting level 15"), or "" when they can: the
// level and station checks the server makes when a task starts (crates/core/src/validate.rs),
// on the levels and stations of the last snapshot. Tools, materials and durability change
// with every task, so the server alone judges them.
function lockReason(kind, id) {
  const c = state.catalog;
  const p = state.player;
  if (!c || !p) return "";
  const needs = (track, required) => {
    const have = track === "character" ? p.character.level : p.skills[track]?.level ?? 1;
    return have < required ? `needs ${track} level ${required}` : "";
  };
  switch (kind) {
    case "location": return needs("character", c.locations[id].level);
    case "harvest": return needs("harvesting", c.resources[id].level);
    case "craft": {
      const r = c.recipes[id];
      const station = r.station && !p.stations.includes(r.station) ? `needs the ${c.stations[r.station]?.name || r.station}` : "";
      return needs("crafting", r.level) || station;
    }
    case "combat": return needs("combat", c.enemies[id].level - c.rules.combat.max_level_gap);
  }
  return "";
}

// Fills a select with [id, label, level] entries, lowest level first; what the player cannot
// start yet is disabled and says what it needs. Keeps the current choice while it stays open
// to them, else picks the first they can start, so the defaults always run for a new player.
function setOptions(select, kind, entries) {
  const previous = select.value;
  select.replaceChildren();
  entries.sort((a, b) => a[2] - b[2] || a[1].localeCompare(b[1]));
  for (const [id, label] of entries) {
    const locked = lockReason(kind, id);
    const option = document.createElement("option");
    option.value = id;
    option.textContent = locked ? `${label} — locked: ${locked}` : label;
    option.disabled = Boolean(locked);
    select.appendChild(option);
  }
  const open = [...select.options].filter((o) => !o.disabled);
  const keep = open.find((o) => o.value === previous);
  if (keep || open[0]) select.value = (keep || open[0]).value;
}

function fillTargets() {
  const c = state.catalog;
  if (!c) return;
  const activity = $("activity").value;
  const target = $("target");
  const location = $("location");
  $("location-field").hidden = activity !== "harvest";
  if (activity === "harvest") {
    setOptions(location, "location", Object.entries(c.locations).map(([id, l]) => [id, `${l.name} (level ${l.level})`, l.level]));
    const here = c.locations[location.value];
    setOptions(target, "harvest", Object.keys(here ? here.resources : {}).map((id) => {
      const r = c.resources[id];
      return [id, `${itemName(r.item)} (level ${r.level}, ${r.tool})`, r.level];
    }));
  } else if (activity === "craft") {
    setOptions(target, "craft", Object.entries(c.recipes).map(([id, r]) => [id, `${itemName(r.output)} (level ${r.level}${r.station ? ", " + r.station : ""})`, r.level]));
  } else {
    setOptions(target, "combat", Object.entries(c.enemies).map(([id, e]) => [id, `${e.name} (level ${e.level}, ${e.rarity})`, e.level]));
  }
  describeTarget();
  updateQueueButton();
}

// Queue is offered only for a task the player can start (as far as the form can tell).
function updateQueueButton() {
  const chosen = (id) => $(id).selectedOptions[0];
  const locked = !chosen("target") || chosen("target").disabled ||
    ($("activity").value === "harvest" && (!chosen("location") || chosen("location").disabled));
  $("enqueue-button").disabled = !state.online || !state.catalog || locked;
}

function describeTarget() {
  const c = state.catalog;
  if (!c) return;
  const id = $("target").value;
  let text = "";
  if ($("activity").value === "craft" && c.recipes[id]) {
    const r = c.recipes[id];
    text = "Needs per craft: " + Object.entries(r.inputs).map(([k, v]) => `${v} ${itemName(k)}`).join(", ");
  } else if ($("activity").value === "combat" && c.enemies[id]) {
    const e = c.enemies[id];
    text = `${e.hitpoints} hitpoints, max hit ${e.max_hit}, ${e.action_ms / 1000} s per fight`;
  } else if (c.resources[id]) {
    text = `${c.resources[id].action_ms / 1000} s per action before bonuses`;
  }
  $("target-info").textContent = text;
}

$("activity").onchange = fillTargets;
$("location").onchange = fillTargets;
$("target").onchange = () => {
  describeTarget();
  updateQueueButton();
};

$("task-form").onsubmit = (event) => {
  event.preventDefault();
  showError("");
  const activity = $("activity").value;
  const task = { activity };
  if ($("repeat").checked) task.repeat = "until_stopped";
  else task.quantity = Number($("quantity").value);
  if (activity === "harvest") {
    task.resource = $("target").value;
    task.location = $("location").value;
  } else if (activity === "craft") {
    task.recipe = $("target").value;
  } else {
    task.enemy = $("target").value;
  }
  if (!state.client) {
    showError("Not connected: connect as a player first.");
    return;
  }
  state.requestCounter += 1;
  const requestId = `console-${Date.now().toString(36)}-${state.requestCounter}`;
  request(state.client.enqueue(task, { requestId }), "Could not queue the task: ");
};

// ---- the connection --------------------------------------------------------------------------

// What the client delivers: each durable notification once, in seq order; snapshots after every
// connect and resync; progress as it comes.
function handle(message) {
  addToFeed(message);
  switch (message.type) {
    case "snapshot":
      state.player = message.player;
      state.queue = message.queue;
      renderPlayer();
      renderQueue();
      fillTargets(); // levels and stations decide what is unlocked
      break;
    case "queue_updated":
      state.queue = message.queue;
      renderQueue();
      break;
    case "task_started": {
      const entry = state.queue.find((e) => e.task_id === message.task_id);
      if (entry) Object.assign(entry, { status: "running", started_at: message.started_at, ends_at: message.ends_at });
      renderQueue();
      break;
    }
    case "task_progress": {
      state.progress[message.task_id] = { done: message.done, total: message.total };
      const entry = state.queue.find((e) => e.task_id === message.task_id);
      if (entry) entry.ends_at = message.ends_at;
      tickProgress();
      break;
    }
    case "task_failed":
      showError(`Task ${message.task_id} failed: ${sentence(message.message)}` +
        (message.retry_at ? " It will be tried again." : " It will not be retried."));
      refresh();
      break;
    case "chunk_settled":
    case "task_completed":
    case "task_cancelled":
      delete state.progress[message.task_id];
      refresh(); // inventory, levels and gear
      break;
  }
}

async function devToken(playerId) {
  const response = await fetch(`/dev/token?player_id=${encodeURIComponent(playerId)}`);
  if (!response.ok) throw new Error(await response.text());
  return response.json();
}

async function connect(playerId) {
  showError("");
  state.client?.close();
  state.client = null;
  Object.assign(state, { player: null, queue: [], progress: {} });
  $("feed").innerHTML = "";
  setStatus("connecting…", false);
  let first;
  try {
    first = await devToken(playerId);
  } catch (err) {
    setStatus("offline", false);
    showError(`Could not get a dev token: ${err.message}`);
    return;
  }
  // The first token now, a fresh one for every reconnect.
  let token = first.token;
  const client = new IdleClient({
    url: first.ws_url,
    token: async () => {
      const fresh = token || (await devToken(playerId)).token;
      token = null;
      return fresh;
    },
  });
  state.client = client;
  window.idleClient = client; // for the browser test and the curious
  client.on("message", (message) => {
    if (typeof message.at === "number") state.serverOffset = message.at - Date.now();
  });
  client.on("snapshot", handle);
  client.on("notification", handle);
  client.on("task_progress", handle);
  client.on("error", (error) => showError(error instanceof IdleError ? explain(error.reply) : error.message));
  client.on("open", ({ reconnect }) => {
    if (reconnect && state.catalog) {
      showError("");
      setStatus("online", true);
    }
  });
  client.on("close", (event) => {
    if (state.client !== client) return; // an earlier connection, replaced
    setStatus(event.reconnecting ? "reconnecting…" : "offline", false);
    if (event.reconnecting && event.code !== 1000) {
      showError(`Connection closed (${event.code}${event.reason ? ": " + event.reason : ""}); reconnecting. Check that the runtime is running.`);
    }
  });
  try {
    await client.connect();
    state.catalog = await client.catalog();
    if (state.client !== client) return;
    showError("");
    renderPlayer(); // item and target names come from the catalog
    renderQueue();
    fillTargets();
    setStatus("online", true);
  } catch (err) {
    if (state.client === client) showError(`Could not connect: ${err.message}`);
  }
}

$("connect-form").onsubmit = (event) => {
  event.preventDefault();
  connect($("player-id").value.trim());
};
$("disconnect-button").onclick = () => {
  state.client?.close();
  setStatus("offline", false);
};

const params = new URLSearchParams(location.search);
if (params.get("player")) {
  $("player-id").value = params.get("player");
  connect(params.get("player"));
}
