//! The catalog: every game parameter, loaded from a versioned data file and checked at load.
//!
//! The shipped catalog is embedded (`catalog/catalog.json`); [`Catalog::shipped`] parses and
//! checks it once. Designers can load another file with [`Catalog::from_json`], which applies the
//! same checks: an unknown reference, a negative or out-of-range value, or a probability outside
//! `[0, 1]` is a [`CatalogError`] naming the entry and the field.
//!
//! A catalog's identity is its [content hash](Catalog::content_hash); its `version` is a label.
//! Its JSON Schema ([`json_schema`]) is generated from these types and committed beside the
//! shipped file (`catalog/catalog.schema.json`), which refers to it with `$schema`.

mod check;
mod types;

use std::sync::OnceLock;

pub use check::CatalogError;
pub use types::*;

/// The catalog file compiled into the crate.
pub const SHIPPED_JSON: &str = include_str!("../../catalog/catalog.json");

/// The shipped catalog, once parsed ([`Catalog::shipped`]).
static SHIPPED: OnceLock<Catalog> = OnceLock::new();

/// A catalog's content hash: 64 lowercase hex digits of SHA-256 (see [`Catalog::content_hash`]).
pub type CatalogHash = String;

/// The JSON Schema (draft 2020-12) of a catalog file, generated from [`Catalog`]'s types: the
/// fields, their types, which are required, and that no other field is allowed. The ranges and
/// references that [`Catalog::from_json`] checks are not in it; the field docs state them.
pub fn json_schema() -> serde_json::Value {
    let mut schema = schemars::schema_for!(Catalog).to_value();
    schema["title"] = "Idle-game catalog".into();
    schema
}

impl Catalog {
    /// Parses and checks a catalog from its JSON text.
    ///
    /// A top-level `$schema` (the editor's reference to the schema) is accepted and cleared.
    ///
    /// # Errors
    /// [`CatalogError::Parse`] for text that is not a catalog (bad JSON, a misspelt or missing
    /// field, a value of the wrong type), naming the path of the field and the line;
    /// [`CatalogError::Invalid`] for a catalog that parses but breaks a rule, naming the entry
    /// and the field.
    ///
    /// Parses once without tracking the path (the cold start of every function parses the
    /// shipped catalog) and, only when that fails, again with `serde_path_to_error` to name it.
    pub fn from_json(text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog: Catalog = match serde_json::from_str(text) {
            Ok(catalog) => catalog,
            Err(_) => return Err(Catalog::parse_error(text)),
        };
        catalog.schema = None;
        check::check(&catalog)?;
        Ok(catalog)
    }

    /// The error of text that does not parse as a catalog, with the path of the field: the
    /// same parse tracking the path (slower, so only once the fast one has failed).
    fn parse_error(text: &str) -> CatalogError {
        let mut deserializer = serde_json::Deserializer::from_str(text);
        let parsed: Result<Catalog, _> = serde_path_to_error::deserialize(&mut deserializer);
        match parsed.map(|_| deserializer.end()) {
            Err(e) => CatalogError::Parse {
                path: e.path().to_string(),
                source: e.into_inner(),
            },
            Ok(Err(source)) => CatalogError::Parse {
                path: ".".to_owned(),
                source,
            },
            // Both parsers are serde_json's: what one refuses the other refuses.
            Ok(Ok(())) => CatalogError::Parse {
                path: ".".to_owned(),
                source: serde::de::Error::custom("the catalog does not parse"),
            },
        }
    }

    /// The catalog's identity: SHA-256 of its canonical JSON, as 64 lowercase hex digits.
    ///
    /// Canonical JSON is the catalog serialised from its types: maps in key order, fields in
    /// the types' order, no whitespace, `$schema` left out. So two files that differ only in
    /// layout, key order, `$schema` or an omitted field that has a default (`"speed": 0`) have
    /// the same hash, and any change to a value changes it. Costs one serialisation (about a
    /// millisecond for the shipped catalog): compute it once per catalog, as [`Game`] does.
    ///
    /// The shipped catalog's ([`Catalog::shipped`]) is computed once per process and kept.
    ///
    /// [`Game`]: crate::Game
    pub fn content_hash(&self) -> CatalogHash {
        static SHIPPED_HASH: OnceLock<CatalogHash> = OnceLock::new();
        match SHIPPED.get() {
            Some(shipped) if std::ptr::eq(self, shipped) => {
                SHIPPED_HASH.get_or_init(|| self.hash_canonical()).clone()
            }
            _ => self.hash_canonical(),
        }
    }

    fn hash_canonical(&self) -> CatalogHash {
        use sha2::{Digest, Sha256};
        let canonical = serde_json::to_vec(self).expect("a catalog always serialises");
        let digest = Sha256::digest(&canonical);
        let mut hex = String::with_capacity(64);
        for byte in digest {
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte >> 4)]));
            hex.push(char::from(b"0123456789abcdef"[usize::from(byte & 15)]));
        }
        hex
    }

    /// The catalog shipped with this build, parsed and checked on first use.
    ///
    /// # Panics
    /// Never at run time: a test loads the shipped file, so a broken file fails the build's tests.
    pub fn shipped() -> &'static Catalog {
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
