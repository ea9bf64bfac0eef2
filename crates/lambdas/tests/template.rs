//! `template.yaml` against the code it deploys: every parameter that reaches a function as a
//! setting has exactly the range the code accepts, so the stack refuses at deploy time what the
//! functions would refuse at start; every SDK call times out well inside every function's
//! `Timeout`; the Players stream and the wake queue reach `task-processor` as the code expects
//! (filtered to writes with an outbox, partial batch responses, a dead-letter queue); and only
//! `task-processor` touches SQS.
//!
//! The template is read as YAML with CloudFormation's short tags (`!Ref`, `!Sub`, …) kept as
//! tagged values.

use std::collections::BTreeMap;
use std::time::Duration;

use idle_app::config::{
    AppConfig, Bounded, Function, BOUNDED_SETTINGS, CATALOG_FILE, MIN_SECRET_BYTES,
    PREVIOUS_TOKEN_SECRET, SEED_SECRET, TOKEN_SECRET, WAKE_QUEUE_URL,
};
use serde_norway::Value;

/// Variables the template sets that are neither bounded settings nor secrets: the table names
/// (`idle_aws::Tables`, and the catalog store's `idle_aws::CATALOGS_TABLE_VAR`), the
/// `@connections` endpoint (`idle_lambdas::bootstrap`) and the wake queue
/// (`AppConfig::wake_queue_url`).
const OTHER_VARIABLES: [&str; 7] = [
    idle_aws::CATALOGS_TABLE_VAR,
    "PLAYERS_TABLE",
    "TASKS_TABLE",
    "CONNECTIONS_TABLE",
    "NOTIFICATIONS_TABLE",
    "WS_ENDPOINT",
    WAKE_QUEUE_URL,
];

/// Numeric parameters that configure AWS resources only (no function reads them); AWS itself
/// refuses values outside its own ranges.
const AWS_ONLY_NUMBERS: [&str; 7] = [
    "BudgetMonthlyUsd",
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
            } else if var == PREVIOUS_TOKEN_SECRET {
                let name = reference(&value)
                    .unwrap_or_else(|| panic!("{at}: a secret must come from a parameter"));
                let parameter = &parameters[name];
                assert_eq!(parameter["Type"], "String", "{at} <- {name}");
                assert_eq!(parameter["NoEcho"], true, "{at} <- {name}");
                // No rotation by default: the code reads an empty value as none.
                assert_eq!(parameter["Default"], "", "{at} <- {name}");
                let config = AppConfig::from_lookup(Function::ConnectionCleaner, |n| {
                    (n == PREVIOUS_TOKEN_SECRET).then(String::new)
                })
                .expect("the empty default is accepted");
                assert!(config.previous_token_secret.is_none());
                // Empty, or as long as the code requires of any secret.
                assert_eq!(
                    parameter["AllowedPattern"].as_str(),
                    Some(format!("^$|^.{{{MIN_SECRET_BYTES},}}$").as_str()),
                    "{at} <- {name}: empty or at least MIN_SECRET_BYTES characters"
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
        "WAKE_BUCKET_SECS",
        TOKEN_SECRET,
        PREVIOUS_TOKEN_SECRET,
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

/// The resource an `!GetAtt X.Attr` or `!Ref X` names, with the attribute (`""` for a `!Ref`).
fn target(value: &Value) -> Option<(&str, &str)> {
    match value {
        Value::Tagged(tagged) if tagged.tag == "GetAtt" => {
            tagged.value.as_str().and_then(|s| s.split_once('.'))
        }
        Value::Tagged(tagged) if tagged.tag == "Ref" => tagged.value.as_str().map(|s| (s, "")),
        _ => None,
    }
}

fn events_of<'t>(template: &'t Value, function: &str, kind: &str) -> Vec<&'t Value> {
    template["Resources"][function]["Properties"]["Events"]
        .as_mapping()
        .unwrap_or_else(|| panic!("{function} has Events"))
        .values()
        .filter(|event| event["Type"] == kind)
        .map(|event| &event["Properties"])
        .collect()
}

fn reports_batch_item_failures(properties: &Value) -> bool {
    properties["FunctionResponseTypes"]
        .as_sequence()
        .is_some_and(|types| types.iter().any(|t| t == "ReportBatchItemFailures"))
}

