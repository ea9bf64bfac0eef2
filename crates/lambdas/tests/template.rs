//! `template.yaml` against the code it deploys: every parameter that reaches a function as a
//! setting has exactly the range the code accepts, so the stack refuses at deploy time what the
//! functions would refuse at start; and every SDK call times out well inside every function's
//! `Timeout`.
//!
//! The template is read as YAML with CloudFormation's short tags (`!Ref`, `!Sub`, …) kept as
//! tagged values.

use std::collections::BTreeMap;
use std::time::Duration;

use idle_app::config::{
    AppConfig, Bounded, Function, BOUNDED_SETTINGS, CATALOG_FILE, MIN_SECRET_BYTES, SEED_SECRET,
    TOKEN_SECRET,
};
use serde_norway::Value;

/// Variables the template sets that are not settings of `AppConfig`: the table names
/// (`idle_aws::Tables`) and the `@connections` endpoint (`idle_lambdas::bootstrap`).
const OTHER_VARIABLES: [&str; 5] = [
    "PLAYERS_TABLE",
    "TASKS_TABLE",
    "CONNECTIONS_TABLE",
    "NOTIFICATIONS_TABLE",
    "WS_ENDPOINT",
];

/// Numeric parameters that configure AWS resources only (no function reads them); AWS itself
/// refuses values outside its own ranges.
const AWS_ONLY_NUMBERS: [&str; 6] = [
    "LogRetentionDays",
    "StreamBatchSize",
    "StreamBatchingWindowSeconds",
    "StreamParallelization",
    "RouteThrottlingRateLimit",
    "RouteThrottlingBurstLimit",
];

fn template() -> Value {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../template.yaml");
    let text = std::fs::read_to_string(path).unwrap();
    serde_norway::from_str(&text).unwrap()
}

/// The parameter a `!Ref` names, if `value` is one.
fn reference(value: &Value) -> Option<&str> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str(),
        _ => None,
    }
}

/// A number written as a YAML number or a string.
fn number(value: &Value) -> Option<u64> {
    match value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.parse().ok(),
        _ => None,
    }
}

/// Every function's logical id with its environment (the `Globals` one merged under its own)
/// and its timeout in seconds (its own, else the `Globals` one).
fn functions(template: &Value) -> BTreeMap<String, (BTreeMap<String, Value>, u64)> {
    let globals = &template["Globals"]["Function"];
    let global_vars = globals["Environment"]["Variables"]
        .as_mapping()
        .cloned()
        .unwrap_or_default();
    let mut out = BTreeMap::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::Serverless::Function" {
            continue;
        }
        let properties = &resource["Properties"];
        let mut vars = BTreeMap::new();
        let own = properties["Environment"]["Variables"]
            .as_mapping()
            .cloned()
            .unwrap_or_default();
        for (name, value) in global_vars.iter().chain(own.iter()) {
            vars.insert(name.as_str().unwrap().to_owned(), value.clone());
        }
        let timeout = number(&properties["Timeout"])
            .or_else(|| number(&globals["Timeout"]))
            .unwrap_or_else(|| panic!("{id:?} has no Timeout"));
        out.insert(id.as_str().unwrap().to_owned(), (vars, timeout));
    }
    assert_eq!(out.len(), 6, "the six functions");
    out
}

/// `AppConfig`'s verdict on one value of one setting.
fn accepts(setting: Bounded, value: u64) -> bool {
    let value = value.to_string();
    AppConfig::from_lookup(Function::ConnectionCleaner, |name| {
        (name == setting.var).then(|| value.clone())
    })
    .is_ok()
}

