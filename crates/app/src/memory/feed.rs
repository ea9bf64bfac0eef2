//! The in-memory store's change feed as the Lambda event a DynamoDB stream would deliver, so the
//! local runtime and the soak test drive the task processor exactly as AWS does.

use serde_json::{json, Value};

use super::HistoryChange;

/// The stream event (the JSON Lambda hands `task-processor`) for these changes, in order.
/// Inserts are `INSERT` with a new image; later writes are `MODIFY` with both images.
pub fn stream_event(changes: &[HistoryChange]) -> Value {
    let records: Vec<Value> = changes.iter().map(stream_record).collect();
    json!({ "Records": records })
}

fn image(task: &idle_core::model::Task) -> Value {
    serde_dynamo::to_item::<_, serde_dynamo::Item>(task)
        .ok()
        .and_then(|item| serde_json::to_value(item).ok())
        .unwrap_or(Value::Null)
}

fn stream_record(change: &HistoryChange) -> Value {
    let task = &change.new;
    let at = task.finished_at.unwrap_or(task.enqueued_at);
    let mut dynamodb = json!({
        "ApproximateCreationDateTime": at as f64 / 1000.0,
        "Keys": {"player_id": {"S": task.player_id}, "task_id": {"S": task.task_id}},
        "NewImage": image(task),
        "SequenceNumber": format!("{:021}", change.sequence),
        "SizeBytes": 256,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    });
    let event_name = match &change.old {
        Some(old) => {
            dynamodb["OldImage"] = image(old);
            "MODIFY"
        }
        None => "INSERT",
    };
    json!({
        "awsRegion": "local",
        "dynamodb": dynamodb,
        "eventID": format!("local-{}", change.sequence),
        "eventName": event_name,
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:local:000000000000:table/Tasks/stream/local",
        "eventVersion": "1.1",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::ports::GameStore;
    use crate::state::PlayerState;
    use idle_core::catalog::Catalog;
    use idle_core::model::{Player, TaskRequest};
    use idle_core::{enqueue, Enqueued, Game};

    #[tokio::test]
    async fn an_enqueue_appears_as_an_insert_that_parses_as_a_lambda_stream_event() {
        let store = MemoryStore::new(4);
        store.enable_change_feed();
        let game = Game::new(
            Catalog::shipped(),
            b"feed-test-secret-feed-test-secret".to_vec(),
        );
        let player = Player::new("p1", 1_000, Catalog::shipped(), 10);
        let state = PlayerState {
            player: player.clone(),
            queue: vec![],
        };
        let request = TaskRequest::Combat {
            enemy: "cow".into(),
            quantity: 2,
        };
        let Ok(Enqueued::New { plan, .. }) =
            enqueue(&game, &player, &[], "r1", &request, false, false, 1_000)
        else {
            panic!("enqueue");
        };
        let mut create = state.clone();
        create.player.version = 0;
        assert!(store.create_player(&create).await.unwrap());
        store.commit(&plan, &state.after(&plan)).await.unwrap();

        let changes = store.take_changes();
        assert_eq!(changes.len(), 1);
        assert!(store.take_changes().is_empty(), "taken once");
        let event = stream_event(&changes);
        let parsed: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(event).unwrap();
        let record = &parsed.records[0];
        assert_eq!(record.event_name, "INSERT");
        assert_eq!(
            record.change.sequence_number.as_deref(),
            Some("000000000000000000001")
        );
        let task: idle_core::model::Task =
            serde_dynamo::from_item(record.change.new_image.clone()).unwrap();
        assert_eq!(task, changes[0].new);
    }
}
