//! Validation: static checks at enqueue and dynamic checks at start, as typed rejections with
//! stable codes and messages a player can act on.

use crate::catalog::{Catalog, Gear, ItemKind, ARMOUR_SLOT, WEAPON_SLOT};
use crate::game::Game;
use crate::model::{parse_item_key, Equipped, Player, Skill, TaskRequest};
use crate::protocol::ErrorCode;

/// Why a request was refused or a task could not start.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Rejection {
    #[error("{0}")]
    InvalidRequest(String),
    #[error("quantity must be between 1 and {max}; you asked for {got}")]
    QuantityOutOfRange { got: u32, max: u32 },
    #[error("there is no {kind} called `{id}`; the catalog lists what exists")]
    UnknownTarget { kind: &'static str, id: String },
    /// The task was queued under another catalog, and the current one lacks its target (or no
    /// longer allows it as asked): code `unknown_target`.
    #[error("the catalog changed since this task was queued and {problem}; queue something else")]
    TargetRemoved { problem: String },
    #[error("{resource} can't be harvested at {location}; it is found at: {options}")]
    NotAtLocation {
        resource: String,
        location: String,
        options: String,
    },
    #[error("your queue is full ({max} tasks); wait for one to finish or cancel one")]
    QueueFull { max: usize },
    #[error("too many requests; try again in {retry_after_ms} ms")]
    RateLimited { retry_after_ms: u64 },
    #[error("bypass_validation is only for admin tokens")]
    Forbidden,
    #[error("no queued or running task `{task_id}`; it may have finished already")]
    NotFound { task_id: String },
    #[error("you need a {tool} to harvest {resource}; craft one or find one first")]
    MissingTool { tool: String, resource: String },
    #[error("your {item} has {durability} durability left but this task needs {needed}; lower the quantity or get a new one")]
    GearWorn {
        item: String,
        durability: u32,
        needed: u64,
    },
    #[error("{what} needs {track} level {required}; yours is {have}")]
    LevelTooLow {
        what: String,
        track: &'static str,
        required: u32,
        have: u32,
    },
    #[error("this needs {needed} {item} but you have {have}")]
    MissingMaterials {
        item: String,
        needed: u64,
        have: u64,
    },
    #[error("this recipe needs a {station}; build one first")]
    MissingStation { station: String },
    #[error("{enemy} is level {level}; at combat level {have} you can fight up to level {max}")]
    EnemyTooStrong {
        enemy: String,
        level: u32,
        have: u32,
        max: u32,
    },
    #[error("you already own a {station}")]
    AlreadyOwned { station: String },
}

impl Rejection {
    /// The stable machine-readable code clients switch on.
    pub fn code(&self) -> ErrorCode {
        match self {
            Rejection::InvalidRequest(_) => ErrorCode::InvalidRequest,
            Rejection::QuantityOutOfRange { .. } => ErrorCode::InvalidQuantity,
            Rejection::UnknownTarget { .. } | Rejection::TargetRemoved { .. } => {
                ErrorCode::UnknownTarget
            }
            Rejection::NotAtLocation { .. } => ErrorCode::NotAtLocation,
            Rejection::QueueFull { .. } => ErrorCode::QueueFull,
            Rejection::RateLimited { .. } => ErrorCode::RateLimited,
            Rejection::Forbidden => ErrorCode::Forbidden,
            Rejection::NotFound { .. } => ErrorCode::NotFound,
            Rejection::MissingTool { .. } => ErrorCode::MissingTool,
            Rejection::GearWorn { .. } => ErrorCode::GearWorn,
            Rejection::LevelTooLow { .. } => ErrorCode::LevelTooLow,
            Rejection::MissingMaterials { .. } => ErrorCode::MissingMaterials,
            Rejection::MissingStation { .. } => ErrorCode::MissingStation,
            Rejection::EnemyTooStrong { .. } => ErrorCode::EnemyTooStrong,
            Rejection::AlreadyOwned { .. } => ErrorCode::AlreadyOwned,
        }
    }

    /// For `rate_limited`, when to try again.
    pub fn retry_after_ms(&self) -> Option<u64> {
        match self {
            Rejection::RateLimited { retry_after_ms } => Some(*retry_after_ms),
            _ => None,
        }
    }
}

fn unknown(kind: &'static str, id: &str) -> Rejection {
    Rejection::UnknownTarget {
        kind,
        id: id.to_owned(),
    }
}