#[test]
fn the_players_stream_reaches_the_processor_only_for_writes_with_an_outbox() {
    let template = template();
    let resources = &template["Resources"];
    assert_eq!(
        resources["PlayersTable"]["Properties"]["StreamSpecification"]["StreamViewType"],
        "NEW_IMAGE"
    );
    assert!(
        resources["TasksTable"]["Properties"]
            .get("StreamSpecification")
            .is_none(),
        "the history has no stream: nothing reads it"
    );

    let streams = events_of(&template, "TaskProcessorFunction", "DynamoDB");
    assert_eq!(streams.len(), 1, "one stream event source");
    let stream = streams[0];
    assert_eq!(
        target(&stream["Stream"]),
        Some(("PlayersTable", "StreamArn"))
    );
    // The filter keeps exactly the images with the numeric `outbox` marker: the attribute
    // DynamoStore::commit writes only when there is something to perform.
    let filters = stream["FilterCriteria"]["Filters"].as_sequence().unwrap();
    assert_eq!(filters.len(), 1);
    let pattern: serde_json::Value =
        serde_json::from_str(filters[0]["Pattern"].as_str().unwrap()).unwrap();
    assert_eq!(
        pattern,
        serde_json::json!({"dynamodb": {"NewImage": {"outbox": {"N": [{"exists": true}]}}}})
    );
    assert!(reports_batch_item_failures(stream));
    assert_eq!(stream["BisectBatchOnFunctionError"], true);
    assert!(number(&stream["MaximumRetryAttempts"]).is_some_and(|n| n > 0));
    assert!(number(&stream["MaximumRecordAgeInSeconds"]).is_some());
    assert_eq!(
        target(&stream["DestinationConfig"]["OnFailure"]["Destination"]),
        Some(("TaskProcessorFailureQueue", "Arn"))
    );
    for (key, parameter) in [
        ("BatchSize", "StreamBatchSize"),
        (
            "MaximumBatchingWindowInSeconds",
            "StreamBatchingWindowSeconds",
        ),
        ("ParallelizationFactor", "StreamParallelization"),
    ] {
        assert_eq!(reference(&stream[key]), Some(parameter), "{key}");
    }
}

#[test]
fn the_wake_queue_feeds_the_processor_with_a_dead_letter_queue_and_a_long_enough_visibility() {
    let template = template();
    let resources = &template["Resources"];
    let queue = &resources["WakeQueue"]["Properties"];
    assert_eq!(resources["WakeQueue"]["Type"], "AWS::SQS::Queue");
    assert_eq!(resources["WakeDeadLetterQueue"]["Type"], "AWS::SQS::Queue");
    for name in ["WakeQueue", "WakeDeadLetterQueue"] {
        assert_eq!(
            resources[name]["Properties"]["SqsManagedSseEnabled"], true,
            "{name} is encrypted"
        );
    }
    assert_eq!(
        target(&queue["RedrivePolicy"]["deadLetterTargetArn"]),
        Some(("WakeDeadLetterQueue", "Arn"))
    );
    let receives = number(&queue["RedrivePolicy"]["maxReceiveCount"]).unwrap();
    assert!((2..=10).contains(&receives), "maxReceiveCount {receives}");

    let (vars, timeout) = &functions(&template)["TaskProcessorFunction"];
    let visibility = number(&queue["VisibilityTimeout"]).unwrap();
    assert!(
        visibility >= 6 * timeout,
        "VisibilityTimeout {visibility} s must be at least six times the consumer's {timeout} s"
    );
    assert_eq!(
        vars.get(WAKE_QUEUE_URL).and_then(target),
        Some(("WakeQueue", ""))
    );

    let sqs = events_of(&template, "TaskProcessorFunction", "SQS");
    assert_eq!(sqs.len(), 1, "one SQS event source");
    let wake = sqs[0];
    assert_eq!(target(&wake["Queue"]), Some(("WakeQueue", "Arn")));
    assert!(reports_batch_item_failures(wake));
    assert!(number(&wake["BatchSize"]).is_some_and(|n| (1..=10).contains(&n)));
    assert!(
        number(&wake["MaximumBatchingWindowInSeconds"]).unwrap_or(0) == 0,
        "a wake-up is due now: no batching window"
    );
}

