//! AWS limits and orderings as AWS documents them, in every comment and doc of the project.
//!
//! Statements once written wrongly here, and what AWS says instead:
//! - DynamoDB Streams and Lambda keep records in order per *item* (partition and sort key), not
//!   per partition key (DynamoDB Developer Guide, "Change data capture for DynamoDB Streams";
//!   AWS Lambda Developer Guide, "Using AWS Lambda with Amazon DynamoDB"). On the Tasks table an
//!   item is one task, so two tasks of one player may be processed out of order or at once.
//! - TTL deletes expired items typically within a few days, not a fixed 48 hours or two days
//!   (DynamoDB Developer Guide, "Time to Live (TTL)").
//!
//! The test scans the template, the README, `docs/` and every Rust source for those phrasings.

use std::path::{Path, PathBuf};

/// Phrasings of the wrong statements (compared in lower case, whitespace collapsed).
const WRONG: [(&str, &str); 6] = [
    (
        "orders by partition key",
        "order is per item (partition and sort key)",
    ),
    (
        "in order by partition key",
        "order is per item (partition and sort key)",
    ),
    (
        "order per partition key",
        "order is per item (partition and sort key)",
    ),
    ("lags up to 48", "TTL deletes typically within a few days"),
    ("up to two days", "TTL deletes typically within a few days"),
    ("within 48 hours", "TTL deletes typically within a few days"),
];

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// Every file to check: `template.yaml`, `README.md`, `docs/*.md`, `events/README.md` and the
/// Rust sources under `crates/` (this file aside: it quotes the wrong phrasings).
fn files() -> Vec<PathBuf> {
    let root = root();
    let mut files = vec![
        root.join("template.yaml"),
        root.join("README.md"),
        root.join("events/README.md"),
    ];
    for entry in std::fs::read_dir(root.join("docs")).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "md") {
            files.push(path);
        }
    }
    let mut dirs = vec![root.join("crates")];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            let name = path.file_name().unwrap().to_string_lossy().into_owned();
            if path.is_dir() {
                if name != "target" && name != "node_modules" && !name.starts_with('.') {
                    dirs.push(path);
                }
            } else if name.ends_with(".rs") && !path.ends_with("lambdas/tests/aws_facts.rs") {
                files.push(path);
            }
        }
    }
    files
}

#[test]
fn no_comment_or_doc_states_the_aws_orderings_and_ttl_that_aws_does_not_document() {
    let root = root();
    let files = files();
    assert!(files.len() > 50, "found only {} files", files.len());
    let mut found = Vec::new();
    for file in &files {
        let text = std::fs::read_to_string(file).unwrap();
        // Comments wrap lines: collapse whitespace (and comment markers) before matching.
        let flat = text
            .lines()
            .map(|l| l.trim().trim_start_matches(['/', '!', '#']).trim())
            .collect::<Vec<_>>()
            .join(" ")
            .to_lowercase();
        for (wrong, right) in WRONG {
            if flat.contains(wrong) {
                found.push(format!(
                    "{}: says \"{wrong}\"; AWS documents that {right}",
                    file.strip_prefix(&root).unwrap_or(file).display()
                ));
            }
        }
    }
    assert!(found.is_empty(), "{}", found.join("\n"));
}
