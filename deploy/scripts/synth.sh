#!/usr/bin/env bash
# `npm run deploy:synth`: writes the CloudFormation templates of the two stream modes to
# deploy/cdk.out/{kinesis,kafka}/ with the real CDK CLI and app (cdk-nag runs as part of the synth
# and fails it on any unacknowledged finding). No AWS account is needed: the stack is
# environment-agnostic and every context value below is an example, not a real resource.
set -euo pipefail
cd "$(dirname "$0")/.."
export AWS_EC2_METADATA_DISABLED=true CDK_DISABLE_CLI_TELEMETRY=true
CERT=${CERTIFICATE_ARN:-arn:aws:acm:us-east-1:123456789012:certificate/00000000-0000-0000-0000-000000000000}
SECRET=arn:aws:secretsmanager:us-east-1:123456789012:secret
synth() {
  local out=$1; shift
  rm -rf "cdk.out/$out"
  npx cdk synth --no-notices --quiet -o "cdk.out/$out" -c "certificateArn=$CERT" "$@" > "cdk.out/$out.log" 2>&1 \
    || { cat "cdk.out/$out.log" >&2; echo "deploy:synth: cdk synth ($out) failed" >&2; exit 1; }
  echo "deploy:synth: deploy/cdk.out/$out/Meterstream.template.json"
}
mkdir -p cdk.out
# Defaults: Kinesis, a new OpenSearch domain, Timestream; the image built from deploy/Dockerfile.
synth kinesis
# Kafka (an existing MSK cluster), an existing Elasticsearch cluster, a broker for the bridge, no Timestream.
synth kafka -c streamBackend=kafka -c kafkaBrokers=b-1.example.kafka.us-east-1.amazonaws.com:9096 \
  -c "kafkaSecretArn=$SECRET:AmazonMSK_meterstream-AbCdEf" -c mskClusterName=meterstream \
  -c searchEndpoint=https://meterstream.es.example.com:9243 -c "searchSecretArn=$SECRET:meterstream-es-AbCdEf" \
  -c mqttUrl=mqtts://broker.example.com:8883 -c "mqttSecretArn=$SECRET:meterstream-mqtt-AbCdEf" \
  -c timeseries=none -c imageRepository=meterstream -c imageTag=0.1.0
