#!/usr/bin/env python3
"""Shows that moto does not serialise concurrent TransactWriteItems on one item: several
threads race the same `version = 0` condition, and in some rounds more than one wins.
Real DynamoDB lets exactly one win. Run: scripts/with-moto.sh .venv/bin/python
scripts/moto-concurrency-check.py"""
import os, threading, boto3
ddb = boto3.client("dynamodb", endpoint_url=os.environ["DYNAMODB_ENDPOINT"], region_name="us-east-1")
ddb.create_table(TableName="race", KeySchema=[{"AttributeName":"id","KeyType":"HASH"}],
    AttributeDefinitions=[{"AttributeName":"id","AttributeType":"S"}], BillingMode="PAY_PER_REQUEST")
doubles = 0
for round_ in range(30):
    ddb.put_item(TableName="race", Item={"id":{"S":"p"},"version":{"N":"0"}})
    wins = []
    def go(i):
        try:
            ddb.transact_write_items(TransactItems=[{"Put":{"TableName":"race","Item":{"id":{"S":"p"},"version":{"N":"1"},"w":{"N":str(i)}},
                "ConditionExpression":"#v = :e","ExpressionAttributeNames":{"#v":"version"},"ExpressionAttributeValues":{":e":{"N":"0"}}}}])
            wins.append(i)
        except ddb.exceptions.TransactionCanceledException:
            pass
    ts=[threading.Thread(target=go,args=(i,)) for i in range(8)]
    [t.start() for t in ts]; [t.join() for t in ts]
    if len(wins) > 1: doubles += 1
print(f"rounds with more than one winner of the same condition: {doubles} of 30")