/// Checks a request's shape, bounds and catalog references (at enqueue; no player state).
pub fn check_request(
    game: &Game,
    request_id: &str,
    request: &TaskRequest,
) -> Result<(), Rejection> {
    let limits = &game.limits;
    if request_id.is_empty()
        || request_id.len() > limits.max_request_id_len
        || !request_id
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-_.:".contains(&b))
    {
        return Err(Rejection::InvalidRequest(format!(
            "request_id must be 1 to {} characters of letters, digits, '-', '_', '.' or ':'",
            limits.max_request_id_len
        )));
    }
    let quantity = request.quantity();
    if request.is_continuous() {
        if quantity != 0 {
            return Err(Rejection::InvalidRequest(
                "give `task.quantity` or `task.repeat`, not both".into(),
            ));
        }
        if let TaskRequest::Craft { recipe, .. } = request {
            if game
                .catalog
                .recipes
                .get(recipe)
                .is_some_and(|def| builds_station(game.catalog, &def.output))
            {
                return Err(Rejection::InvalidRequest(format!(
                    "`{recipe}` builds a station, which is built once: give `quantity: 1`, not `repeat`"
                )));
            }
        }
        return check_targets(game.catalog, request);
    }
    if quantity == 0 || quantity > limits.max_quantity {
        return Err(Rejection::QuantityOutOfRange {
            got: quantity,
            max: limits.max_quantity,
        });
    }
    check_targets(game.catalog, request)
}

/// Checks a request's catalog references against `catalog`: the target exists (and, for a
/// harvest, is found at the location), and a station is built one at a time.
///
/// # Errors
/// `unknown_target`, `not_at_location` or `invalid_quantity`, as at enqueue.
pub fn check_targets(catalog: &Catalog, request: &TaskRequest) -> Result<(), Rejection> {
    match request {
        TaskRequest::Harvest {
            resource, location, ..
        } => {
            if !catalog.resources.contains_key(resource) {
                return Err(unknown("resource", resource));
            }
            let place = catalog
                .locations
                .get(location)
                .ok_or_else(|| unknown("location", location))?;
            if !place.resources.contains_key(resource) {
                let options: Vec<&str> = catalog
                    .locations
                    .iter()
                    .filter(|(_, l)| l.resources.contains_key(resource))
                    .map(|(id, _)| id.as_str())
                    .collect();
                return Err(Rejection::NotAtLocation {
                    resource: resource.clone(),
                    location: location.clone(),
                    options: options.join(", "),
                });
            }
        }
        TaskRequest::Craft {
            recipe, quantity, ..
        } => {
            let def = catalog
                .recipes
                .get(recipe)
                .ok_or_else(|| unknown("recipe", recipe))?;
            if builds_station(catalog, &def.output) && *quantity != 1 {
                return Err(Rejection::QuantityOutOfRange {
                    got: *quantity,
                    max: 1,
                });
            }
        }
        TaskRequest::Combat { enemy, .. } => {
            if !catalog.enemies.contains_key(enemy) {
                return Err(unknown("enemy", enemy));
            }
        }
    }
    Ok(())
}

fn builds_station(catalog: &Catalog, item: &str) -> bool {
    catalog
        .item(item)
        .is_some_and(|i| matches!(i.kind, ItemKind::Station))
}

/// Gear a task will use in one slot: what is worn, or the best usable piece in the inventory.
#[derive(Debug, Clone, PartialEq)]
pub enum GearChoice {
    Worn(Equipped),
    /// Equip this inventory key at full durability.
    FromInventory {
        key: String,
        equipped: Equipped,
    },
}

impl GearChoice {
    pub fn equipped(&self) -> &Equipped {
        match self {
            GearChoice::Worn(e) | GearChoice::FromInventory { equipped: e, .. } => e,
        }
    }
}

/// Full durability of an item at a quality tier.
pub fn max_durability(gear: &Gear, quality: u8, catalog: &Catalog) -> u32 {
    let multiplier = catalog.quality(quality).map_or(1.0, |q| q.multiplier);
    (f64::from(gear.max_durability) * multiplier).floor() as u32
}

/// The gear for `slot`: the worn piece, or else the best (tier, then quality) inventory piece the
/// player has the level for. Gear is only taken from the inventory into an empty slot.
pub fn choose_gear(
    player: &Player,
    slot: &str,
    skill_level: u32,
    catalog: &Catalog,
) -> Option<GearChoice> {
    if let Some(worn) = player.equipment.get(slot) {
        return Some(GearChoice::Worn(worn.clone()));
    }
    player
        .inventory
        .keys()
        .filter_map(|key| {
            let (item, quality) = parse_item_key(key, catalog);
            let gear = catalog.gear(item)?;
            (gear.slot == slot && gear.level <= skill_level)
                .then_some((gear.tier, quality, key, item, gear))
        })
        .max_by_key(|(tier, quality, ..)| (*tier, *quality))
        .map(|(_, quality, key, item, gear)| GearChoice::FromInventory {
            key: key.clone(),
            equipped: Equipped {
                item: item.to_owned(),
                quality,
                durability: max_durability(gear, quality, catalog),
            },
        })
}

/// What a validated start needs: gear to use, by slot.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Prepared {
    pub gear: Vec<(String, GearChoice)>,
}

