#!/usr/bin/env bash
# Creates baton's DynamoDB table and SQS queues when LocalStack is ready.
# The same resources `baton setup` (aws/src: DynamoStore::create_table, SqsQueue::create_queues)
# and infra/template.yaml create; all three are idempotent.
set -euo pipefail

table="${BATON_TABLE:-baton}"
queue="${BATON_QUEUE:-baton-jobs}"
dlq="${BATON_DLQ:-baton-jobs-dlq}"

if ! awslocal dynamodb describe-table --table-name "$table" >/dev/null 2>&1; then
  awslocal dynamodb create-table \
    --table-name "$table" \
    --billing-mode PAY_PER_REQUEST \
    --attribute-definitions \
      AttributeName=pk,AttributeType=S AttributeName=sk,AttributeType=S \
      AttributeName=gsi1pk,AttributeType=S AttributeName=gsi1sk,AttributeType=S \
    --key-schema AttributeName=pk,KeyType=HASH AttributeName=sk,KeyType=RANGE \
    --global-secondary-indexes \
      'IndexName=gsi1,KeySchema=[{AttributeName=gsi1pk,KeyType=HASH},{AttributeName=gsi1sk,KeyType=RANGE}],Projection={ProjectionType=ALL}' \
    >/dev/null
  awslocal dynamodb wait table-exists --table-name "$table"
fi
# TTL on `expires_at`; enabling it twice is an error, so only when it is not on yet.
ttl=$(awslocal dynamodb describe-time-to-live --table-name "$table" \
  --query TimeToLiveDescription.TimeToLiveStatus --output text 2>/dev/null || echo DISABLED)
if [[ "$ttl" != ENABLED && "$ttl" != ENABLING ]]; then
  awslocal dynamodb update-time-to-live --table-name "$table" \
    --time-to-live-specification Enabled=true,AttributeName=expires_at >/dev/null
fi
# Point-in-time recovery, as `baton setup` and infra/template.yaml turn it on.
awslocal dynamodb update-continuous-backups --table-name "$table" \
  --point-in-time-recovery-specification PointInTimeRecoveryEnabled=true >/dev/null

dlq_url=$(awslocal sqs create-queue --queue-name "$dlq" \
  --attributes MessageRetentionPeriod=1209600 --query QueueUrl --output text)
dlq_arn=$(awslocal sqs get-queue-attributes --queue-url "$dlq_url" \
  --attribute-names QueueArn --query Attributes.QueueArn --output text)
# RedrivePolicy is a JSON document inside the JSON attribute map.
attributes=$(python3 -c 'import json, sys
policy = {"deadLetterTargetArn": sys.argv[1], "maxReceiveCount": "5"}
print(json.dumps({"VisibilityTimeout": "60", "RedrivePolicy": json.dumps(policy)}))' "$dlq_arn")
awslocal sqs create-queue --queue-name "$queue" --attributes "$attributes" >/dev/null

echo "baton: table $table, queue $queue, dead-letter queue $dlq ready"
