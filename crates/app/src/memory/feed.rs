//! The in-memory store's outbox feed as the Lambda event the Players table's stream would
//! deliver, so the local runtime and the soak test drive the processor through the same handler
//! as AWS does.

use serde_json::{json, Value};

use crate::handlers::{CONNECTIONS_LIST, OUTBOX_MARKER, PACKED_STATE};
use crate::outbox::{Outbox, OutboxRecord};
use crate::packed;

/// The stream event (the JSON Lambda hands `task-processor`) for these committed outboxes, in
/// order: `MODIFY` records whose new image has the attributes the processor reads (`player_id`,
/// `version`, the outbox packed in `state` with the `outbox` marker, and the listed connection
/// ids as the `connections` string set, absent when there are none, as the DynamoDB store
/// writes them).
pub fn stream_event(records: &[OutboxRecord]) -> Value {
    let records: Vec<Value> = records.iter().map(stream_record).collect();
    json!({ "Records": records })
}

/// The new image's attributes that carry an outbox, as the DynamoDB adapter writes them: the
/// packed document (`state`, B, base64 in the event's JSON; here the outbox alone, see
/// [`packed::pack_outbox`]) and the `outbox` marker (N) the stream's filter looks for. An
/// empty outbox carries neither.
fn outbox_image_attributes(outbox: &Outbox) -> serde_json::Map<String, Value> {
    let mut attributes = serde_json::Map::new();
    if outbox.is_empty() {
        return attributes;
    }
    let bytes = packed::pack_outbox(outbox).unwrap_or_default();
    attributes.insert(
        PACKED_STATE.to_owned(),
        serde_json::to_value(serde_dynamo::AttributeValue::B(bytes)).unwrap_or(Value::Null),
    );
    attributes.insert(OUTBOX_MARKER.to_owned(), json!({"N": "1"}));
    attributes
}

fn stream_record(record: &OutboxRecord) -> Value {
    let sequence = record.sequence_number.parse::<u64>().unwrap_or(0);
    let mut image = outbox_image_attributes(&record.outbox);
    image.insert("player_id".into(), json!({"S": record.player_id}));
    image.insert("version".into(), json!({"N": record.version.to_string()}));
    if !record.connections.is_empty() {
        image.insert(CONNECTIONS_LIST.into(), json!({ "SS": record.connections }));
    }
    json!({
        "awsRegion": "local",
        "dynamodb": {
            "Keys": {"player_id": {"S": record.player_id}},
            "NewImage": image,
            "SequenceNumber": format!("{sequence:021}"),
            "SizeBytes": 256,
            "StreamViewType": "NEW_IMAGE",
        },
        "eventID": format!("local-{sequence}"),
        "eventName": "MODIFY",
        "eventSource": "aws:dynamodb",
        "eventSourceARN": "arn:aws:dynamodb:local:000000000000:table/Players/stream/local",
        "eventVersion": "1.1",
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::memory::MemoryStore;
    use crate::outbox::Commit;
    use crate::ports::GameStore;
    use crate::state::PlayerState;
    use idle_core::catalog::Catalog;
    use idle_core::model::{Player, TaskRequest};
    use idle_core::{enqueue, Enqueued, Game};

    #[tokio::test]
    async fn a_committed_outbox_appears_as_a_record_that_parses_as_a_lambda_stream_event() {
        // Given a stored player and an enqueue's plan
        let store = MemoryStore::new(4);
        let game = Game::new(
            Catalog::shipped(),
            b"feed-test-secret-feed-test-secret".to_vec(),
        );
        let before = PlayerState {
            player: Player::new("p1", 1_000, Catalog::shipped(), 10),
            queue: vec![],
        };
        assert!(store.create_player(&before).await.unwrap());
        let request = TaskRequest::Combat {
            enemy: "cow".into(),
            quantity: 2,
            repeat: None,
        };
        let Ok(Enqueued::New { plan, .. }) = enqueue(
            &game,
            &before.player,
            &[],
            "r1",
            &request,
            false,
            false,
            1_000,
        ) else {
            panic!("enqueue");
        };

        // When it is committed
        let commit = Commit::of(&before, &plan).unwrap();
        store.commit(&commit).await.unwrap();

        // Then the feed has its outbox once, and it reads back from the stream event
        let records = store.take_outboxes();
        assert_eq!(records.len(), 1);
        assert!(store.take_outboxes().is_empty(), "taken once");
        let event = stream_event(&records);
        let parsed: aws_lambda_events::event::dynamodb::Event =
            serde_json::from_value(event).unwrap();
        let record = &parsed.records[0];
        assert_eq!(
            record.change.sequence_number.as_deref(),
            Some("000000000000000000001")
        );
        let outbox = match record.change.new_image.get(PACKED_STATE) {
            Some(serde_dynamo::AttributeValue::B(bytes)) => packed::unpack_outbox(bytes).unwrap(),
            other => panic!("no packed state: {other:?}"),
        };
        assert_eq!(outbox, commit.outbox);
        assert!(record.change.new_image.get(OUTBOX_MARKER).is_some());
    }

    #[tokio::test]
    async fn an_outbox_stays_unperformed_until_reported_and_survives_a_snapshot() {
        // Given two committed enqueues of one player
        let store = MemoryStore::new(4);
        let game = Game::new(
            Catalog::shipped(),
            b"feed-test-secret-feed-test-secret".to_vec(),
        );
        let mut state = PlayerState {
            player: Player::new("p1", 1_000, Catalog::shipped(), 10),
            queue: vec![],
        };
        assert!(store.create_player(&state).await.unwrap());
        for request_id in ["r1", "r2"] {
            let request = TaskRequest::Combat {
                enemy: "cow".into(),
                quantity: 1,
                repeat: None,
            };
            let Ok(Enqueued::New { plan, .. }) = enqueue(
                &game,
                &state.player,
                &state.queue,
                request_id,
                &request,
                false,
                false,
                1_000,
            ) else {
                panic!("enqueue");
            };
            let commit = Commit::of(&state, &plan).unwrap();
            store.commit(&commit).await.unwrap();
            state = commit.state;
        }

        // When both are taken and only the first is reported performed
        let taken = store.take_outboxes();
        assert_eq!(
            store.unperformed_outboxes(),
            taken,
            "taken is not performed"
        );
        store.performed("p1", taken[0].version);

        // Then the second is still to perform, after a snapshot's round trip too
        assert_eq!(store.unperformed_outboxes(), taken[1..]);
        let restored = MemoryStore::new(4);
        let json = serde_json::to_string(&store.snapshot()).unwrap();
        restored.restore(serde_json::from_str(&json).unwrap());
        let pending = restored.unperformed_outboxes();
        assert_eq!(pending.len(), 1);
        assert_eq!(
            (pending[0].version, &pending[0].outbox),
            (taken[1].version, &taken[1].outbox)
        );
        assert!(restored.take_outboxes().is_empty(), "not on the feed");
        store.performed("p1", taken[1].version);
        assert!(store.unperformed_outboxes().is_empty());
    }
}
