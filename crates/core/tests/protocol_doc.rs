//! docs/protocol.md and the protocol types agree: every error code is documented, once, with
//! its wire name, and the wire names are the ones serde writes.

use idle_core::protocol::ErrorCode;

const DOC: &str = include_str!("../../../docs/protocol.md");

#[test]
fn every_error_code_serialises_as_its_name_and_the_names_are_distinct() {
    let mut names = std::collections::BTreeSet::new();
    for code in ErrorCode::ALL {
        assert_eq!(
            serde_json::to_value(code).unwrap(),
            serde_json::Value::from(code.as_str())
        );
        let back: ErrorCode = serde_json::from_value(code.as_str().into()).unwrap();
        assert_eq!(back, code);
        assert!(names.insert(code.as_str()), "{code} twice");
    }
}

#[test]
fn docs_protocol_md_documents_every_error_code_and_no_other() {
    // The error-code table: rows whose first cell is one or more `code`s.
    let section = DOC
        .split("### Error codes")
        .nth(1)
        .and_then(|rest| rest.split("\n## ").next())
        .expect("docs/protocol.md has an Error codes section");
    let documented: Vec<&str> = section
        .lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|line| line.split(" |").next())
        .flat_map(|cell| cell.split(", "))
        .map(|code| code.trim_matches('`'))
        .collect();
    let mut expected: Vec<&str> = ErrorCode::ALL.iter().map(|c| c.as_str()).collect();
    let mut found = documented.clone();
    expected.sort_unstable();
    found.sort_unstable();
    assert_eq!(found, expected, "documented: {documented:?}");
}
