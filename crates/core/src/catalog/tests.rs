use super::*;

fn shipped_value() -> serde_json::Value {
    serde_json::from_str(SHIPPED_JSON).unwrap()
}

/// Loads the shipped catalog after `edit` changed its JSON, and returns the error.
fn error_after(edit: impl FnOnce(&mut serde_json::Value)) -> String {
    let mut value = shipped_value();
    edit(&mut value);
    Catalog::from_json(&value.to_string())
        .expect_err("the edited catalog must be refused")
        .to_string()
}

#[test]
fn the_shipped_catalog_loads_and_has_the_promised_content() {
    let catalog = Catalog::shipped();
    assert!(catalog.version >= 1);
    assert!(catalog.resources.len() >= 6);
    assert!(catalog.locations.len() >= 3);
    assert!(catalog.recipes.len() >= 6);
    assert!(catalog.enemies.len() >= 6);
    let tools: Vec<&Gear> = catalog
        .items
        .values()
        .filter_map(|i| match &i.kind {
            ItemKind::Gear(g) if g.is_tool() => Some(g),
            _ => None,
        })
        .collect();
    let tiers: std::collections::BTreeSet<u32> = tools.iter().map(|g| g.tier).collect();
    assert!(
        tools.len() >= 4 && tiers.len() >= 4,
        "four tools of rising tier"
    );
    assert!(catalog.recipes.values().any(|r| r.station.is_some()));
    assert!(catalog.recipes.values().any(|r| r.station.is_none()));
    assert!(catalog.recipes.values().any(|r| r.quality));
    let rarities: std::collections::BTreeSet<Rarity> =
        catalog.enemies.values().map(|e| e.rarity).collect();
    assert!(rarities.contains(&Rarity::Common) && rarities.contains(&Rarity::Legendary));
    assert!(catalog.resources.values().any(|r| !r.rare_drops.is_empty()));
    assert!(catalog.enemies.values().all(|e| !e.loot.always.is_empty()));
    assert!(catalog
        .enemies
        .values()
        .any(|e| !e.loot.tertiary.is_empty()));
    assert!(catalog
        .gear("bronze_sword")
        .is_some_and(|g| g.slot == WEAPON_SLOT));
    assert!(catalog
        .gear("leather_body")
        .is_some_and(|g| g.slot == ARMOUR_SLOT));
}

#[test]
fn some_recipes_use_harvested_materials() {
    let catalog = Catalog::shipped();
    let harvested: std::collections::BTreeSet<&str> = catalog
        .resources
        .values()
        .map(|r| r.item.as_str())
        .collect();
    assert!(catalog
        .recipes
        .values()
        .any(|r| r.inputs.keys().any(|i| harvested.contains(i.as_str()))));
}

#[test]
fn an_unknown_item_reference_names_the_entry_and_field() {
    let err = error_after(|v| {
        v["recipes"]["bronze_bar"]["inputs"]["unobtainium"] = 1.into();
    });
    assert!(err.contains("recipes.bronze_bar"), "{err}");
    assert!(err.contains("inputs.unobtainium"), "{err}");
    assert!(err.contains("unknown item"), "{err}");
}

#[test]
fn a_probability_above_one_is_refused() {
    let err = error_after(|v| {
        v["resources"]["copper_ore"]["rare_drops"][0]["chance"] = 1.5.into();
    });
    assert!(err.contains("resources.copper_ore"), "{err}");
    assert!(err.contains("rare_drops[0].chance"), "{err}");
}

#[test]
fn a_negative_number_is_refused() {
    let err = error_after(|v| {
        v["locations"]["meadow"]["rare_bonus"] = (-0.5).into();
    });
    assert!(
        err.contains("locations.meadow") && err.contains("rare_bonus"),
        "{err}"
    );
    // Unsigned fields refuse negatives at parse time, naming the path.
    let err = error_after(|v| {
        v["enemies"]["cow"]["hitpoints"] = (-3).into();
    });
    assert!(err.contains("invalid value"), "{err}");
}

#[test]
fn a_difficulty_below_one_is_refused() {
    let err = error_after(|v| {
        v["enemies"]["goblin"]["difficulty"] = 0.5.into();
    });
    assert!(
        err.contains("enemies.goblin") && err.contains("difficulty"),
        "{err}"
    );
}

#[test]
fn unknown_stations_locations_and_tools_are_refused() {
    let err = error_after(|v| v["recipes"]["bronze_bar"]["station"] = "volcano".into());
    assert!(
        err.contains("recipes.bronze_bar") && err.contains("station"),
        "{err}"
    );
    let err = error_after(|v| v["locations"]["meadow"]["resources"]["moon_rock"] = 1.0.into());
    assert!(
        err.contains("locations.meadow") && err.contains("resources.moon_rock"),
        "{err}"
    );
    let err = error_after(|v| v["resources"]["oak_log"]["tool"] = "chainsaw".into());
    assert!(
        err.contains("resources.oak_log") && err.contains("tool"),
        "{err}"
    );
    let err = error_after(|v| v["enemies"]["troll"]["loot"]["tertiary"][0]["item"] = "gold".into());
    assert!(err.contains("loot.tertiary[0].item"), "{err}");
}

