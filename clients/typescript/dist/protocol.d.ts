/** The protocol version these types describe; every `snapshot` carries the server's in `protocol`. */
export declare const PROTOCOL_VERSION = 2;
/**
 * An `enqueue` or `cancel` was accepted: the task's id, and whether the `request_id` was seen before (nothing new queued).
 */
export interface AckReply {
    at: number;
    /**
     * True when the request id was seen before and nothing new was queued.
     */
    duplicate: boolean;
    request_id?: RequestId;
    task_id: string;
    type: "ack";
}
/**
 * The three activities, also the three skills.
 */
export type Activity = "harvest" | "craft" | "combat";
/**
 * Cancel a queued or running task of this player; a running one is settled for the actions done.
 */
export interface CancelRequest {
    action: "cancel";
    request_id?: RequestId;
    task_id: string;
}
/**
 * Every game parameter of one rules version.
 */
export interface Catalog {
    enemies: {
        [key: string]: EnemyDef;
    };
    items: {
        [key: string]: ItemDef;
    };
    locations: {
        [key: string]: LocationDef;
    };
    /**
     * Crafted quality tiers, lowest first; index 0 is "normal".
     */
    quality_tiers: QualityTier[];
    /**
     * Loot multiplier per enemy rarity (common 1.0 … legendary 3.0).
     */
    rarities: {
        common?: number;
        epic?: number;
        legendary?: number;
        rare?: number;
        uncommon?: number;
    };
    recipes: {
        [key: string]: RecipeDef;
    };
    resources: {
        [key: string]: ResourceDef;
    };
    /**
     * Formula constants shared by the activities.
     */
    rules: RuleParams;
    /**
     * What a new player starts with.
     */
    starter: Starter;
    stations: {
        [key: string]: StationDef;
    };
    /**
     * The rules version: a label for people and reports. A catalog's identity is its content
     * hash ([`Catalog::content_hash`]), which every change moves; raise the version too when a
     * change alters outcomes, so that people can tell the rule sets apart.
     */
    version: number;
}
/**
 * The catalog the server runs, and its identity.
 */
export interface CatalogReply {
    at: number;
    catalog: Catalog;
    /**
     * The catalog's content hash ([`Catalog::content_hash`]): 64 hex digits that change
     * with any change to it, so a client can cache the catalog under it.
     */
    catalog_hash: string;
    request_id?: RequestId;
    type: "catalog";
}
/**
 * Ask for the game catalog (items, locations, resources, recipes, enemies, rules).
 */
export interface CatalogRequest {
    action: "catalog";
    request_id?: RequestId;
}
/**
 * One chunk of a continuous task was settled: its actions' rewards are granted (one
 * conditional write of the player, with its own history record `<task_id>.<chunk>`), and
 * the next chunk began with the player as they are now.
 */
export interface ChunkSettled {
    activity: Activity;
    at: number;
    /**
     * The chunk's index: 0, 1, 2, …
     */
    chunk: number;
    /**
     * Actions of the task settled before this chunk.
     */
    first_action: number;
    /**
     * Tracks that gained a level, with the new level: they apply from the next chunk.
     */
    level_ups: {
        [key: string]: number;
    };
    /**
     * What this chunk's actions gave (`outcome.actions` of them).
     */
    outcome: Outcome;
    refunded: {
        [key: string]: number;
    };
    seq: number;
    task_id: string;
    type: "chunk_settled";
}
export interface CombatParams {
    base_hitpoints: number;
    hitpoints_per_level: number;
    /**
     * Share of the enemy's XP granted for a lost encounter.
     */
    loss_xp_share: number;
    /**
     * A player may fight enemies at most this many levels above their combat level.
     */
    max_level_gap: number;
    /**
     * A fight that lasts longer is a loss (the player retreats).
     */
    max_rounds: number;
    /**
     * …and per encounter lost.
     */
    wear_loss: number;
    /**
     * Weapon and armour durability lost per encounter won…
     */
    wear_win: number;
}
export interface CraftParams {
    /**
     * Success chance at zero margin and complexity 1.
     */
    base_success: number;
    /**
     * Success chance lost per point of complexity above 1.
     */
    complexity_penalty: number;
    /**
     * Share of the recipe's XP granted for a failed craft.
     */
    failure_xp_share: number;
    /**
     * …capped here.
     */
    max_preserve: number;
    max_success: number;
    min_success: number;
    /**
     * Chance per material unit to be preserved, per level of margin…
     */
    preserve_per_margin: number;
    /**
     * Higher quality tiers gain weight by this factor per level of margin.
     */
    quality_per_margin: number;
    success_per_margin: number;
}
/**
 * Why a continuous task ended.
 */
