//! The worked example of docs/catalog.md, `docs/examples/studio-catalog.json`: it loads, passes
//! the balance checks, adds what the doc says it adds, and its new entries play and replay; the
//! doc's JSON snippets are exactly the file's entries.

use std::collections::BTreeMap;
use std::process::Command;

use idle_balance::check::{check, Severity};
use idle_balance::replay::replay;
use idle_core::catalog::Catalog;
use idle_core::model::{Millis, Player, Task, TaskRequest, TaskStatus};
use idle_core::{advance, enqueue, Enqueued, Game};
use serde_json::Value;

const STUDIO_PATH: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../docs/examples/studio-catalog.json"
);
const STUDIO: &str = include_str!("../../../docs/examples/studio-catalog.json");
const DOC: &str = include_str!("../../../docs/catalog.md");
const SECRET: &[u8] = b"studio-catalog-test-secret-0123456789";
const NOW: Millis = 1_800_000_000_000;

fn studio() -> &'static Catalog {
    Box::leak(Box::new(
        Catalog::from_json(STUDIO).expect("the example loads"),
    ))
}

#[test]
fn the_example_passes_the_balance_checks() {
    let findings = check(studio()).unwrap();
    let errors: Vec<_> = findings
        .iter()
        .filter(|f| f.severity == Severity::Error)
        .collect();
    assert!(errors.is_empty(), "{errors:#?}");
}

#[test]
fn the_balance_tool_checks_the_example_file_with_exit_code_0() {
    let output = Command::new(env!("CARGO_BIN_EXE_idle-balance"))
        .args(["check", "--catalog", STUDIO_PATH])
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("0 errors"), "{stdout}");
}

#[test]
fn the_example_adds_a_resource_a_recipe_and_an_enemy_the_shipped_catalog_lacks() {
    let (studio, shipped) = (studio(), Catalog::shipped());
    assert!(studio.resources.contains_key("clay") && !shipped.resources.contains_key("clay"));
    assert!(studio.locations["riverbank"].resources.contains_key("clay"));
    assert!(studio.recipes.contains_key("clay_brick"));
    assert!(!shipped.recipes.contains_key("clay_brick"));
    assert!(studio.enemies.contains_key("giant_rat"));
    assert!(!shipped.enemies.contains_key("giant_rat"));
    // Everything else is the shipped catalog's: the example only adds.
    for id in shipped.items.keys() {
        assert_eq!(studio.items.get(id), shipped.items.get(id), "{id}");
    }
    assert_ne!(studio.content_hash(), shipped.content_hash());
}

/// A new player of the studio catalog, with plans applied as the store would.
struct World {
    game: Game<'static>,
    player: Player,
    tasks: Vec<Task>,
}

impl World {
    fn run(&mut self, request: TaskRequest, at: Millis) -> Task {
        let request_id = format!("r{}", self.tasks.len());
        let Enqueued::New { task_id, plan } = enqueue(
            &self.game,
            &self.player,
            &self.tasks,
            &request_id,
            &request,
            false,
            false,
            at,
        )
        .expect("the request is valid") else {
            panic!("not a duplicate")
        };
        self.player = plan.player_after(&self.player).clone();
        plan.apply_to_tasks(&mut self.tasks);
        for later in [at, at + 86_400_000] {
            let plan = advance(&self.game, &self.player, &self.tasks, later);
            self.player = plan.player_after(&self.player).clone();
            plan.apply_to_tasks(&mut self.tasks);
        }
        self.tasks
            .iter()
            .find(|t| t.task_id == task_id)
            .cloned()
            .unwrap()
    }
}

#[test]
fn each_new_entry_plays_for_a_new_player_and_replays_exactly() {
    let catalog = studio();
    let mut world = World {
        game: Game::new(catalog, SECRET),
        player: Player::new("designer", NOW, catalog, 10),
        tasks: Vec::new(),
    };
    let requests = [
        TaskRequest::Harvest {
            resource: "clay".into(),
            location: "riverbank".into(),
            quantity: 10,
            repeat: None,
        },
        TaskRequest::Craft {
            recipe: "clay_brick".into(),
            quantity: 2,
            repeat: None,
        },
        TaskRequest::Combat {
            enemy: "giant_rat".into(),
            quantity: 5,
            repeat: None,
        },
    ];
    let mut at = NOW;
    let mut gained = BTreeMap::new();
    for request in requests {
        let task = world.run(request, at);
        at += 2 * 86_400_000;
        assert_eq!(task.status, TaskStatus::Completed, "{task:?}");
        assert_eq!(task.catalog_hash, Some(catalog.content_hash()));
        assert!(replay(&task, SECRET, catalog).unwrap().matches());
        let outcome = &task.result.unwrap().outcome;
        for (item, units) in &outcome.items {
            *gained.entry(item.clone()).or_insert(0u64) += units;
        }
    }
    assert!(gained.get("clay").is_some_and(|n| *n >= 4), "{gained:?}");
    assert!(gained.contains_key("bones"), "{gained:?}");
}

/// Every ` ```json ` block of docs/catalog.md is a fragment of the example file: each of its
/// values is the file's value at the same path.
#[test]
fn the_docs_snippets_are_the_example_files_entries() {
    let file: Value = serde_json::from_str(STUDIO).unwrap();
    let blocks: Vec<&str> = DOC
        .split("```json\n")
        .skip(1)
        .map(|rest| rest.split("```").next().unwrap())
        .collect();
    assert!(blocks.len() >= 3, "the doc shows the three additions");
    for block in blocks {
        let snippet: Value = serde_json::from_str(block)
            .unwrap_or_else(|e| panic!("a snippet is not JSON ({e}):\n{block}"));
        assert_fragment("", &snippet, &file);
    }
}

fn assert_fragment(path: &str, snippet: &Value, file: &Value) {
    match snippet {
        Value::Object(map) => {
            for (key, value) in map {
                let inner = file.get(key).unwrap_or_else(|| {
                    panic!("docs/catalog.md shows {path}.{key}, which the example lacks")
                });
                assert_fragment(&format!("{path}.{key}"), value, inner);
            }
        }
        _ => assert_eq!(
            snippet, file,
            "docs/catalog.md and the example differ at {path}"
        ),
    }
}
