//! The catalog: every game parameter, loaded from a versioned data file and checked at load.
//!
//! The shipped catalog is embedded (`catalog/catalog.json`); [`Catalog::shipped`] parses and
//! checks it once. Designers can load another file with [`Catalog::from_json`], which applies the
//! same checks: an unknown reference, a negative or out-of-range value, or a probability outside
//! `[0, 1]` is a [`CatalogError`] naming the entry and the field.

mod check;
mod types;

use std::sync::OnceLock;

pub use check::CatalogError;
pub use types::*;

/// The catalog file compiled into the crate.
pub const SHIPPED_JSON: &str = include_str!("../../catalog/catalog.json");

impl Catalog {
    /// Parses and checks a catalog from its JSON text.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let catalog: Catalog = serde_json::from_str(text).map_err(CatalogError::Parse)?;
        check::check(&catalog)?;
        Ok(catalog)
    }

    /// The catalog shipped with this build, parsed and checked on first use.
    ///
    /// # Panics
    /// Never at run time: a test loads the shipped file, so a broken file fails the build's tests.
    pub fn shipped() -> &'static Catalog {
        static SHIPPED: OnceLock<Catalog> = OnceLock::new();
        SHIPPED.get_or_init(|| {
            Catalog::from_json(SHIPPED_JSON).expect("the shipped catalog is checked by its tests")
        })
    }

    /// Looks up an item definition.
    pub fn item(&self, id: &str) -> Option<&ItemDef> {
        self.items.get(id)
    }

    /// The gear stats of an item, if it is gear.
    pub fn gear(&self, id: &str) -> Option<&Gear> {
        match &self.items.get(id)?.kind {
            ItemKind::Gear(gear) => Some(gear),
            _ => None,
        }
    }

    /// The reward multiplier for an enemy rarity.
    pub fn rarity_multiplier(&self, rarity: Rarity) -> f64 {
        self.rarities.get(&rarity).copied().unwrap_or(1.0)
    }

    /// The quality tier with this index (0 is normal).
    pub fn quality(&self, tier: u8) -> Option<&QualityTier> {
        self.quality_tiers.get(usize::from(tier))
    }
}

#[cfg(test)]
mod tests;
