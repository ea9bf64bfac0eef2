//! What rewards are worth: item `value` in coins times the quality tier's multiplier.

use idle_core::catalog::Catalog;
use idle_core::model::parse_item_key;
use idle_core::rules::Outcome;

/// Coins one unit of an inventory key (`item` or `item@quality`) is worth.
pub fn unit_value(key: &str, catalog: &Catalog) -> f64 {
    let (item, quality) = parse_item_key(key, catalog);
    let value = catalog.item(item).map_or(0.0, |i| f64::from(i.value));
    value * quality_multiplier(quality, catalog)
}

/// The value multiplier of a quality tier (1 for an unknown tier).
pub fn quality_multiplier(tier: u8, catalog: &Catalog) -> f64 {
    catalog.quality(tier).map_or(1.0, |q| q.multiplier)
}

/// Coins an outcome's items and stations are worth.
pub fn outcome_value(outcome: &Outcome, catalog: &Catalog) -> f64 {
    let items: f64 = outcome
        .items
        .iter()
        .map(|(key, units)| unit_value(key, catalog) * *units as f64)
        .sum();
    let stations: f64 = outcome
        .stations
        .iter()
        .map(|s| unit_value(s, catalog))
        .sum();
    // An empty f64 sum is −0.0; adding +0.0 keeps "nothing" printing as 0.
    items + stations + 0.0
}

/// Units an outcome grants, stations included.
pub fn outcome_units(outcome: &Outcome) -> f64 {
    outcome.items.values().map(|u| *u as f64).sum::<f64>() + outcome.stations.len() as f64 + 0.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quality_raises_the_value_of_a_unit() {
        let catalog = Catalog::shipped();
        assert_eq!(unit_value("iron_sword", catalog), 70.0);
        assert!((unit_value("iron_sword@masterwork", catalog) - 105.0).abs() < 1e-9);
        assert_eq!(unit_value("no_such_item", catalog), 0.0);
    }
}
