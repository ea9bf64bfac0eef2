//! What a player asks for when they enqueue a task.

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

use crate::catalog::Catalog;

/// One of the three activities, with its target and quantity.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(tag = "activity", rename_all = "snake_case", deny_unknown_fields)]
pub enum TaskRequest {
    /// Harvest `resource` at `location`, `quantity` actions.
    Harvest {
        resource: String,
        location: String,
        /// Actions in the task; absent (0) with `repeat`. While a continuous task runs, the
        /// actions of its current chunk.
        #[serde(default, skip_serializing_if = "is_zero")]
        #[schemars(range(min = 1))]
        quantity: u32,
        /// `until_stopped`: a continuous task, instead of `quantity`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Repeat")]
        repeat: Option<Repeat>,
    },
    /// Craft `recipe` `quantity` times.
    Craft {
        recipe: String,
        /// Actions in the task; absent (0) with `repeat`. While a continuous task runs, the
        /// actions of its current chunk.
        #[serde(default, skip_serializing_if = "is_zero")]
        #[schemars(range(min = 1))]
        quantity: u32,
        /// `until_stopped`: a continuous task, instead of `quantity`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Repeat")]
        repeat: Option<Repeat>,
    },
    /// Fight `enemy` `quantity` times.
    Combat {
        enemy: String,
        /// Actions in the task; absent (0) with `repeat`. While a continuous task runs, the
        /// actions of its current chunk.
        #[serde(default, skip_serializing_if = "is_zero")]
        #[schemars(range(min = 1))]
        quantity: u32,
        /// `until_stopped`: a continuous task, instead of `quantity`.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        #[schemars(with = "Repeat")]
        repeat: Option<Repeat>,
    },
}

/// How a task repeats: `until_stopped` runs action after action, settled in chunks, until the
/// player cancels it or its inputs run out (docs/game-rules.md, "Continuous tasks").
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Repeat {
    UntilStopped,
}

fn is_zero(n: &u32) -> bool {
    *n == 0
}

/// The three activities, also the three skills.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Activity {
    Harvest,
    Craft,
    Combat,
}

/// A skill track; each activity trains its own.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, JsonSchema,
)]
#[serde(rename_all = "snake_case")]
pub enum Skill {
    Harvesting,
    Crafting,
    Combat,
}

impl Skill {
    pub const ALL: [Skill; 3] = [Skill::Harvesting, Skill::Crafting, Skill::Combat];
}

impl Activity {
    /// The skill this activity trains and depends on.
    pub fn skill(self) -> Skill {
        match self {
            Activity::Harvest => Skill::Harvesting,
            Activity::Craft => Skill::Crafting,
            Activity::Combat => Skill::Combat,
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Activity::Harvest => "harvest",
            Activity::Craft => "craft",
            Activity::Combat => "combat",
        }
    }
}

impl TaskRequest {
    pub fn activity(&self) -> Activity {
        match self {
            TaskRequest::Harvest { .. } => Activity::Harvest,
            TaskRequest::Craft { .. } => Activity::Craft,
            TaskRequest::Combat { .. } => Activity::Combat,
        }
    }

    pub fn quantity(&self) -> u32 {
        match self {
            TaskRequest::Harvest { quantity, .. }
            | TaskRequest::Craft { quantity, .. }
            | TaskRequest::Combat { quantity, .. } => *quantity,
        }
    }

    /// How the task repeats: `Some` for a continuous task.
    pub fn repeat(&self) -> Option<Repeat> {
        match self {
            TaskRequest::Harvest { repeat, .. }
            | TaskRequest::Craft { repeat, .. }
            | TaskRequest::Combat { repeat, .. } => *repeat,
        }
    }

    /// True for a continuous task (`repeat: until_stopped`).
    pub fn is_continuous(&self) -> bool {
        self.repeat().is_some()
    }

    /// The same request with `quantity` actions (a continuous task's chunk keeps its `repeat`).
    pub fn with_quantity(&self, actions: u32) -> TaskRequest {
        let mut request = self.clone();
        match &mut request {
            TaskRequest::Harvest { quantity, .. }
            | TaskRequest::Craft { quantity, .. }
            | TaskRequest::Combat { quantity, .. } => *quantity = actions,
        }
        request
    }

    /// The target's catalog id: a resource, a recipe or an enemy.
    pub fn target(&self) -> &str {
        match self {
            TaskRequest::Harvest { resource, .. } => resource,
            TaskRequest::Craft { recipe, .. } => recipe,
            TaskRequest::Combat { enemy, .. } => enemy,
        }
    }

    /// The gear slots this task uses: the resource's tool kind, or weapon and armour.
    pub fn gear_slots(&self, catalog: &Catalog) -> Vec<String> {
        match self {
            TaskRequest::Harvest { resource, .. } => catalog
                .resources
                .get(resource)
                .map(|r| vec![r.tool.clone()])
                .unwrap_or_default(),
            TaskRequest::Craft { .. } => Vec::new(),
            TaskRequest::Combat { .. } => vec![
                crate::catalog::WEAPON_SLOT.to_owned(),
                crate::catalog::ARMOUR_SLOT.to_owned(),
            ],
        }
    }

    /// Base time of one action before the player's bonuses, if the target exists.
    pub fn base_action_ms(&self, catalog: &Catalog) -> Option<u64> {
        match self {
            TaskRequest::Harvest { resource, .. } => {
                catalog.resources.get(resource).map(|r| r.action_ms)
            }
            TaskRequest::Craft { recipe, .. } => catalog.recipes.get(recipe).map(|r| r.action_ms),
            TaskRequest::Combat { enemy, .. } => catalog.enemies.get(enemy).map(|e| e.action_ms),
        }
    }
}
