//! The catalog's data types, exactly as they appear in the JSON file.

use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// Every game parameter of one rules version.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Catalog {
    /// The JSON Schema the file follows (`"$schema": "./catalog.schema.json"`), for editors.
    /// Not a rule: the loader accepts and then clears it, so it is never served, compared or
    /// hashed.
    #[serde(rename = "$schema", default, skip_serializing)]
    pub schema: Option<String>,
    /// The rules version: a label for people and reports. A catalog's identity is its content
    /// hash ([`Catalog::content_hash`]), which every change moves; raise the version too when a
    /// change alters outcomes, so that people can tell the rule sets apart.
    pub version: u32,
    /// Formula constants shared by the activities.
    pub rules: RuleParams,
    pub items: BTreeMap<String, ItemDef>,
    pub stations: BTreeMap<String, StationDef>,
    pub locations: BTreeMap<String, LocationDef>,
    pub resources: BTreeMap<String, ResourceDef>,
    pub recipes: BTreeMap<String, RecipeDef>,
    pub enemies: BTreeMap<String, EnemyDef>,
    /// Loot multiplier per enemy rarity (common 1.0 … legendary 3.0).
    pub rarities: BTreeMap<Rarity, f64>,
    /// Crafted quality tiers, lowest first; index 0 is "normal".
    pub quality_tiers: Vec<QualityTier>,
    /// What a new player starts with.
    pub starter: Starter,
}

/// Formula constants. Each is documented in `docs/game-rules.md`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RuleParams {
    /// Highest level of any track.
    pub max_level: u32,
    /// Item rewards grow by this much per character level (0.05 = 5%).
    pub level_bonus_per_level: f64,
    /// Progress accrues for at most this long after the player's last activity (ms; default
    /// 86,400,000 = 24 h, the cap Melvor Idle settled on). At least 1.
    #[serde(default = "default_offline_cap_ms")]
    pub offline_cap_ms: u64,
    pub harvest: HarvestParams,
    pub craft: CraftParams,
    pub combat: CombatParams,
}

/// The default offline cap: 24 hours in ms.
pub const DEFAULT_OFFLINE_CAP_MS: u64 = 86_400_000;

fn default_offline_cap_ms() -> u64 {
    DEFAULT_OFFLINE_CAP_MS
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct HarvestParams {
    /// Action time shrinks by this fraction per level of skill margin…
    pub time_cut_per_margin: f64,
    /// …up to this fraction.
    pub max_time_cut: f64,
    /// Yield grows by this fraction per level of skill margin…
    pub yield_per_margin: f64,
    /// …counting at most this many levels of margin.
    pub max_yield_margin: u32,
    /// Tool durability lost per action.
    pub wear_per_action: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CraftParams {
    /// Success chance at zero margin and complexity 1.
    pub base_success: f64,
    pub success_per_margin: f64,
    /// Success chance lost per point of complexity above 1.
    pub complexity_penalty: f64,
    pub min_success: f64,
    pub max_success: f64,
    /// Chance per material unit to be preserved, per level of margin…
    pub preserve_per_margin: f64,
    /// …capped here.
    pub max_preserve: f64,
    /// Share of the recipe's XP granted for a failed craft.
    pub failure_xp_share: f64,
    /// Higher quality tiers gain weight by this factor per level of margin.
    pub quality_per_margin: f64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CombatParams {
    /// A player may fight enemies at most this many levels above their combat level.
    pub max_level_gap: u32,
    /// A fight that lasts longer is a loss (the player retreats).
    pub max_rounds: u32,
    pub base_hitpoints: u32,
    pub hitpoints_per_level: u32,
    /// Share of the enemy's XP granted for a lost encounter.
    pub loss_xp_share: f64,
    /// Weapon and armour durability lost per encounter won…
    pub wear_win: u32,
    /// …and per encounter lost.
    pub wear_loss: u32,
}

/// An item: anything that can sit in an inventory.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemDef {
    pub name: String,
    /// Value in coins of one normal-quality unit (used for value-per-hour reports).
    pub value: u32,
    pub kind: ItemKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum ItemKind {
    /// Raw or intermediate materials.
    Material,
    /// Rare finds with no use but their value.
    Treasure,
    /// A crafting station: crafting one adds it to the player's stations.
    Station,
    /// Something worn in an equipment slot, with durability.
    Gear(Gear),
}

/// Gear: tools, weapons and armour.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Gear {
    /// The slot it occupies: a tool kind (`pickaxe`, `hatchet`, `sickle`), `weapon` or `armour`.
    pub slot: String,
    /// Rising tier; the best owned tier is equipped first.
    pub tier: u32,
    /// Skill level needed to use it (harvesting for tools, combat for weapons and armour).
    pub level: u32,
    pub max_durability: u32,
    /// Tools: action speed bonus (0.25 = actions take 1/1.25 of the time).
    #[serde(default)]
    pub speed: f64,
    /// Tools: yield bonus (0.1 = +10%).
    #[serde(default)]
    pub yield_bonus: f64,
    /// Tools: rare-drop chance bonus (0.2 = +20% of the base chance).
    #[serde(default)]
    pub rare_bonus: f64,
    /// Weapons: accuracy bonus.
    #[serde(default)]
    pub attack: u32,
    /// Weapons: damage bonus.
    #[serde(default)]
    pub strength: u32,
    /// Armour: defence bonus.
    #[serde(default)]
    pub defence: u32,
}

impl Gear {
    /// Weapons and armour are combat gear; everything else is a harvesting tool.
    pub fn is_tool(&self) -> bool {
        self.slot != WEAPON_SLOT && self.slot != ARMOUR_SLOT
    }
}

/// The slot name of weapons.
pub const WEAPON_SLOT: &str = "weapon";
/// The slot name of armour.
pub const ARMOUR_SLOT: &str = "armour";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StationDef {
    pub name: String,
}

/// A place to harvest, with the resources found there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LocationDef {
    pub name: String,
    /// Character level needed to go there.
    pub level: u32,
    /// Added to every rare-drop chance bonus here.
    pub rare_bonus: f64,
    /// Resource id → yield modifier at this location.
    pub resources: BTreeMap<String, f64>,
}

/// A harvestable resource.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResourceDef {
    /// The item one unit of yield gives.
    pub item: String,
    /// The tool kind (gear slot) needed.
    pub tool: String,
    /// Harvesting level needed.
    pub level: u32,
    /// Base time of one action, in milliseconds.
    pub action_ms: u64,
    /// Expected units per action before modifiers.
    pub base_yield: f64,
    /// Harvesting XP per action before difficulty.
    pub xp: u32,
    pub difficulty: f64,
    #[serde(default)]
    pub rare_drops: Vec<RareDrop>,
}

