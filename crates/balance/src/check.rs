//! Balance checks: findings a designer should look at before shipping a catalog.
//!
//! Each check is defined precisely here and in `docs/balancing.md`:
//!
//! - **Dominated gear** (error): within one slot, a piece of a higher tier must be at least as
//!   good as every lower tier on each stat the slot uses — `speed`, `yield_bonus` and
//!   `rare_bonus` for tools, `attack` and `strength` for weapons, `defence` for armour.
//! - **Never worth it**: target `U` *outclasses* target `T` of the same activity at a level when
//!   a player of that level (best gear, see [`Profile`]) can do both, and `U` gives at least as
//!   much XP per hour and value per hour (net of materials for crafting) and strictly more of one
//!   (by more than [`RELATIVE_EPSILON`]). `T` is never worth it when it is outclassed at every
//!   level at which it can be done. It is an error when the rivals also give every item `T` can
//!   give (the same resource elsewhere, the same output, a loot table that covers `T`'s): then
//!   nothing is lost by never doing `T`. Otherwise it is a warning: `T` is only worth doing for
//!   the items it alone gives. Recipes that build a station are exempt: they are one-off builds
//!   whose worth is the recipes they unlock.
//! - **Falling reward** (error): a target's XP per hour and value per hour must not fall as the
//!   level rises (from the first level it can be done, best gear at each level); rises and
//!   falls smaller than [`RELATIVE_EPSILON`] are rounding.
//! - **Pity distortion** (error): with per-action chance `p` and hard pity `N`, the expected
//!   actions per drop are `Σ_{k=1}^{N} (1 − p)^(k−1)` and the effective rate is its inverse.
//!   Pity may lift the stated chance by at most [`PITY_TOLERANCE`]×; the check uses the stated
//!   chance (no tool or location bonus), where pity matters most.

use std::collections::BTreeSet;
use std::fmt;

use serde::Serialize;

use idle_core::catalog::{Catalog, Gear, ItemKind, ARMOUR_SLOT, WEAPON_SLOT};
use idle_core::model::{Activity, TaskRequest};
use idle_core::rules::RulesError;

use crate::curve::{curves, Curve, CurvePoint};
use crate::pity::{actions_per_drop, pity_lift};
#[cfg(doc)]
use crate::profile::Profile;

/// The most pity may lift a rare drop's rate above its stated chance.
pub const PITY_TOLERANCE: f64 = 1.25;

/// Differences below this share of a figure are floating-point rounding, not balance.
pub const RELATIVE_EPSILON: f64 = 1e-9;

/// Which check a finding comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Check {
    /// A higher tier no better than a lower one.
    DominatedGear,
    /// Outclassed at every level it can be done.
    NeverWorthIt,
    /// XP or value per hour falls as the level rises.
    FallingReward,
    /// Pity lifts a rare drop beyond its stated rate.
    PityDistortion,
}

impl Check {
    /// The check's name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Check::DominatedGear => "dominated_gear",
            Check::NeverWorthIt => "never_worth_it",
            Check::FallingReward => "falling_reward",
            Check::PityDistortion => "pity_distortion",
        }
    }
}

impl fmt::Display for Check {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How serious a finding is: an error fails `idle-balance check`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Severity {
    /// Worth a look; does not fail the command.
    Warning,
    /// Fails the command (exit code 1).
    Error,
}

impl Severity {
    /// The severity's name in output.
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Warning => "warning",
            Severity::Error => "error",
        }
    }
}

/// One thing a check found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Finding {
    /// The check that found it.
    pub check: Check,
    /// How serious it is.
    pub severity: Severity,
    /// The catalog entry concerned, e.g. `steel_hatchet`, `chicken` or `copper_ore:sapphire`.
    pub subject: String,
    /// What is wrong, with the numbers.
    pub message: String,
}

/// Runs every check on a catalog.
pub fn check(catalog: &Catalog) -> Result<Vec<Finding>, RulesError> {
    let curves = curves(catalog)?;
    let mut findings = dominated_gear(catalog);
    findings.extend(never_worth_it(catalog, &curves));
    findings.extend(falling_rewards(&curves));
    findings.extend(pity_distortion(catalog));
    Ok(findings)
}

/// True when the findings hold an error.
pub fn has_errors(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.severity == Severity::Error)
}