export type EndReason = 
/**
 * The player cancelled it.
 */
"stopped"
/**
 * Its next chunk could not start: materials or tool durability ran out (or any other
 * start check failed).
 */
 | "inputs_exhausted";
/**
 * An enemy to fight.
 */
export interface EnemyDef {
    /**
     * Time of one encounter, in milliseconds.
     */
    action_ms: number;
    attack: number;
    defence: number;
    difficulty: number;
    hitpoints: number;
    level: number;
    loot: LootTable;
    max_hit: number;
    name: string;
    rarity: Rarity;
    /**
     * Combat XP per encounter won, before difficulty.
     */
    xp: number;
}
/**
 * Queue a task. `request_id` is required and is the idempotency key: sending the same one again (a retry) queues nothing and is answered with the original task (`duplicate: true`).
 */
export interface EnqueueRequest {
    action: "enqueue";
    bypass_validation?: boolean;
    request_id: RequestId;
    task: TaskRequest;
}
/**
 * The closed list of error codes an `error` reply carries, one meaning each (DESIGN.md
 * section 6). On the wire, the snake_case name (`"invalid_request"`, …).
 */
export type ErrorCode = 
/**
 * The message is not valid JSON, misses a field, has a field of the wrong type, or has an
 * unknown field (named in the message).
 */
"invalid_request"
/**
 * `action` is not one of the protocol's.
 */
 | "unknown_action"
/**
 * The message is larger than the server accepts.
 */
 | "message_too_large"
/**
 * The player's rate bucket is empty: try again after `retry_after_ms`.
 */
 | "rate_limited"
/**
 * The player has as many unfinished tasks as allowed.
 */
 | "queue_full"
/**
 * No queued or running task with that id for this player.
 */
 | "not_found"
/**
 * An admin-only option (`bypass_validation`) without an admin token.
 */
 | "forbidden"
/**
 * The connection is not signed in, or its player no longer exists: reconnect.
 */
 | "not_connected"
/**
 * The connection's token has expired; the server closes it: reconnect with a fresh one.
 */
 | "token_expired"
/**
 * The server could not complete the request now: try again after `retry_after_ms`.
 */
 | "unavailable"
/**
 * `quantity` is not a whole number from 1 to the deployment's limit.
 */
 | "invalid_quantity"
/**
 * No resource, location, recipe or enemy with that id.
 */
 | "unknown_target"
/**
 * That resource is not found at that location.
 */
 | "not_at_location"
/**
 * The task needs a tool the player does not have.
 */
 | "missing_tool"
/**
 * The player's gear has too little durability left for the whole task.
 */
 | "gear_worn"
/**
 * A skill or character level below what the target needs.
 */
 | "level_too_low"
/**
 * Not enough of a crafting input.
 */
 | "missing_materials"
/**
 * The recipe needs a crafting station the player has not built.
 */
 | "missing_station"
/**
 * The enemy is more levels above the player than allowed.
 */
 | "enemy_too_strong"
/**
 * The recipe builds a station the player already owns.
 */
 | "already_owned"
/**
 * Only in `task_failed`: a queued task could not start because of a server-side problem
 * (not the player's doing); it is tried again at `retry_at`.
 */
 | "transient_failure"
/**
 * Only in `task_failed`: the task failed transiently as many times as allowed and will not
 * be tried again.
 */
 | "retries_exhausted";
/**
 * The message was refused: `code` is one of the closed list `ErrorCode` (one meaning each), `message` is for a person, `retry_after_ms` comes with `rate_limited` and `unavailable`.
 */
export interface ErrorReply {
    at: number;
    code: ErrorCode;
    message: string;
    request_id?: RequestId;
    retry_after_ms?: number;
    type: "error";
}
/**
 * Gear: tools, weapons and armour.
 */