/// Every (role, action, resource) the roles' inline policies allow.
fn grants(template: &Value) -> Vec<(String, String, Value)> {
    let mut out = Vec::new();
    for (id, resource) in template["Resources"].as_mapping().unwrap() {
        if resource["Type"] != "AWS::IAM::Role" {
            continue;
        }
        let role = id.as_str().unwrap().to_owned();
        for policy in resource["Properties"]["Policies"].as_sequence().unwrap() {
            for statement in policy["PolicyDocument"]["Statement"].as_sequence().unwrap() {
                assert_eq!(
                    statement["Effect"], "Allow",
                    "{role}: only Allow statements"
                );
                let resources = match &statement["Resource"] {
                    Value::Sequence(list) => list.clone(),
                    one => vec![one.clone()],
                };
                for action in statement["Action"].as_sequence().unwrap() {
                    for resource in &resources {
                        let action = action.as_str().unwrap().to_owned();
                        out.push((role.clone(), action, resource.clone()));
                    }
                }
            }
        }
    }
    out
}

#[test]
fn only_the_processor_touches_sqs_and_only_its_own_queues() {
    let template = template();
    let grants = grants(&template);
    for (role, action, resource) in grants.iter().filter(|(_, a, _)| a.starts_with("sqs:")) {
        assert_eq!(role, "TaskProcessorRole", "{role} may not {action}");
        let queue = target(resource).map(|(name, _)| name);
        match action.as_str() {
            "sqs:SendMessage" => assert!(
                matches!(queue, Some("WakeQueue" | "TaskProcessorFailureQueue")),
                "{action} on {resource:?}"
            ),
            "sqs:ReceiveMessage" | "sqs:DeleteMessage" | "sqs:GetQueueAttributes" => {
                assert_eq!(queue, Some("WakeQueue"), "{action} on {resource:?}")
            }
            other => panic!("{role}: unexpected {other}"),
        }
    }
    assert!(grants
        .iter()
        .any(|(role, action, resource)| role == "TaskProcessorRole"
            && action == "sqs:SendMessage"
            && target(resource) == Some(("WakeQueue", "Arn"))));

    // Stream reads only on the Players stream, only by the processor.
    for (role, action, resource) in grants.iter().filter(|(_, a, _)| {
        matches!(
            a.as_str(),
            "dynamodb:GetRecords" | "dynamodb:GetShardIterator" | "dynamodb:DescribeStream"
        )
    }) {
        assert_eq!(role, "TaskProcessorRole", "{role} may not {action}");
        assert_eq!(target(resource), Some(("PlayersTable", "StreamArn")));
    }

    // The history is written by the processor alone, put if absent.
    let tasks: Vec<(&str, &str)> = grants
        .iter()
        .filter(|(_, _, resource)| target(resource) == Some(("TasksTable", "Arn")))
        .map(|(role, action, _)| (role.as_str(), action.as_str()))
        .collect();
    assert_eq!(tasks, [("TaskProcessorRole", "dynamodb:PutItem")]);
    // No transactions anywhere; the Players item is written by UpdateItem alone (each player
    // write names its own attributes and the connection lists their set, so neither drops the
    // other's), and UpdateItem touches nothing else.
    assert!(!grants
        .iter()
        .any(|(_, action, _)| action == "dynamodb:ConditionCheckItem"
            || action == "dynamodb:TransactWriteItems"));
    for (role, action, resource) in grants.iter() {
        if action == "dynamodb:UpdateItem" {
            assert_eq!(
                target(resource),
                Some(("PlayersTable", "Arn")),
                "{role}: UpdateItem only on Players"
            );
        }
        if target(resource) == Some(("PlayersTable", "Arn")) {
            assert_ne!(
                action, "dynamodb:PutItem",
                "{role}: a PutItem would drop connections"
            );
        }
    }
}

/// Every alarm of the template: logical id → properties.
fn alarms(template: &Value) -> BTreeMap<String, Value> {
    template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, resource)| resource["Type"] == "AWS::CloudWatch::Alarm")
        .map(|(id, resource)| {
            (
                id.as_str().unwrap().to_owned(),
                resource["Properties"].clone(),
            )
        })
        .collect()
}

/// The alarms docs/operations.md describes: the first cell of each row of its alarm tables,
/// written as `` `SomethingAlarm` ``.
fn documented_alarms() -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/operations.md");
    let text = std::fs::read_to_string(path).unwrap();
    text.lines()
        .filter_map(|line| line.strip_prefix("| `"))
        .filter_map(|rest| rest.split_once('`'))
        .map(|(name, _)| name.to_owned())
        .filter(|name| name.ends_with("Alarm"))
        .collect()
}

#[test]
fn every_alarm_the_runbook_names_exists_and_every_alarm_is_in_the_runbook() {
    let template = template();
    let alarms = alarms(&template);
    let documented = documented_alarms();
    assert!(
        documented.len() >= 10,
        "docs/operations.md lists {documented:?}"
    );
    for name in &documented {
        assert!(
            alarms.contains_key(name),
            "docs/operations.md names {name}, which template.yaml does not define"
        );
    }
    for name in alarms.keys() {
        assert!(
            documented.contains(name),
            "template.yaml defines {name}, which docs/operations.md does not explain"
        );
    }
}