fn level_check(what: &str, track: &'static str, required: u32, have: u32) -> Result<(), Rejection> {
    if have >= required {
        Ok(())
    } else {
        Err(Rejection::LevelTooLow {
            what: what.to_owned(),
            track,
            required,
            have,
        })
    }
}

fn durability_check(choice: &GearChoice, needed: u64, catalog: &Catalog) -> Result<(), Rejection> {
    let worn = choice.equipped();
    if u64::from(worn.durability) >= needed {
        return Ok(());
    }
    Err(Rejection::GearWorn {
        item: catalog
            .item(&worn.item)
            .map_or(worn.item.clone(), |i| i.name.clone()),
        durability: worn.durability,
        needed,
    })
}

/// Checks a queued task's catalog references again when it starts: the catalog may have changed
/// since it was queued, and its target must still exist, be found where it asks, and be asked as
/// the current catalog allows. (Queued tasks do not record the catalog they were queued under:
/// the hash costs item bytes, and this check costs a few lookups.) A task queued under the
/// current catalog always passes: enqueue made the same checks.
///
/// # Errors
/// [`Rejection::TargetRemoved`] (code `unknown_target`) naming what is gone or no longer allowed.
pub fn recheck_at_start(game: &Game, request: &TaskRequest) -> Result<(), Rejection> {
    check_targets(game.catalog, request).map_err(|rejection| Rejection::TargetRemoved {
        problem: match rejection {
            Rejection::UnknownTarget { kind, id } => format!("the {kind} `{id}` is gone"),
            other => other.to_string(),
        },
    })
}

/// Checks that the player can start this task now: tool, location, levels, materials, station,
/// enemy level gap and gear durability for the whole task.
pub fn check_start(
    game: &Game,
    player: &Player,
    request: &TaskRequest,
) -> Result<Prepared, Rejection> {
    let catalog = game.catalog;
    let quantity = u64::from(request.quantity());
    let character = player.character_level(catalog);
    let skill = player.skill_level(request.activity().skill(), catalog);
    let mut prepared = Prepared::default();
    match request {
        TaskRequest::Harvest {
            resource, location, ..
        } => {
            let res = catalog
                .resources
                .get(resource)
                .ok_or_else(|| unknown("resource", resource))?;
            let place = catalog
                .locations
                .get(location)
                .ok_or_else(|| unknown("location", location))?;
            level_check(&place.name, "character", place.level, character)?;
            level_check(resource, "harvesting", res.level, skill)?;
            let choice = choose_gear(player, &res.tool, skill, catalog).ok_or_else(|| {
                Rejection::MissingTool {
                    tool: res.tool.clone(),
                    resource: resource.clone(),
                }
            })?;
            let wear = u64::from(catalog.rules.harvest.wear_per_action);
            durability_check(&choice, wear * quantity, catalog)?;
            prepared.gear.push((res.tool.clone(), choice));
        }
        TaskRequest::Craft { recipe, .. } => {
            let def = catalog
                .recipes
                .get(recipe)
                .ok_or_else(|| unknown("recipe", recipe))?;
            level_check(recipe, "crafting", def.level, skill)?;
            if let Some(station) = &def.station {
                if !player.stations.contains(station) {
                    return Err(Rejection::MissingStation {
                        station: station.clone(),
                    });
                }
            }
            if builds_station(catalog, &def.output) && player.stations.contains(&def.output) {
                return Err(Rejection::AlreadyOwned {
                    station: def.output.clone(),
                });
            }
            for (item, units) in &def.inputs {
                let needed = u64::from(*units) * quantity;
                let have = player.count(item);
                if have < needed {
                    return Err(Rejection::MissingMaterials {
                        item: item.clone(),
                        needed,
                        have,
                    });
                }
            }
        }
        TaskRequest::Combat { enemy, .. } => {
            let def = catalog
                .enemies
                .get(enemy)
                .ok_or_else(|| unknown("enemy", enemy))?;
            let max = skill + catalog.rules.combat.max_level_gap;
            if def.level > max {
                return Err(Rejection::EnemyTooStrong {
                    enemy: def.name.clone(),
                    level: def.level,
                    have: skill,
                    max,
                });
            }
            let wear = u64::from(catalog.rules.combat.wear_win);
            for slot in [WEAPON_SLOT, ARMOUR_SLOT] {
                if let Some(choice) = choose_gear(player, slot, skill, catalog) {
                    durability_check(&choice, wear * quantity, catalog)?;
                    prepared.gear.push((slot.to_owned(), choice));
                }
            }
        }
    }
    Ok(prepared)
}

/// The skill name used in messages.
pub fn skill_name(skill: Skill) -> &'static str {
    match skill {
        Skill::Harvesting => "harvesting",
        Skill::Crafting => "crafting",
        Skill::Combat => "combat",
    }
}
