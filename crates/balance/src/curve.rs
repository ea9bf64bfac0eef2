//! Reward curves: each target's closed-form rewards per hour at every level from 1 to the cap.

use serde::Serialize;

use idle_core::catalog::Catalog;
use idle_core::model::{Activity, TaskRequest};
use idle_core::rules::RulesError;

use crate::expect::expect;
use crate::profile::{target_label, targets, Profile};

/// One target's rewards per hour by level.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Curve {
    /// The activity of the target.
    pub activity: Activity,
    /// `resource (location)`, or the recipe or enemy id.
    pub label: String,
    /// The target, as a request of one action.
    #[serde(skip)]
    pub request: TaskRequest,
    /// One point per level at which a player can do the target, rising levels.
    pub points: Vec<CurvePoint>,
}

/// The closed-form rewards of a target at one level, with the best gear for that level.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct CurvePoint {
    /// Character and skill level.
    pub level: u32,
    /// Chance one action succeeds.
    pub success_chance: f64,
    /// Expected XP per hour.
    pub xp_per_hour: f64,
    /// Expected value per hour, in coins.
    pub value_per_hour: f64,
    /// Value per hour less the materials used up (crafting's value added).
    pub net_value_per_hour: f64,
}

/// The curves of every target of the catalog, in catalog order.
pub fn curves(catalog: &Catalog) -> Result<Vec<Curve>, RulesError> {
    let profiles: Vec<Profile> = (1..=catalog.rules.max_level.max(1))
        .map(|level| Profile::at_level(level, catalog))
        .collect();
    targets(catalog, 1)
        .into_iter()
        .map(|request| {
            let mut points = Vec::new();
            for profile in profiles.iter().filter(|p| p.can_do(&request, catalog)) {
                let e = expect(profile, &request, catalog)?;
                points.push(CurvePoint {
                    level: profile.level,
                    success_chance: e.success_chance,
                    xp_per_hour: e.xp_per_hour(),
                    value_per_hour: e.value_per_hour(),
                    net_value_per_hour: e.net_value_per_hour(),
                });
            }
            Ok(Curve {
                activity: request.activity(),
                label: target_label(&request),
                request,
                points,
            })
        })
        .collect()
}

impl Curve {
    /// The point at a level, if the target can be done there.
    pub fn at(&self, level: u32) -> Option<&CurvePoint> {
        self.points
            .binary_search_by_key(&level, |p| p.level)
            .ok()
            .map(|i| &self.points[i])
    }
}

/// The activities, in report order.
pub const ACTIVITIES: [Activity; 3] = [Activity::Harvest, Activity::Craft, Activity::Combat];

/// For one activity, the best figure of any target at each level, with that target's label.
pub fn best_by_level(
    curves: &[Curve],
    activity: Activity,
    figure: impl Fn(&CurvePoint) -> f64,
) -> Vec<(u32, f64, &str)> {
    let mut best: Vec<(u32, f64, &str)> = Vec::new();
    for curve in curves.iter().filter(|c| c.activity == activity) {
        for point in &curve.points {
            let value = figure(point);
            match best.iter_mut().find(|(level, ..)| *level == point.level) {
                Some(entry) if value > entry.1 => *entry = (point.level, value, &curve.label),
                Some(_) => {}
                None => best.push((point.level, value, &curve.label)),
            }
        }
    }
    best.sort_by_key(|(level, ..)| *level);
    best
}