/// The function a plain AWS/Lambda alarm on `metric` watches, if it is one.
fn lambda_alarm_function<'t>(alarm: &'t Value, metric: &str) -> Option<&'t str> {
    if alarm["Namespace"] != "AWS/Lambda" || alarm["MetricName"] != metric {
        return None;
    }
    let dimensions = alarm["Dimensions"].as_sequence()?;
    let [dimension] = dimensions.as_slice() else {
        return None;
    };
    if dimension["Name"] != "FunctionName" {
        return None;
    }
    target(&dimension["Value"])
        .filter(|(_, attribute)| attribute.is_empty())
        .map(|(function, _)| function)
}

#[test]
fn every_function_has_an_errors_and_a_throttles_alarm_that_notify_the_topic() {
    let template = template();
    let alarms = alarms(&template);
    for function in functions(&template).keys() {
        for metric in ["Errors", "Throttles"] {
            let watching: Vec<&String> = alarms
                .iter()
                .filter(|(_, alarm)| lambda_alarm_function(alarm, metric) == Some(function))
                .map(|(id, _)| id)
                .collect();
            assert_eq!(
                watching.len(),
                1,
                "{function}: one {metric} alarm, found {watching:?}"
            );
            let alarm = &alarms[watching[0]];
            assert!(
                alarm["Threshold"] == 0 && alarm["ComparisonOperator"] == "GreaterThanThreshold",
                "{function}: any {metric} alarms"
            );
        }
    }
    // Every alarm notifies the topic when one is given, and only then.
    for (id, alarm) in &alarms {
        for key in ["AlarmActions", "OKActions"] {
            let Value::Tagged(tagged) = &alarm[key] else {
                panic!("{id}: {key} must be !If [HasAlarmTopic, …]");
            };
            assert_eq!(tagged.tag, "If", "{id}: {key}");
            let branches = tagged.value.as_sequence().unwrap();
            assert_eq!(branches[0], "HasAlarmTopic", "{id}: {key}");
            assert_eq!(
                branches[1]
                    .as_sequence()
                    .and_then(|s| s.first())
                    .and_then(reference),
                Some("AlarmTopicArn"),
                "{id}: {key}"
            );
        }
        assert_eq!(alarm["TreatMissingData"], "notBreaching", "{id}");
    }
    // The stream's failures and the processor's lag are watched.
    let watched = |namespace: &str, metric: &str, resource: &str| {
        alarms.values().any(|alarm| {
            alarm["Namespace"] == namespace
                && alarm["MetricName"] == metric
                && alarm["Dimensions"][0]["Value"] != Value::Null
                && target(&alarm["Dimensions"][0]["Value"]).map(|(r, _)| r) == Some(resource)
        })
    };
    assert!(watched(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "TaskProcessorFailureQueue"
    ));
    assert!(watched(
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
        "WakeDeadLetterQueue"
    ));
    assert!(watched(
        "AWS/SQS",
        "ApproximateAgeOfOldestMessage",
        "WakeQueue"
    ));
    assert!(watched(
        "AWS/Lambda",
        "IteratorAge",
        "TaskProcessorFunction"
    ));
}

#[test]
fn every_table_has_a_throttle_alarm_and_the_emf_alarms_read_the_functions_namespace() {
    let template = template();
    let alarms = alarms(&template);
    let tables: Vec<&str> = template["Resources"]
        .as_mapping()
        .unwrap()
        .iter()
        .filter(|(_, r)| r["Type"] == "AWS::DynamoDB::Table")
        .map(|(id, _)| id.as_str().unwrap())
        .collect();
    for table in tables {
        let throttles = alarms.values().any(|alarm| {
            alarm["Metrics"].as_sequence().is_some_and(|metrics| {
                metrics.iter().any(|m| {
                    let stat = &m["MetricStat"]["Metric"];
                    stat["Namespace"] == "AWS/DynamoDB"
                        && stat["MetricName"] == "WriteThrottleEvents"
                        && target(&stat["Dimensions"][0]["Value"]) == Some((table, ""))
                })
            })
        });
        assert!(throttles, "{table} has no throttle alarm");
    }
    // The Metrics Insights queries name the namespace and metrics the functions emit.
    let queries: Vec<String> = alarms
        .values()
        .filter_map(|alarm| alarm["Metrics"].as_sequence().cloned())
        .flatten()
        .filter_map(|m| m["Expression"].as_str().map(str::to_owned))
        .filter(|e| e.starts_with("SELECT"))
        .collect();
    let emitted = [
        "TasksFailed",
        "TasksCompleted",
        "NotificationsGone",
        "NotificationsDelivered",
        "PlayersUnreadable",
        "PlayersUnwritable",
    ];
    for metric in emitted {
        let query = queries
            .iter()
            .find(|q| q.contains(&format!("SUM({metric})")))
            .unwrap_or_else(|| panic!("no alarm reads {metric}: {queries:?}"));
        assert!(
            query.contains(&format!("SCHEMA(\"{}\"", idle_app::metrics::NAMESPACE)),
            "{query}"
        );
    }
}