export interface Gear {
    /**
     * Weapons: accuracy bonus.
     */
    attack: number;
    /**
     * Armour: defence bonus.
     */
    defence: number;
    /**
     * Skill level needed to use it (harvesting for tools, combat for weapons and armour).
     */
    level: number;
    max_durability: number;
    /**
     * Tools: rare-drop chance bonus (0.2 = +20% of the base chance).
     */
    rare_bonus: number;
    /**
     * The slot it occupies: a tool kind (`pickaxe`, `hatchet`, `sickle`), `weapon` or `armour`.
     */
    slot: string;
    /**
     * Tools: action speed bonus (0.25 = actions take 1/1.25 of the time).
     */
    speed: number;
    /**
     * Weapons: damage bonus.
     */
    strength: number;
    /**
     * Rising tier; the best owned tier is equipped first.
     */
    tier: number;
    /**
     * Tools: yield bonus (0.1 = +10%).
     */
    yield_bonus: number;
}
/**
 * Worn gear as the client sees it.
 */
export interface GearView {
    durability: number;
    item: string;
    max_durability: number;
    quality: number;
}
export interface HarvestParams {
    /**
     * …up to this fraction.
     */
    max_time_cut: number;
    /**
     * …counting at most this many levels of margin.
     */
    max_yield_margin: number;
    /**
     * Action time shrinks by this fraction per level of skill margin…
     */
    time_cut_per_margin: number;
    /**
     * Tool durability lost per action.
     */
    wear_per_action: number;
    /**
     * Yield grows by this fraction per level of skill margin…
     */
    yield_per_margin: number;
}
/**
 * An item: anything that can sit in an inventory.
 */
export interface ItemDef {
    kind: ItemKind;
    name: string;
    /**
     * Value in coins of one normal-quality unit (used for value-per-hour reports).
     */
    value: number;
}
export type ItemKind = 
/**
 * Raw or intermediate materials.
 */
"material"
/**
 * Rare finds with no use but their value.
 */
 | "treasure"
/**
 * A crafting station: crafting one adds it to the player's stations.
 */
 | "station"
/**
 * Something worn in an equipment slot, with durability.
 */
 | {
    gear: Gear;
};
/**
 * A place to harvest, with the resources found there.
 */
export interface LocationDef {
    /**
     * Character level needed to go there.
     */
    level: number;
    name: string;
    /**
     * Added to every rare-drop chance bonus here.
     */
    rare_bonus: number;
    /**
     * Resource id → yield modifier at this location.
     */
    resources: {
        [key: string]: number;
    };
}
export interface LootEntry {
    item: string;
    max: number;
    min: number;
}
/**
 * OSRS-style loot: always drops, one weighted table with empty slots, and tertiary rolls.
 */
export interface LootTable {
    always: LootEntry[];
    tertiary: TertiaryEntry[];
    weighted: WeightedTable;
}
/**
 * What some actions of a task produced.
 */
export interface Outcome {
    /**
     * Actions settled (harvests, crafts or encounters).
     */
    actions: number;
    /**
     * Item key → units granted.
     */
    items: {
        [key: string]: number;
    };
    /**
     * Pity key → misses in a row after these actions (only the target's rare drops).
     */
    pity?: {
        [key: string]: number;
    };
    /**
     * Rare drops that came from pity rather than luck.
     */
    pity_drops?: number;
    /**
     * Reserved material units kept by preservation (returned to the inventory).
     */
    preserved?: {
        [key: string]: number;
    };
    /**
     * Stations built.
     */
    stations?: string[];
    /**
     * Actions that succeeded: every harvest, successful crafts, encounters won.
     */
    successes: number;
    /**
     * Slot → durability lost.
     */
    wear?: {
        [key: string]: number;
    };
    /**
     * XP for the activity's skill (the character track gains the same).
     */
    xp: number;
}
/**
 * Why a task stopped accruing progress.
 */
export type PauseReason = 
/**
 * `offline_cap_ms` passed since the player's last activity.
 */
"offline_cap";
/**
 * Check the connection; answered with `pong`.
 */
export interface PingRequest {
    action: "ping";
    request_id?: RequestId;
}
/**
 * The player as the client sees it: levels are derived from XP.
 */