/// The stats a slot's gear is judged on, by name.
fn judged_stats(gear: &Gear) -> Vec<(&'static str, f64)> {
    match gear.slot.as_str() {
        WEAPON_SLOT => vec![
            ("attack", f64::from(gear.attack)),
            ("strength", f64::from(gear.strength)),
        ],
        ARMOUR_SLOT => vec![("defence", f64::from(gear.defence))],
        _ => vec![
            ("speed", gear.speed),
            ("yield_bonus", gear.yield_bonus),
            ("rare_bonus", gear.rare_bonus),
        ],
    }
}

/// Higher tiers of a slot that are worse than a lower tier on some stat.
pub fn dominated_gear(catalog: &Catalog) -> Vec<Finding> {
    let gear: Vec<(&str, &Gear)> = catalog
        .items
        .keys()
        .filter_map(|id| catalog.gear(id).map(|g| (id.as_str(), g)))
        .collect();
    let mut findings = Vec::new();
    for (high_id, high) in &gear {
        for (low_id, low) in &gear {
            if low.slot != high.slot || low.tier >= high.tier {
                continue;
            }
            let worse: Vec<String> = judged_stats(high)
                .into_iter()
                .zip(judged_stats(low))
                .filter(|((_, h), (_, l))| h < l)
                .map(|((name, h), (_, l))| format!("{name} {h} < {l}"))
                .collect();
            if !worse.is_empty() {
                findings.push(Finding {
                    check: Check::DominatedGear,
                    severity: Severity::Error,
                    subject: (*high_id).to_owned(),
                    message: format!(
                        "{high_id} (tier {}) is worse than {low_id} (tier {}) in the {} slot: {}",
                        high.tier,
                        low.tier,
                        high.slot,
                        worse.join(", ")
                    ),
                });
            }
        }
    }
    findings
}

/// Whether `a` is larger than `b` beyond rounding.
fn above(a: f64, b: f64) -> bool {
    a - b > RELATIVE_EPSILON * a.abs().max(b.abs()).max(1.0)
}

/// The figures a target is judged on: XP per hour, and value per hour net of materials.
fn worth(point: &CurvePoint) -> (f64, f64) {
    (point.xp_per_hour, point.net_value_per_hour)
}

fn outclasses(u: &CurvePoint, t: &CurvePoint) -> bool {
    let ((ux, uv), (tx, tv)) = (worth(u), worth(t));
    !above(tx, ux) && !above(tv, uv) && (above(ux, tx) || above(uv, tv))
}

fn builds_station(request: &TaskRequest, catalog: &Catalog) -> bool {
    match request {
        TaskRequest::Craft { recipe, .. } => catalog
            .recipes
            .get(recipe)
            .and_then(|r| catalog.item(&r.output))
            .is_some_and(|i| matches!(i.kind, ItemKind::Station)),
        _ => false,
    }
}

/// The items a target can give: the harvested item and its rare drops, a recipe's output, or an
/// enemy's whole loot table.
fn items_of(request: &TaskRequest, catalog: &Catalog) -> BTreeSet<String> {
    match request {
        TaskRequest::Harvest { resource, .. } => catalog
            .resources
            .get(resource)
            .map(|r| {
                std::iter::once(r.item.clone())
                    .chain(r.rare_drops.iter().map(|d| d.item.clone()))
                    .collect()
            })
            .unwrap_or_default(),
        TaskRequest::Craft { recipe, .. } => catalog
            .recipes
            .get(recipe)
            .map(|r| BTreeSet::from([r.output.clone()]))
            .unwrap_or_default(),
        TaskRequest::Combat { enemy, .. } => catalog
            .enemies
            .get(enemy)
            .map(|e| {
                let loot = &e.loot;
                loot.always
                    .iter()
                    .map(|l| l.item.clone())
                    .chain(loot.weighted.entries.iter().map(|l| l.item.clone()))
                    .chain(loot.tertiary.iter().map(|l| l.item.clone()))
                    .collect()
            })
            .unwrap_or_default(),
    }
}

/// The rivals that outclass a target at every level it can be done, if there is one at each.
fn outclassed_everywhere<'c>(target: &Curve, rivals: &[&'c Curve]) -> Option<Vec<&'c str>> {
    let mut names: Vec<&str> = Vec::new();
    for point in &target.points {
        let rival = rivals
            .iter()
            .find(|rival| rival.at(point.level).is_some_and(|r| outclasses(r, point)))?;
        if !names.contains(&rival.label.as_str()) {
            names.push(&rival.label);
        }
    }
    Some(names)
}

