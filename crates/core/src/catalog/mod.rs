//! The catalog: every game parameter, loaded from a versioned data file and checked at load.
//!
//! The shipped catalog is embedded (`catalog/catalog.json`); [`Catalog::shipped`] parses it
//! once, and checks it unless its text is the one the tests checked ([`SHIPPED_PIN`]).
//! Designers can load another file with [`Catalog::from_json`], which applies the same checks:
//! an unknown reference, a negative or out-of-range value, or a probability outside
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

/// The shipped text the tests checked and hashed: its fingerprint ([`fingerprint`]) and its
/// [content hash](Catalog::content_hash). While [`SHIPPED_JSON`]'s fingerprint is this one,
/// [`Catalog::shipped`] parses the text without checking it again and its content hash is this
/// one, with no serialisation and no SHA-256: two thirds of the instructions building the game
/// cost a cold start (docs/performance.md, "Fifth round"). An edited file has another
/// fingerprint and is checked and hashed as any file is, until the pin is updated (a test says
/// to what).
pub const SHIPPED_PIN: (u64, &str) = (
    0xbfd8_cd8c_4fa8_b727,
    "0db134f7c4acbad0cbcbe4d5e0b7608e1302304a59a8bf7f8d2dd5d213ffca55",
);

/// 64-bit FNV-1a of `bytes` (Fowler, Noll and Vo; the offset basis and prime of
/// <http://www.isthe.com/chongo/tech/comp/fnv/>): a `const fn`, so the shipped text's is
/// computed by the compiler. It tells an edited text from the pinned one, which is all it is
/// for: it is not a defence against someone who can edit the source (they can edit the pin).
pub const fn fingerprint(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    let mut i = 0;
    while i < bytes.len() {
        hash ^= bytes[i] as u64;
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
        i += 1;
    }
    hash
}

/// [`SHIPPED_JSON`] is the text [`SHIPPED_PIN`] was taken from.
const SHIPPED_IS_PINNED: bool = fingerprint(SHIPPED_JSON.as_bytes()) == SHIPPED_PIN.0;

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
        let catalog = Catalog::parse(text)?;
        check::check(&catalog)?;
        Ok(catalog)
    }

    /// [`Catalog::from_json`] without the checks.
    fn parse(text: &str) -> Result<Catalog, CatalogError> {
        let mut catalog: Catalog = match serde_json::from_str(text) {
            Ok(catalog) => catalog,
            Err(_) => return Err(Catalog::parse_error(text)),
        };
        catalog.schema = None;
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
    /// The shipped catalog's ([`Catalog::shipped`]) is [`SHIPPED_PIN`]'s while its text is the
    /// pinned one; else it is computed once per process and kept.
    ///
    /// [`Game`]: crate::Game
    pub fn content_hash(&self) -> CatalogHash {
        static SHIPPED_HASH: OnceLock<CatalogHash> = OnceLock::new();
        match SHIPPED.get() {
            Some(shipped) if std::ptr::eq(self, shipped) => {
                if SHIPPED_IS_PINNED {
                    return SHIPPED_PIN.1.to_owned();
                }
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

    /// The catalog shipped with this build, parsed on first use: checked as any file is, unless
    /// its text is the one the tests checked ([`SHIPPED_PIN`]).
    ///
    /// # Panics
    /// Never at run time: a test loads the shipped file, so a broken file fails the build's tests.
    pub fn shipped() -> &'static Catalog {
        SHIPPED.get_or_init(|| {
            let parsed = if SHIPPED_IS_PINNED {
                Catalog::parse(SHIPPED_JSON)
            } else {
                Catalog::from_json(SHIPPED_JSON)
            };
            parsed.expect("the shipped catalog is checked by its tests")
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