#[test]
fn the_dashboard_body_is_json_once_substituted_and_names_only_what_the_stack_has() {
    let template = template();
    let resources = &template["Resources"];
    let body = match &resources["Dashboard"]["Properties"]["DashboardBody"] {
        Value::Tagged(tagged) if tagged.tag == "Sub" => tagged.value.as_str().unwrap().to_owned(),
        other => panic!("DashboardBody must be a !Sub string, not {other:?}"),
    };
    // Every ${…} is a resource (or its attribute), a parameter or a pseudo parameter.
    let mut substituted = String::new();
    let mut rest = body.as_str();
    while let Some(start) = rest.find("${") {
        substituted.push_str(&rest[..start]);
        let end = rest[start..].find('}').expect("a closed ${…}") + start;
        let name = &rest[start + 2..end];
        let base = name.split('.').next().unwrap();
        assert!(
            name.starts_with("AWS::")
                || resources.get(base).is_some()
                || template["Parameters"].get(base).is_some(),
            "the dashboard names ${{{name}}}, which the stack does not have"
        );
        substituted.push('x');
        rest = &rest[end + 1..];
    }
    substituted.push_str(rest);
    let dashboard: serde_json::Value = serde_json::from_str(&substituted).unwrap();
    let titles: Vec<&str> = dashboard["widgets"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| w["properties"]["title"].as_str().unwrap())
        .collect();
    for wanted in [
        "Tasks completed",
        "Processing time",
        "Notifications",
        "Connections",
    ] {
        assert!(
            titles.iter().any(|t| t.starts_with(wanted)),
            "no widget for {wanted}: {titles:?}"
        );
    }
}

/// The functions (by role) that compute outcomes, as `Function::computes_outcomes` says.
const OUTCOME_ROLES: [&str; 3] = ["WsMessageRole", "TaskProcessorRole", "TaskTickerRole"];

#[test]
fn the_catalog_store_is_read_and_put_only_by_the_functions_that_compute_outcomes() {
    let template = template();
    let table = &template["Resources"]["CatalogsTable"]["Properties"];
    assert_eq!(table["SSESpecification"]["SSEEnabled"], true);
    assert_eq!(
        table["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"],
        true
    );
    assert_eq!(table["KeySchema"][0]["AttributeName"], "catalog_hash");
    assert_eq!(
        template["Resources"]["CatalogsTable"]["DeletionPolicy"],
        "Retain"
    );

    let grants = grants(&template);
    let mut on_catalogs: Vec<(&str, &str)> = grants
        .iter()
        .filter(|(_, _, resource)| {
            target(resource).is_some_and(|(name, _)| name == "CatalogsTable")
                || format!("{resource:?}").contains("CatalogsTable")
        })
        .map(|(role, action, resource)| {
            assert_eq!(target(resource), Some(("CatalogsTable", "Arn")), "{role}");
            (role.as_str(), action.as_str())
        })
        .collect();
    on_catalogs.sort_unstable();
    let mut expected: Vec<(&str, &str)> = OUTCOME_ROLES
        .iter()
        .flat_map(|role| [(*role, "dynamodb:GetItem"), (*role, "dynamodb:PutItem")])
        .collect();
    expected.sort_unstable();
    assert_eq!(on_catalogs, expected);

    // Each of those functions is told the table's name; the others are not.
    let names: Vec<String> = functions(&template)
        .into_iter()
        .filter(|(_, (variables, _))| variables.contains_key(idle_aws::CATALOGS_TABLE_VAR))
        .map(|(name, _)| name)
        .collect();
    assert_eq!(
        names,
        [
            "TaskProcessorFunction",
            "TaskTickerFunction",
            "WsMessageFunction"
        ]
    );
}
