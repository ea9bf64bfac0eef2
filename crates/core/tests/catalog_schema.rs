//! The committed JSON Schema of catalog files (`crates/core/catalog/catalog.schema.json`) is the
//! one the catalog's types generate, and the shipped catalog refers to it.
//!
//! After changing a catalog type, regenerate it with
//! `UPDATE_SCHEMA=1 cargo test -p idle-core --test catalog_schema` and commit the file.

use idle_core::catalog::{json_schema, Catalog, SHIPPED_JSON};

const SCHEMA_PATH: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/catalog/catalog.schema.json");

fn generated() -> String {
    let mut text = serde_json::to_string_pretty(&json_schema()).unwrap();
    text.push('\n');
    text
}

#[test]
fn the_committed_schema_is_the_one_the_types_generate() {
    let generated = generated();
    if std::env::var_os("UPDATE_SCHEMA").is_some() {
        std::fs::write(SCHEMA_PATH, &generated).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(SCHEMA_PATH).unwrap_or_default();
    assert!(
        committed == generated,
        "crates/core/catalog/catalog.schema.json does not match the catalog types; regenerate it \
         with `UPDATE_SCHEMA=1 cargo test -p idle-core --test catalog_schema` and commit it"
    );
}

#[test]
fn the_schema_allows_exactly_the_catalogs_top_level_fields_and_dollar_schema() {
    let schema = json_schema();
    assert_eq!(schema["additionalProperties"], false);
    let properties = schema["properties"].as_object().unwrap();
    assert!(
        properties.contains_key("$schema"),
        "editors may refer to it"
    );
    let shipped: serde_json::Value = serde_json::from_str(SHIPPED_JSON).unwrap();
    for key in shipped.as_object().unwrap().keys() {
        assert!(properties.contains_key(key), "{key} is not in the schema");
    }
    let required: Vec<&str> = schema["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert!(required.contains(&"items") && !required.contains(&"$schema"));
}

#[test]
fn the_shipped_catalog_refers_to_the_committed_schema_and_loads() {
    let shipped: serde_json::Value = serde_json::from_str(SHIPPED_JSON).unwrap();
    assert_eq!(shipped["$schema"], "./catalog.schema.json");
    // The loader accepts the reference and drops it: it is not part of the rules.
    assert_eq!(Catalog::shipped().schema, None);
}
