"""Check that the pinned moto still behaves the way the DynamoDB adapter tests assume.

Run it after changing the moto pin:

    scripts/with-moto.sh .venv/bin/python scripts/moto-smoke.py

It creates a table with a NEW_AND_OLD_IMAGES stream, writes to it, reads the
stream through DescribeStream/GetShardIterator/GetRecords, and runs a
TransactWriteItems whose conditions fail, then checks the shapes the adapter
parses: the stream record fields and the cancellation reasons (one per item,
in order, "None" for the items that did not fail). Exits non-zero on the first
difference.
"""

import os
import sys

import boto3
import botocore.exceptions

TABLE = "SmokeTasks"


def check(ok, what):
    print(("ok   " if ok else "FAIL ") + what)
    if not ok:
        sys.exit(1)


def main():
    endpoint = os.environ["DYNAMODB_ENDPOINT"]
    ddb = boto3.client("dynamodb", endpoint_url=endpoint)
    streams = boto3.client("dynamodbstreams", endpoint_url=endpoint)

    ddb.create_table(
        TableName=TABLE,
        BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[
            {"AttributeName": "player_id", "AttributeType": "S"},
            {"AttributeName": "task_id", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "player_id", "KeyType": "HASH"},
            {"AttributeName": "task_id", "KeyType": "RANGE"},
        ],
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    stream_arn = ddb.describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]

    def key(task_id):
        return {"player_id": {"S": "p1"}, "task_id": {"S": task_id}}

    ddb.put_item(TableName=TABLE, Item={**key("t1"), "status": {"S": "queued"}})
    ddb.put_item(TableName=TABLE, Item={**key("t2"), "status": {"S": "running"}})
    ddb.update_item(
        TableName=TABLE,
        Key=key("t1"),
        UpdateExpression="SET #s = :c, kick = :t",
        ExpressionAttributeNames={"#s": "status"},
        ExpressionAttributeValues={":c": {"S": "cancel_requested"}, ":t": {"BOOL": True}},
    )

    shards = streams.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
    check(len(shards) == 1, "DescribeStream lists one shard")
    iterator = streams.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shards[0]["ShardId"], ShardIteratorType="TRIM_HORIZON"
    )["ShardIterator"]
    records = streams.get_records(ShardIterator=iterator)["Records"]
    check([r["eventName"] for r in records] == ["INSERT", "INSERT", "MODIFY"],
          "GetRecords returns INSERT, INSERT, MODIFY in write order")
    for field in ("SequenceNumber", "ApproximateCreationDateTime", "SizeBytes", "StreamViewType", "Keys"):
        check(all(field in r["dynamodb"] for r in records), f"every record has dynamodb.{field}")
    sequence_numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in records]
    check(sequence_numbers == sorted(set(sequence_numbers)), "sequence numbers increase")
    modify = records[2]["dynamodb"]
    check(modify["NewImage"].get("kick") == {"BOOL": True} and "kick" not in modify["OldImage"],
          "MODIFY carries both images")

    items = [
        {"Put": {"TableName": TABLE, "Item": {**key("t3"), "status": {"S": "queued"}},
                 "ConditionExpression": "attribute_not_exists(task_id)"}},
        {"Update": {"TableName": TABLE, "Key": key("t2"), "UpdateExpression": "SET #s = :d",
                    "ConditionExpression": "#s = :q",
                    "ExpressionAttributeNames": {"#s": "status"},
                    "ExpressionAttributeValues": {":d": {"S": "completed"}, ":q": {"S": "queued"}},
                    "ReturnValuesOnConditionCheckFailure": "ALL_OLD"}},
        {"ConditionCheck": {"TableName": TABLE, "Key": key("t1"),
                            "ConditionExpression": "attribute_not_exists(task_id)"}},
    ]
    try:
        ddb.transact_write_items(TransactItems=items)
        check(False, "TransactWriteItems with failing conditions is cancelled")
    except botocore.exceptions.ClientError as err:
        check(err.response["Error"]["Code"] == "TransactionCanceledException",
              "TransactWriteItems fails with TransactionCanceledException")
        reasons = err.response.get("CancellationReasons") or []
        print("     cancellation reasons:", reasons)
        check([r.get("Code") for r in reasons] == ["None", "ConditionalCheckFailed", "ConditionalCheckFailed"],
              "one cancellation reason per item, in order")
        check(reasons[1].get("Item", {}).get("status") == {"S": "running"},
              "ALL_OLD returns the current item with its reason")
        check("Item" not in reasons[2], "no item without ReturnValuesOnConditionCheckFailure")
    check("Item" not in ddb.get_item(TableName=TABLE, Key=key("t3")),
          "a cancelled transaction writes nothing")


if __name__ == "__main__":
    main()