#[test]
fn a_misspelt_field_is_refused() {
    let err = error_after(|v| {
        let cow = v["enemies"]["cow"].as_object_mut().unwrap();
        cow.insert("hitpionts".into(), 5.into());
    });
    assert!(err.contains("hitpionts"), "{err}");
}

#[test]
fn a_missing_rarity_and_an_empty_min_max_range_are_refused() {
    let err = error_after(|v| {
        v["rarities"].as_object_mut().unwrap().remove("epic");
    });
    assert!(err.contains("rarities") && err.contains("epic"), "{err}");
    let err = error_after(|v| {
        v["enemies"]["cow"]["loot"]["always"][0]["min"] = 5.into();
    });
    assert!(
        err.contains("enemies.cow") && err.contains("loot.always[0]"),
        "{err}"
    );
}

#[test]
fn the_catalog_round_trips_through_json() {
    let catalog = Catalog::shipped();
    let text = serde_json::to_string(catalog).unwrap();
    assert_eq!(&Catalog::from_json(&text).unwrap(), catalog);
}

/// The pin is what the shipped text's checks and hash give today: a cold start that trusts it
/// skips nothing a process would have found.
#[test]
fn the_shipped_pin_is_the_fingerprint_and_hash_of_the_checked_shipped_text() {
    let checked = Catalog::from_json(SHIPPED_JSON).expect("the shipped catalog passes its checks");
    let now = (
        fingerprint(SHIPPED_JSON.as_bytes()),
        checked.hash_canonical(),
    );
    assert!(
        SHIPPED_PIN == (now.0, now.1.as_str()),
        "catalog/catalog.json changed: set SHIPPED_PIN in crates/core/src/catalog/mod.rs to \
         (0x{:016x}, \"{}\")",
        now.0,
        now.1
    );
    assert_eq!(Catalog::shipped().content_hash(), now.1);
    assert_eq!(Catalog::shipped(), &checked);
}

#[test]
fn the_fingerprint_is_fnv_1a() {
    // The published test vectors of 64-bit FNV-1a.
    assert_eq!(fingerprint(b""), 0xcbf2_9ce4_8422_2325);
    assert_eq!(fingerprint(b"a"), 0xaf63_dc4c_8601_ec8c);
    assert_eq!(fingerprint(b"foobar"), 0x8594_4171_f739_67e8);
}

#[test]
fn the_content_hash_ignores_layout_key_order_and_dollar_schema_but_not_values() {
    let shipped = Catalog::shipped();
    let hash = shipped.content_hash();
    assert_eq!(hash.len(), 64);
    assert!(hash
        .bytes()
        .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase()));
    // The shipped catalog's hash is kept after the first time; a copy's is computed afresh.
    assert_eq!(shipped.content_hash(), hash);
    assert_eq!(shipped.clone().content_hash(), hash);
    // Compact, without `$schema`: the same catalog, the same hash.
    let mut value = shipped_value();
    value.as_object_mut().unwrap().remove("$schema");
    let compact = Catalog::from_json(&value.to_string()).unwrap();
    assert_eq!(compact.content_hash(), hash);
    // One value changed: another hash.
    value["enemies"]["cow"]["xp"] = 999.into();
    let changed = Catalog::from_json(&value.to_string()).unwrap();
    assert_ne!(changed.content_hash(), hash);
    // The version is a label, but it is content too.
    let mut relabelled = shipped.clone();
    relabelled.version += 1;
    assert_ne!(relabelled.content_hash(), hash);
}

#[test]
fn text_after_the_catalog_is_refused_for_the_whole_file() {
    let err = Catalog::from_json(&format!("{SHIPPED_JSON} {{}}"))
        .expect_err("trailing text must be refused")
        .to_string();
    assert!(err.contains("does not parse at `.`"), "{err}");
    assert!(err.contains("trailing characters"), "{err}");
}

#[test]
fn a_field_that_does_not_parse_is_named_by_its_path() {
    let err = error_after(|v| v["enemies"]["cow"]["hitpoints"] = "many".into());
    assert!(err.contains("`enemies.cow.hitpoints`"), "{err}");
    let err = error_after(|v| {
        let cow = v["enemies"]["cow"].as_object_mut().unwrap();
        cow.insert("hitpionts".into(), 5.into());
    });
    assert!(err.contains("enemies.cow"), "{err}");
}

#[test]
fn dollar_schema_is_accepted_only_at_the_top() {
    let err = error_after(|v| {
        let cow = v["enemies"]["cow"].as_object_mut().unwrap();
        cow.insert("$schema".into(), "x".into());
    });
    assert!(err.contains("$schema"), "{err}");
}
