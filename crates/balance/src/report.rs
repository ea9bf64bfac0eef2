//! The balance report: closed form and Monte Carlo side by side, for every target and profile.

use serde::Serialize;

use idle_core::catalog::Catalog;
use idle_core::model::{Activity, TaskRequest};
use idle_core::rules::RulesError;

use crate::expect::{expect, Expectation};
use crate::profile::{targets, Profile};
use crate::simulate::{simulate, Simulation};

/// How far Monte Carlo may stray from the closed form, in standard errors, before a row is
/// flagged. At 4 a correct row is flagged about once in 16,000 comparisons.
pub const DEFAULT_TOLERANCE_SE: f64 = 4.0;

/// What to report on.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportOptions {
    /// Profiles to report for.
    pub profiles: Vec<Profile>,
    /// Simulated tasks per row.
    pub tasks: u32,
    /// Actions per task.
    pub quantity: u32,
    /// Only this activity, if set.
    pub activity: Option<Activity>,
    /// Flag rows whose Monte Carlo strays further than this many standard errors.
    pub tolerance_se: f64,
}

/// One target for one profile.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Row {
    /// The activity of the target.
    pub activity: Activity,
    /// Resource, recipe or enemy id.
    pub target: String,
    /// The location, for harvesting.
    pub location: Option<String>,
    /// The profile's level.
    pub level: u32,
    /// The gear the task uses.
    pub gear: Vec<String>,
    /// Expected XP per hour (closed form).
    pub xp_per_hour: f64,
    /// Expected units per hour (closed form).
    pub items_per_hour: f64,
    /// Expected value per hour in coins (closed form).
    pub value_per_hour: f64,
    /// Value per hour less the materials used up (differs from value for crafting only).
    pub net_value_per_hour: f64,
    /// The closed form, per action and per task.
    pub expected: Expectation,
    /// The Monte Carlo run of the real rules.
    pub simulated: Simulation,
    /// Closed form against Monte Carlo, figure by figure.
    pub comparisons: Vec<Comparison>,
    /// True when every comparison is within the tolerance.
    pub agrees: bool,
}

impl Row {
    /// The largest distance between closed form and Monte Carlo, in standard errors.
    pub fn worst_z(&self) -> f64 {
        self.comparisons.iter().map(|c| c.z).fold(0.0, f64::max)
    }

    /// `resource (location)`, or the recipe or enemy id.
    pub fn label(&self) -> String {
        match &self.location {
            Some(location) => format!("{} ({location})", self.target),
            None => self.target.clone(),
        }
    }
}

/// One figure, closed form against Monte Carlo.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// `success_rate`, `xp_per_task`, `items_per_task` or `value_per_task`.
    pub figure: &'static str,
    /// The closed-form figure.
    pub expected: f64,
    /// The Monte Carlo figure.
    pub simulated: f64,
    /// Standard error of the simulated figure.
    pub std_error: f64,
    /// `|simulated − expected| / std_error` (0 or ∞ when the figure does not vary).
    pub z: f64,
}

impl Comparison {
    fn new(figure: &'static str, expected: f64, simulated: f64, std_error: f64) -> Comparison {
        let gap = (simulated - expected).abs();
        let z = if std_error > 0.0 {
            gap / std_error
        } else if gap <= 1e-9 * expected.abs().max(1.0) {
            0.0
        } else {
            f64::INFINITY
        };
        Comparison {
            figure,
            expected,
            simulated,
            std_error,
            z,
        }
    }
}

/// `√(variance / n)`, 0 for no samples.
fn standard_error(variance: f64, n: u64) -> f64 {
    if n == 0 {
        0.0
    } else {
        (variance.max(0.0) / n as f64).sqrt()
    }
}

/// Builds the report: every target each profile can do, in catalog order, profile by profile.
pub fn report(catalog: &Catalog, options: &ReportOptions) -> Result<Vec<Row>, RulesError> {
    let mut rows = Vec::new();
    for profile in &options.profiles {
        for request in targets(catalog, options.quantity) {
            if options.activity.is_some_and(|a| a != request.activity()) {
                continue;
            }
            if !profile.can_do(&request, catalog) {
                continue;
            }
            rows.push(row(
                profile,
                &request,
                catalog,
                options.tasks,
                options.tolerance_se,
            )?);
        }
    }
    Ok(rows)
}

/// One row: the closed form, a Monte Carlo of `tasks` tasks, and their comparison.
pub fn row(
    profile: &Profile,
    request: &TaskRequest,
    catalog: &Catalog,
    tasks: u32,
    tolerance_se: f64,
) -> Result<Row, RulesError> {
    let expected = expect(profile, request, catalog)?;
    let simulated = simulate(profile, request, catalog, tasks)?;
    let s = expected.success_chance;
    // Each action is one independent draw of success, so its error is known exactly.
    let success_se = standard_error(s * (1.0 - s), simulated.actions);
    // Per-task errors: the simulation's own, but never below what the closed form says one
    // task must vary by (a simulation can miss a rare event and see no variation at all).
    let task_floor = |per_action: f64| {
        standard_error(
            per_action * f64::from(request.quantity()),
            u64::from(simulated.tasks),
        )
    };
    let comparisons = vec![
        Comparison::new("success_rate", s, simulated.success_rate(), success_se),
        Comparison::new(
            "xp_per_task",
            expected.task.xp,
            simulated.xp.mean,
            simulated.xp.std_error.max(task_floor(expected.variance.xp)),
        ),
        Comparison::new(
            "items_per_task",
            expected.task.items,
            simulated.items.mean,
            simulated
                .items
                .std_error
                .max(task_floor(expected.variance.items_floor)),
        ),
        Comparison::new(
            "value_per_task",
            expected.task.value,
            simulated.value.mean,
            simulated
                .value
                .std_error
                .max(task_floor(expected.variance.value_floor)),
        ),
    ];
    let agrees = comparisons.iter().all(|c| c.z <= tolerance_se);
    let location = match request {
        TaskRequest::Harvest { location, .. } => Some(location.clone()),
        _ => None,
    };
    Ok(Row {
        activity: request.activity(),
        target: request.target().to_owned(),
        location,
        level: profile.level,
        gear: profile.gear_used(request, catalog),
        xp_per_hour: expected.xp_per_hour(),
        items_per_hour: expected.items_per_hour(),
        value_per_hour: expected.value_per_hour(),
        net_value_per_hour: expected.net_value_per_hour(),
        expected,
        simulated,
        comparisons,
        agrees,
    })
}