export interface PlayerView {
    character: TrackView;
    equipment: {
        [key: string]: GearView;
    };
    inventory: {
        [key: string]: number;
    };
    player_id: string;
    skills: {
        combat?: TrackView;
        crafting?: TrackView;
        harvesting?: TrackView;
    };
    stations: string[];
    /**
     * The keys of `inventory` that the catalog the server plays does not define: items a
     * catalog change removed (docs/catalog.md). They keep their count but cannot be equipped
     * or used in a recipe; a client shows them as such. Omitted when there are none.
     */
    unusable?: string[];
}
/**
 * The answer to `ping`.
 */
export interface PongReply {
    at: number;
    request_id?: RequestId;
    type: "pong";
}
/**
 * A crafted quality tier.
 */
export interface QualityTier {
    /**
     * Multiplies gear durability and item value.
     */
    multiplier: number;
    name: string;
    /**
     * Weight at zero skill margin.
     */
    weight: number;
}
/**
 * One task as the client sees it in its queue.
 */
export interface QueueEntry {
    attempts: number;
    /**
     * A continuous task's current chunk (0, 1, …); `started_at`/`ends_at` are that chunk's.
     */
    chunk?: number;
    ends_at?: number;
    enqueued_at: number;
    /**
     * Paused at the offline cap since then; the next activity resumes it.
     */
    paused_at?: number;
    request_id: RequestId;
    retry_at?: number;
    /**
     * A continuous task's actions settled so far.
     */
    settled_actions?: number;
    started_at?: number;
    status: TaskStatus;
    task: TaskRequest;
    task_id: string;
}
/**
 * Durable: the player's unfinished tasks, in order, after any change to them.
 */
export interface QueueUpdated {
    at: number;
    queue: QueueEntry[];
    seq: number;
    type: "queue_updated";
}
/**
 * A rare find rolled on every harvesting action, with hard pity.
 */
export interface RareDrop {
    /**
     * Base chance per action.
     */
    chance: number;
    item: string;
    /**
     * Guaranteed on the action after `pity - 1` misses in a row.
     */
    pity: number;
}
export type Rarity = "common" | "uncommon" | "rare" | "epic" | "legendary";
/**
 * A crafting recipe.
 */
export interface RecipeDef {
    action_ms: number;
    /**
     * Complexity ≥ 1 lowers the success chance.
     */
    complexity: number;
    difficulty: number;
    /**
     * Item id → units consumed per craft.
     */
    inputs: {
        [key: string]: number;
    };
    /**
     * Crafting level needed.
     */
    level: number;
    output: string;
    output_qty: number;
    /**
     * Whether the output rolls a quality tier.
     */
    quality: boolean;
    /**
     * Station the player must own, if any.
     */
    station: string | null;
    xp: number;
}
/**
 * How a task repeats: `until_stopped` runs action after action, settled in chunks, until the
 * player cancels it or its inputs run out (docs/game-rules.md, "Continuous tasks").
 */
export type Repeat = "until_stopped";
/**
 * The client's correlation id, echoed by every reply to the message that carried it; for `enqueue`, the idempotency key.
 */
export type RequestId = string;
/**
 * A harvestable resource.
 */
export interface ResourceDef {
    /**
     * Base time of one action, in milliseconds.
     */
    action_ms: number;
    /**
     * Expected units per action before modifiers.
     */
    base_yield: number;
    difficulty: number;
    /**
     * The item one unit of yield gives.
     */
    item: string;
    /**
     * Harvesting level needed.
     */
    level: number;
    rare_drops: RareDrop[];
    /**
     * The tool kind (gear slot) needed.
     */
    tool: string;
    /**
     * Harvesting XP per action before difficulty.
     */
    xp: number;
}
/**
 * Formula constants. Each is documented in `docs/game-rules.md`.
 */
export interface RuleParams {
    combat: CombatParams;
    craft: CraftParams;
    harvest: HarvestParams;
    /**
     * Item rewards grow by this much per character level (0.05 = 5%).
     */
    level_bonus_per_level: number;
    /**
     * Highest level of any track.
     */
    max_level: number;
    /**
     * Progress accrues for at most this long after the player's last activity (ms; default
     * 86,400,000 = 24 h, the cap Melvor Idle settled on). At least 1.
     */
    offline_cap_ms: number;
}
/**
 * The `sync` reply: the player's state, which is always the truth, then (as separate
 * messages) the kept notifications after the client's `after_seq`, at most a page.
 */