/// A rare find rolled on every harvesting action, with hard pity.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RareDrop {
    pub item: String,
    /// Base chance per action.
    pub chance: f64,
    /// Guaranteed on the action after `pity - 1` misses in a row.
    pub pity: u32,
}

/// A crafting recipe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RecipeDef {
    pub output: String,
    pub output_qty: u32,
    /// Item id → units consumed per craft.
    pub inputs: BTreeMap<String, u32>,
    /// Station the player must own, if any.
    #[serde(default)]
    pub station: Option<String>,
    /// Crafting level needed.
    pub level: u32,
    /// Complexity ≥ 1 lowers the success chance.
    pub complexity: f64,
    pub action_ms: u64,
    pub xp: u32,
    pub difficulty: f64,
    /// Whether the output rolls a quality tier.
    #[serde(default)]
    pub quality: bool,
}

#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Rarity {
    Common,
    Uncommon,
    Rare,
    Epic,
    Legendary,
}

/// An enemy to fight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EnemyDef {
    pub name: String,
    pub rarity: Rarity,
    pub level: u32,
    pub attack: u32,
    pub defence: u32,
    pub hitpoints: u32,
    pub max_hit: u32,
    /// Time of one encounter, in milliseconds.
    pub action_ms: u64,
    /// Combat XP per encounter won, before difficulty.
    pub xp: u32,
    pub difficulty: f64,
    pub loot: LootTable,
}

/// OSRS-style loot: always drops, one weighted table with empty slots, and tertiary rolls.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LootTable {
    #[serde(default)]
    pub always: Vec<LootEntry>,
    #[serde(default)]
    pub weighted: WeightedTable,
    #[serde(default)]
    pub tertiary: Vec<TertiaryEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct LootEntry {
    pub item: String,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightedTable {
    /// How many times the table is rolled per win.
    pub rolls: u32,
    /// Weight of "nothing".
    pub empty_weight: u32,
    pub entries: Vec<WeightedEntry>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct WeightedEntry {
    pub item: String,
    pub weight: u32,
    pub min: u32,
    pub max: u32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TertiaryEntry {
    pub item: String,
    pub chance: f64,
}

/// A crafted quality tier.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct QualityTier {
    pub name: String,
    /// Weight at zero skill margin.
    pub weight: u32,
    /// Multiplies gear durability and item value.
    pub multiplier: f64,
}

/// What a new player starts with.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Starter {
    pub inventory: BTreeMap<String, u64>,
    /// Gear equipped at full durability.
    pub equipment: Vec<String>,
    pub stations: Vec<String>,
}
