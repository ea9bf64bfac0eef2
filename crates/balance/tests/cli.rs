//! The `report` and `check` commands, run as a designer would.

use std::process::Command;

fn run(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_idle-balance"))
        .args(args)
        .output()
        .expect("the binary runs")
}

#[test]
fn check_passes_the_shipped_catalog_and_fails_a_generous_pity_with_exit_1() {
    let out = run(&["check"]);
    assert_eq!(out.status.code(), Some(0));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.trim_end().ends_with("warnings") && stdout.contains("0 errors"),
        "{stdout}"
    );

    let mut catalog: serde_json::Value =
        serde_json::from_str(idle_core::catalog::SHIPPED_JSON).unwrap();
    catalog["resources"]["copper_ore"]["rare_drops"][0]["pity"] = 300.into();
    let path = std::env::temp_dir().join(format!("idle-balance-pity-{}.json", std::process::id()));
    std::fs::write(&path, catalog.to_string()).unwrap();
    let out = run(&["check", "--catalog", path.to_str().unwrap()]);
    std::fs::remove_file(&path).ok();
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        stdout.contains("pity_distortion") && stdout.contains("copper_ore:sapphire"),
        "{stdout}"
    );
}

#[test]
fn a_catalog_that_is_not_a_catalog_is_an_error_with_exit_2() {
    let path = std::env::temp_dir().join(format!("idle-balance-bad-{}.json", std::process::id()));
    std::fs::write(&path, "{\"version\": 1}").unwrap();
    for command in ["check", "report"] {
        let out = run(&[command, "--catalog", path.to_str().unwrap()]);
        assert_eq!(out.status.code(), Some(2), "{command}");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(stderr.contains("is not usable"), "{stderr}");
    }
    std::fs::remove_file(&path).ok();
}

#[test]
fn report_writes_csv_and_a_chart() {
    let svg = std::env::temp_dir().join(format!("idle-balance-{}.svg", std::process::id()));
    let out = run(&[
        "report",
        "--level",
        "20",
        "--activity",
        "combat",
        "--tasks",
        "10",
        "--quantity",
        "5",
        "--format",
        "csv",
        "--svg",
        svg.to_str().unwrap(),
    ]);
    assert_eq!(out.status.code(), Some(0), "{out:?}");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.starts_with("activity,target,"));
    assert!(stdout.lines().skip(1).all(|l| l.starts_with("combat,")));
    let chart = std::fs::read_to_string(&svg).unwrap();
    assert!(chart.starts_with("<svg"));
    assert!(chart.contains("XP per hour"));
    std::fs::remove_file(&svg).ok();
}

#[test]
fn report_refuses_a_level_above_the_cap() {
    let out = run(&["report", "--level", "150"]);
    assert_eq!(out.status.code(), Some(2));
}