export interface SnapshotReply {
    at: number;
    /**
     * The content hash of the catalog the server plays (as in the `catalog` reply): a
     * client whose cached catalog has another hash asks for the catalog again.
     */
    catalog_hash: string;
    /**
     * Kept notifications follow the last one sent: `sync` again from it.
     */
    more: boolean;
    player: PlayerView;
    /**
     * [`PROTOCOL_VERSION`].
     */
    protocol: number;
    queue: QueueEntry[];
    request_id?: RequestId;
    /**
     * The player's current `seq`: the last notification issued (0 before the first).
     */
    seq: number;
    /**
     * Some notifications after `after_seq` are not kept (expired, or delivered live to
     * another connection and not kept), or `after_seq` is ahead of `seq`: the snapshot is
     * the truth, and the client continues from `seq`.
     */
    truncated: boolean;
    type: "snapshot";
}
/**
 * What a new player starts with.
 */
export interface Starter {
    /**
     * Gear equipped at full durability.
     */
    equipment: string[];
    inventory: {
        [key: string]: number;
    };
    stations: string[];
}
export interface StationDef {
    name: string;
}
/**
 * The snapshot, then the kept notifications with `seq > after_seq` (0 when absent).
 */
export interface SyncRequest {
    action: "sync";
    after_seq?: number | null;
    request_id?: RequestId;
}
/**
 * Durable: a task was cancelled, with the outcome of the actions done and what was refunded; `reason: stopped` when it ended a continuous task.
 */
export interface TaskCancelled {
    at: number;
    /**
     * `stopped` when a continuous task ended by this cancel (`settled` is then its last,
     * partial chunk). Absent for fixed tasks.
     */
    reason?: EndReason;
    refunded: {
        [key: string]: number;
    };
    seq: number;
    /**
     * What the actions done before the cancel gave (absent if it had not started).
     */
    settled?: Outcome;
    task_id: string;
    type: "task_cancelled";
}
/**
 * Durable: a task completed, with what it gave and the levels gained. For a continuous task (`repeat`), `reason: inputs_exhausted` and no actions: its grants came in its `chunk_settled` notifications.
 */
export interface TaskCompleted {
    activity: Activity;
    at: number;
    /**
     * Tracks that gained a level, with the new level.
     */
    level_ups: {
        [key: string]: number;
    };
    outcome: Outcome;
    /**
     * Why a continuous task ended (`inputs_exhausted`); its grants were announced in its
     * `chunk_settled` notifications and `outcome` has no actions. Absent for fixed tasks.
     */
    reason?: EndReason;
    refunded: {
        [key: string]: number;
    };
    seq: number;
    task_id: string;
    type: "task_completed";
}
/**
 * Durable: a task could not start (a validation code, final), or failed transiently (`transient_failure`, retried at `retry_at`) or for good (`retries_exhausted`).
 */
export interface TaskFailed {
    at: number;
    attempts: number;
    /**
     * A validation code when the task cannot start for the player as they are (final),
     * `transient_failure` (retried at `retry_at`) or `retries_exhausted` (final).
     */
    code: ErrorCode;
    message: string;
    /**
     * When it will be tried again; absent when the failure is final.
     */
    retry_at?: number;
    seq: number;
    task_id: string;
    type: "task_failed";
}
/**
 * The player's running task stopped accruing progress at `paused_at`: the offline cap
 * (catalog rule `offline_cap_ms`) after the player's last activity. The player's next
 * connect or message resumes it from then on.
 */
export interface TaskPaused {
    at: number;
    paused_at: number;
    reason: PauseReason;
    seq: number;
    task_id: string;
    type: "task_paused";
}
/**
 * Progress of a running task: ephemeral, so it has no `seq`, is never kept and never replayed
 * by `sync` (DESIGN.md section 6). A client may also interpolate progress from the task's
 * `started_at` and `ends_at`. On the wire: `{"type":"task_progress", "at", "task_id", "done",
 * "total", "ends_at"}`.
 */