#[test]
fn every_parameter_a_function_reads_has_exactly_the_codes_range() {
    let template = template();
    let parameters = &template["Parameters"];
    let mut checked = BTreeMap::<String, String>::new();

    for (function, (vars, _)) in functions(&template) {
        for (var, value) in vars {
            let at = format!("{function}: {var}");
            if let Some(setting) = BOUNDED_SETTINGS.iter().find(|s| s.var == var) {
                match reference(&value) {
                    Some(name) => {
                        let parameter = &parameters[name];
                        assert_eq!(parameter["Type"], "Number", "{at} <- {name}");
                        assert_eq!(
                            number(&parameter["MinValue"]),
                            Some(setting.min),
                            "{at} <- {name}: MinValue must be the code's minimum"
                        );
                        assert_eq!(
                            number(&parameter["MaxValue"]),
                            Some(setting.max),
                            "{at} <- {name}: MaxValue must be the code's maximum"
                        );
                        let default = number(&parameter["Default"]);
                        assert!(
                            default.is_some_and(|d| accepts(*setting, d)),
                            "{at} <- {name}: Default {default:?} is refused by the code"
                        );
                        checked.insert(var.clone(), name.to_owned());
                    }
                    None => {
                        let literal = number(&value);
                        assert!(
                            literal.is_some_and(|v| accepts(*setting, v)),
                            "{at} = {value:?} is refused by the code"
                        );
                        checked.insert(var.clone(), format!("{value:?}"));
                    }
                }
                // The parser agrees with the constants at both ends.
                assert!(accepts(*setting, setting.max) && !accepts(*setting, setting.max + 1));
                assert!(accepts(*setting, setting.min));
            } else if var == TOKEN_SECRET || var == SEED_SECRET {
                let name = reference(&value)
                    .unwrap_or_else(|| panic!("{at}: a secret must come from a parameter"));
                let parameter = &parameters[name];
                assert_eq!(parameter["Type"], "String", "{at} <- {name}");
                assert_eq!(parameter["NoEcho"], true, "{at} <- {name}");
                // MinLength counts characters; each is at least one byte, so 32 characters
                // are always at least MIN_SECRET_BYTES bytes.
                assert_eq!(
                    number(&parameter["MinLength"]),
                    Some(MIN_SECRET_BYTES as u64),
                    "{at} <- {name}: MinLength must be MIN_SECRET_BYTES"
                );
                checked.insert(var.clone(), name.to_owned());
            } else if var == CATALOG_FILE {
                let name = reference(&value)
                    .unwrap_or_else(|| panic!("{at}: the catalog file comes from a parameter"));
                let parameter = &parameters[name];
                assert_eq!(parameter["Type"], "String", "{at} <- {name}");
                // The default is the embedded catalog, which the code plays without a file.
                let default = parameter["Default"].as_str().map(str::to_owned);
                assert_eq!(default.as_deref(), Some(""), "{at} <- {name}");
                let config = AppConfig::from_lookup(Function::ConnectionCleaner, |n| {
                    (n == CATALOG_FILE).then(|| default.clone()).flatten()
                })
                .expect("the default catalog file is accepted");
                assert!(
                    config.catalog.file.is_none(),
                    "{at}: the default is embedded"
                );
                checked.insert(var.clone(), name.to_owned());
            } else {
                assert!(
                    OTHER_VARIABLES.contains(&var.as_str()),
                    "{at}: no code reads this variable (a typo?)"
                );
            }
        }
    }
    // Today the template sets these; each was checked above.
    for var in [
        "MAX_QUEUE",
        "MAX_QUANTITY",
        "WAKE_SHARDS",
        TOKEN_SECRET,
        SEED_SECRET,
        CATALOG_FILE,
    ] {
        assert!(checked.contains_key(var), "{var} not checked: {checked:?}");
    }

    // And no numeric parameter escapes: each feeds a checked setting or only AWS resources.
    for (name, parameter) in parameters.as_mapping().unwrap() {
        let name = name.as_str().unwrap();
        if parameter["Type"] == "Number" {
            assert!(
                checked.values().any(|p| p == name) || AWS_ONLY_NUMBERS.contains(&name),
                "numeric parameter {name} is neither checked against the code nor AWS-only"
            );
        }
    }
}

#[test]
fn every_sdk_call_times_out_well_inside_every_functions_timeout() {
    let template = template();
    assert!(idle_aws::CONNECT_TIMEOUT <= idle_aws::ATTEMPT_TIMEOUT);
    assert!(idle_aws::ATTEMPT_TIMEOUT <= idle_aws::OPERATION_TIMEOUT);
    for (function, (_, timeout)) in functions(&template) {
        let timeout = Duration::from_secs(timeout);
        // Half the function's time at most, so a function whose store hangs still has time
        // to answer (`unavailable`, a batch item failure) before Lambda stops it.
        assert!(
            idle_aws::OPERATION_TIMEOUT * 2 <= timeout,
            "{function}: Timeout {timeout:?} leaves no room after a {:?} SDK call",
            idle_aws::OPERATION_TIMEOUT
        );
    }
}
