import { Duration, Stack, Validations, aws_iam as iam, aws_iot as iot, type aws_kinesis as kinesis, type aws_kms as kms, aws_sqs as sqs } from 'aws-cdk-lib';
import { Construct } from 'constructs';

/** The meters' topic (ARCHITECTURE.md, event contract v1); `+` is the line id. */
export const METER_TOPIC_FILTER = 'line/+/SmartMeterData';
/**
 * The whole MQTT message, whatever its bytes (malformed JSON included, so ingest can dead-letter
 * it with its exact bytes), plus the topic (the line id lives there) and IoT Core's receive time.
 */
export const TOPIC_RULE_SQL = `SELECT encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt FROM '${METER_TOPIC_FILTER}'`;
/** The line id (second topic level), so one line's readings stay in order on one shard. */
export const TOPIC_RULE_PARTITION_KEY = '${topic(2)}';
/** The thing attribute that names a meter's line; the IoT policy only lets it publish there. */
export const LINE_ATTRIBUTE = 'lineId';

export interface IotIngestProps {
  /** The `raw` stream the rule writes to. */
  rawStream: kinesis.IStream;
  key: kms.IKey;
}

/**
 * The AWS IoT Core side: meters connect with their own X.509 certificate and publish to their
 * line's topic; a topic rule writes every message to the `raw` Kinesis stream with the line as
 * partition key (IoT Core allows at most 100 publishes per second per connection, so no service
 * can subscribe for a whole fleet: fan-in happens here). What the rule cannot write goes to an
 * SQS error queue, so nothing is lost silently.
 *
 * The ingest bridge reads `raw` with INGEST_SOURCE=kinesis-rule (libs/ingest iot-rule-record.ts
 * decodes exactly what this SQL writes) on the Kinesis backend; with Kafka, or with an MQTT broker
 * of its own (-c mqttUrl), records wait in `raw` for its retention period.
 */
export class IotIngest extends Construct {
  readonly rule: iot.CfnTopicRule;
  readonly errorQueue: sqs.Queue;
  readonly meterPolicy: iot.CfnPolicy;

  constructor(scope: Construct, id: string, props: IotIngestProps) {
    super(scope, id);
    const stack = Stack.of(this);

    this.errorQueue = new sqs.Queue(this, 'RuleErrors', {
      encryption: sqs.QueueEncryption.KMS,
      encryptionMasterKey: props.key,
      enforceSSL: true,
      retentionPeriod: Duration.days(14),
    });
    Validations.of(this.errorQueue).acknowledge(
      { id: 'AwsSolutions-SQS3', reason: 'This queue is itself the dead-letter destination (the IoT topic rule error action); nothing consumes it automatically.' },
    );

    const role = new iam.Role(this, 'RuleRole', {
      assumedBy: new iam.ServicePrincipal('iot.amazonaws.com', { conditions: { StringEquals: { 'aws:SourceAccount': stack.account } } }),
      description: 'meterstream topic rule: PutRecord to the raw stream, SendMessage to its error queue',
    });
    const policy = new iam.Policy(this, 'RulePolicy', {
      roles: [role],
      statements: [
        new iam.PolicyStatement({ actions: ['kinesis:PutRecord'], resources: [props.rawStream.streamArn] }),
        new iam.PolicyStatement({ actions: ['sqs:SendMessage'], resources: [this.errorQueue.queueArn] }),
        // The error queue is encrypted with the stack's key (the raw stream uses the AWS-managed key: no grant needed).
        new iam.PolicyStatement({ actions: ['kms:GenerateDataKey', 'kms:Decrypt'], resources: [props.key.keyArn] }),
      ],
    });

    this.rule = new iot.CfnTopicRule(this, 'Rule', {
      topicRulePayload: {
        description: 'meterstream: every meter message to the raw Kinesis stream, keyed by line',
        sql: TOPIC_RULE_SQL,
        awsIotSqlVersion: '2016-03-23',
        ruleDisabled: false,
        actions: [{ kinesis: { streamName: props.rawStream.streamName, partitionKey: TOPIC_RULE_PARTITION_KEY, roleArn: role.roleArn } }],
        errorAction: { sqs: { queueUrl: this.errorQueue.queueUrl, roleArn: role.roleArn, useBase64: false } },
      },
    });
    // The rule may only run once its role's policy exists (the role itself is referenced already).
    this.rule.node.addDependency(policy);

    const iotArn = (resource: string) => `arn:${stack.partition}:iot:${stack.region}:${stack.account}:${resource}`;
    // Policy variables (${iot:…}) are resolved by IoT Core per connection, not by CloudFormation.
    this.meterPolicy = new iot.CfnPolicy(this, 'MeterPolicy', {
      policyDocument: {
        Version: '2012-10-17',
        Statement: [
          {
            // A meter connects only as its own registered thing (client id = thing name) with a
            // certificate attached to that thing.
            Effect: 'Allow',
            Action: 'iot:Connect',
            Resource: iotArn('client/${iot:Connection.Thing.ThingName}'),
            Condition: { Bool: { 'iot:Connection.Thing.IsAttached': 'true' } },
          },
          {
            // …and publishes only to its own line's topic, named by the thing's lineId attribute.
            Effect: 'Allow',
            Action: 'iot:Publish',
            Resource: iotArn(`topic/line/\${iot:Connection.Thing.Attributes[${LINE_ATTRIBUTE}]}/SmartMeterData`),
          },
        ],
      },
    });
  }
}