export interface TaskProgress {
    at: number;
    /**
     * Actions done so far.
     */
    done: number;
    ends_at: number;
    task_id: string;
    /**
     * Actions in the task.
     */
    total: number;
    type: "task_progress";
}
/**
 * One of the three activities, with its target and quantity.
 */
export type TaskRequest = 
/**
 * Harvest `resource` at `location`, `quantity` actions.
 */
{
    activity: "harvest";
    location: string;
    /**
     * Actions in the task; absent (0) with `repeat`. While a continuous task runs, the
     * actions of its current chunk.
     */
    quantity?: number;
    /**
     * `until_stopped`: a continuous task, instead of `quantity`.
     */
    repeat?: Repeat;
    resource: string;
}
/**
 * Craft `recipe` `quantity` times.
 */
 | {
    activity: "craft";
    /**
     * Actions in the task; absent (0) with `repeat`. While a continuous task runs, the
     * actions of its current chunk.
     */
    quantity?: number;
    recipe: string;
    /**
     * `until_stopped`: a continuous task, instead of `quantity`.
     */
    repeat?: Repeat;
}
/**
 * Fight `enemy` `quantity` times.
 */
 | {
    activity: "combat";
    enemy: string;
    /**
     * Actions in the task; absent (0) with `repeat`. While a continuous task runs, the
     * actions of its current chunk.
     */
    quantity?: number;
    /**
     * `until_stopped`: a continuous task, instead of `quantity`.
     */
    repeat?: Repeat;
};
/**
 * Durable: a task started; it ends at `ends_at` (server time).
 */
export interface TaskStarted {
    activity: Activity;
    at: number;
    /**
     * When the task ends; for a continuous task, when its first chunk is settled.
     */
    ends_at: number;
    /**
     * Actions in the task; for a continuous task, in its first chunk.
     */
    quantity: number;
    /**
     * `until_stopped` for a continuous task; absent for a fixed one.
     */
    repeat?: Repeat;
    seq: number;
    started_at: number;
    target: string;
    task_id: string;
    type: "task_started";
}
export type TaskStatus = "queued" | "running" | "retrying" | "completed" | "cancelled" | "rejected" | "failed";
export interface TertiaryEntry {
    chance: number;
    item: string;
}
/**
 * Progress on one level track.
 */
export interface TrackView {
    level: number;
    /**
     * XP at which the next level is reached (absent at the cap).
     */
    next_level_xp?: number;
    xp: number;
}
export interface WeightedEntry {
    item: string;
    max: number;
    min: number;
    weight: number;
}
export interface WeightedTable {
    /**
     * Weight of "nothing".
     */
    empty_weight: number;
    entries: WeightedEntry[];
    /**
     * How many times the table is rolled per win.
     */
    rolls: number;
}
/** Every message a client sends. */
export type ClientMessage = CancelRequest | CatalogRequest | EnqueueRequest | PingRequest | SyncRequest;
/** Every direct answer to a client message. */
export type Reply = AckReply | ErrorReply | CatalogReply | PongReply | SnapshotReply;
/** The durable notifications: numbered by `seq`, delivered at least once, kept for `sync`. */
export type DurableNotification = QueueUpdated | TaskStarted | TaskCompleted | ChunkSettled | TaskPaused | TaskFailed | TaskCancelled;
/** Every message the server sends. */
export type ServerMessage = Reply | DurableNotification | TaskProgress;
/** The `type`s of the durable notifications. */
export declare const DURABLE_TYPES: readonly ["queue_updated", "task_started", "task_completed", "chunk_settled", "task_paused", "task_failed", "task_cancelled"];
/** Every error code, one meaning each (see `ErrorCode`). */
export declare const ERROR_CODES: readonly ["invalid_request", "unknown_action", "message_too_large", "rate_limited", "queue_full", "not_found", "forbidden", "not_connected", "token_expired", "unavailable", "invalid_quantity", "unknown_target", "not_at_location", "missing_tool", "gear_worn", "level_too_low", "missing_materials", "missing_station", "enemy_too_strong", "already_owned", "transient_failure", "retries_exhausted"];