/// Targets outclassed at every level at which they can be done: an error when the rivals give
/// every item the target gives (nothing is lost by never doing it), a warning otherwise (it is
/// only worth doing for its items).
pub fn never_worth_it(catalog: &Catalog, curves: &[Curve]) -> Vec<Finding> {
    let judged: Vec<(&Curve, BTreeSet<String>)> = curves
        .iter()
        .filter(|c| !builds_station(&c.request, catalog) && !c.points.is_empty())
        .map(|c| (c, items_of(&c.request, catalog)))
        .collect();
    let mut findings = Vec::new();
    for (target, items) in &judged {
        let rivals = |same_items: bool| -> Vec<&Curve> {
            judged
                .iter()
                .filter(|(other, other_items)| {
                    other.activity == target.activity
                        && other.label != target.label
                        && (!same_items || other_items.is_superset(items))
                })
                .map(|(other, _)| *other)
                .collect()
        };
        let (severity, names) = match outclassed_everywhere(target, &rivals(true)) {
            Some(names) => (Severity::Error, names),
            None => match outclassed_everywhere(target, &rivals(false)) {
                Some(names) => (Severity::Warning, names),
                None => continue,
            },
        };
        let (first, last) = (target.points[0], target.points[target.points.len() - 1]);
        let value = if target.activity == Activity::Craft {
            "net value"
        } else {
            "value"
        };
        let why = match severity {
            Severity::Error => "they give every item it gives",
            Severity::Warning => "it is only worth doing for items they do not give",
        };
        findings.push(Finding {
            check: Check::NeverWorthIt,
            severity,
            subject: target.label.clone(),
            message: format!(
                "{} is outclassed at every level {}..={} (at least as much XP and {value} per \
                 hour, more of one) by {}; {why}",
                target.label,
                first.level,
                last.level,
                names.join(", ")
            ),
        });
    }
    findings
}

/// A figure read off a curve point.
type Figure = fn(&CurvePoint) -> f64;

/// Targets whose XP or value per hour falls from one level to the next.
pub fn falling_rewards(curves: &[Curve]) -> Vec<Finding> {
    let mut findings = Vec::new();
    for curve in curves {
        let figures: [(&str, Figure); 2] = [
            ("XP per hour", |p| p.xp_per_hour),
            ("value per hour", |p| p.value_per_hour),
        ];
        for (name, figure) in figures {
            let falls: Vec<(u32, f64, f64)> = curve
                .points
                .windows(2)
                .filter(|w| above(figure(&w[0]), figure(&w[1])))
                .map(|w| (w[1].level, figure(&w[0]), figure(&w[1])))
                .collect();
            if let Some((level, before, after)) = falls.first() {
                findings.push(Finding {
                    check: Check::FallingReward,
                    severity: Severity::Error,
                    subject: curve.label.clone(),
                    message: format!(
                        "{name} of {} falls from {before:.1} to {after:.1} at level {level}{}",
                        curve.label,
                        if falls.len() > 1 {
                            format!(" (and at {} more levels)", falls.len() - 1)
                        } else {
                            String::new()
                        }
                    ),
                });
            }
        }
    }
    findings
}

/// Rare drops whose pity lifts the rate beyond [`PITY_TOLERANCE`].
pub fn pity_distortion(catalog: &Catalog) -> Vec<Finding> {
    let mut findings = Vec::new();
    for (resource, def) in &catalog.resources {
        for drop in &def.rare_drops {
            let lift = pity_lift(drop.chance, drop.pity);
            if lift > PITY_TOLERANCE {
                findings.push(Finding {
                    check: Check::PityDistortion,
                    severity: Severity::Error,
                    subject: format!("{resource}:{}", drop.item),
                    message: format!(
                        "{} from {resource}: stated 1 in {:.1}, with pity {} it is 1 in {:.1}, \
                         {lift:.3}× the stated rate (tolerance {PITY_TOLERANCE}×)",
                        drop.item,
                        1.0 / drop.chance,
                        drop.pity,
                        actions_per_drop(drop.chance, drop.pity),
                    ),
                });
            }
        }
    }
    findings
}
