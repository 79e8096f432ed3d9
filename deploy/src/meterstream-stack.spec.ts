import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { loadConfig } from '@meterstream/config';
import { STREAMS } from '@meterstream/contracts';
import { LEASE_TABLE_KEY } from '@meterstream/stream/kinesis';
import { buildApp } from './app';
import { TOPIC_RULE_PARTITION_KEY, TOPIC_RULE_SQL } from './iot-ingest';
import { APP_STREAMS, COMMANDS } from './meterstream-stack';

const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';

// Synthesized once for the file (a synth takes seconds): the defaults, Kinesis and a new OpenSearch domain.
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-cdk-'));
const { app, stack } = buildApp({ outdir, context: { certificateArn: CERT, imageRepository: 'meterstream', imageTag: 'test' } });
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

type Container = { Command: string[]; Environment?: { Name: string; Value: unknown }[]; Secrets?: { Name: string; ValueFrom: unknown }[]; HealthCheck?: { Command: string[] } };
function taskOf(command: readonly string[]): { logicalId: string; container: Container; taskRoleId: string } {
  for (const [logicalId, r] of Object.entries(resources)) {
    if (r.Type !== 'AWS::ECS::TaskDefinition') continue;
    const [container] = r.Properties.ContainerDefinitions as Container[];
    if (JSON.stringify(container.Command) === JSON.stringify(command)) {
      return { logicalId, container, taskRoleId: (r.Properties.TaskRoleArn as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0] };
    }
  }
  throw new Error(`no task runs ${command.join(' ')}`);
}
/** Every action a role's policies allow, as "action on resource-ish" strings. */
function actionsOf(roleId: string): string[] {
  const out: string[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy') continue;
    const roles = (r.Properties.Roles as { Ref: string }[]).map((x) => x.Ref);
    if (!roles.includes(roleId)) continue;
    for (const st of (r.Properties.PolicyDocument as { Statement: { Effect: string; Action: string | string[] }[] }).Statement) {
      expect(st.Effect).toBe('Allow');
      out.push(...[st.Action].flat());
    }
  }
  return [...new Set(out)].sort();
}
function resourcesOf(roleId: string, action: string): unknown[] {
  const out: unknown[] = [];
  for (const r of Object.values(resources)) {
    if (r.Type !== 'AWS::IAM::Policy' || !(r.Properties.Roles as { Ref: string }[]).some((x) => x.Ref === roleId)) continue;
    for (const st of (r.Properties.PolicyDocument as { Statement: { Action: string | string[]; Resource: unknown }[] }).Statement) {
      if ([st.Action].flat().includes(action)) out.push(...[st.Resource].flat());
    }
  }
  return out;
}
const logicalIdOf = (type: string, where: (props: Record<string, unknown>) => boolean): string => {
  const found = Object.entries(resources).filter(([, r]) => r.Type === type && where(r.Properties));
  expect(found).toHaveLength(1);
  return found[0][0];
};
const streamId = (name: string) => logicalIdOf('AWS::Kinesis::Stream', (p) => p.Name === `meterstream-${name}`);
const streamArn = (name: string) => ({ 'Fn::GetAtt': [streamId(name), 'Arn'] });

const bridge = taskOf(COMMANDS.bridge);
const processor = taskOf(COMMANDS.processor);
const api = taskOf(COMMANDS.api);

describe('cdk-nag AwsSolutions', () => {
  it('finds nothing unacknowledged (each acknowledgement carries its reason next to the construct)', () => {
    const report = new AwsSolutionsChecks().validateScope(app);
    expect(report.violations.map((v) => `${v.ruleName} ${v.violatingResources.map((r) => r.constructPath).join(', ')}`)).toEqual([]);
  });
});

describe('IoT Core ingest', () => {
  it('routes line/+/SmartMeterData to the raw stream keyed by line, with an SQS error action', () => {
    expect(TOPIC_RULE_SQL).toBe("SELECT encode(*, 'base64') AS payload, topic() AS topic, timestamp() AS receivedAt FROM 'line/+/SmartMeterData'");
    expect(TOPIC_RULE_PARTITION_KEY).toBe('${topic(2)}');
    template.hasResourceProperties('AWS::IoT::TopicRule', {
      TopicRulePayload: {
        Sql: TOPIC_RULE_SQL,
        AwsIotSqlVersion: '2016-03-23',
        RuleDisabled: false,
        Actions: [{ Kinesis: { StreamName: { Ref: streamId('raw') }, PartitionKey: '${topic(2)}', RoleArn: Match.anyValue() } }],
        ErrorAction: { Sqs: { QueueUrl: Match.anyValue(), RoleArn: Match.anyValue() } },
      },
    });
  });

  it("lets the rule's role put records on the raw stream and send to its error queue, nothing else", () => {
    const rule = Object.values(resources).find((r) => r.Type === 'AWS::IoT::TopicRule');
    const roleId = ((rule?.Properties.TopicRulePayload as { Actions: { Kinesis: { RoleArn: { 'Fn::GetAtt': [string] } } }[] }).Actions[0].Kinesis.RoleArn['Fn::GetAtt'][0]);
    expect(actionsOf(roleId)).toEqual(['kinesis:PutRecord', 'kms:Decrypt', 'kms:GenerateDataKey', 'sqs:SendMessage']);
    expect(resourcesOf(roleId, 'kinesis:PutRecord')).toEqual([streamArn('raw')]);
  });

  it('lets a meter connect as its own thing and publish only to its own line', () => {
    const policy = Object.values(resources).find((r) => r.Type === 'AWS::IoT::Policy');
    const statements = (policy?.Properties.PolicyDocument as { Statement: { Action: string; Resource: unknown; Condition?: unknown }[] }).Statement;
    expect(statements.map((s) => s.Action)).toEqual(['iot:Connect', 'iot:Publish']);
    expect(JSON.stringify(statements[0].Resource)).toContain(':client/${iot:Connection.Thing.ThingName}');
    expect(statements[0].Condition).toEqual({ Bool: { 'iot:Connection.Thing.IsAttached': 'true' } });
    expect(JSON.stringify(statements[1].Resource)).toContain(':topic/line/${iot:Connection.Thing.Attributes[lineId]}/SmartMeterData');
  });
});

describe('streams and stores', () => {
  it('creates the raw stream and every stream the app uses, encrypted', () => {
    expect([...APP_STREAMS].sort()).toEqual(Object.values(STREAMS).sort());
    for (const name of ['raw', ...APP_STREAMS]) {
      template.hasResourceProperties('AWS::Kinesis::Stream', { Name: `meterstream-${name}`, ShardCount: 1, StreamEncryption: { EncryptionType: 'KMS', KeyId: 'alias/aws/kinesis' } });
    }
    template.resourceCountIs('AWS::Kinesis::Stream', 7);
  });

  it('provisions the DynamoDB lease table the processors share, and grants only the processor exactly the calls the lease table makes', () => {
    template.hasResourceProperties('AWS::DynamoDB::Table', {
      BillingMode: 'PAY_PER_REQUEST',
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
      KeySchema: [
        { AttributeName: LEASE_TABLE_KEY.partitionKey, KeyType: 'HASH' },
        { AttributeName: LEASE_TABLE_KEY.sortKey, KeyType: 'RANGE' },
      ],
    });
    expect(actionsOf(processor.taskRoleId).filter((a) => a.startsWith('dynamodb:')).sort()).toEqual(
      ['dynamodb:ConditionCheckItem', 'dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem'].sort(),
    );
    // The bridge reads the raw stream as a leased group member: no checkpoint transactions.
    expect(actionsOf(bridge.taskRoleId).filter((a) => a.startsWith('dynamodb:'))).toEqual(['dynamodb:DescribeTable', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']);
    expect(actionsOf(api.taskRoleId).filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
  });

  it('creates an OpenSearch domain in the VPC, encrypted at rest and in transit, with fine-grained access control', () => {
    template.hasResourceProperties('AWS::OpenSearchService::Domain', {
      VPCOptions: Match.objectLike({ SubnetIds: Match.anyValue() }),
      EncryptionAtRestOptions: { Enabled: true },
      NodeToNodeEncryptionOptions: { Enabled: true },
      DomainEndpointOptions: Match.objectLike({ EnforceHTTPS: true }),
      AdvancedSecurityOptions: Match.objectLike({ Enabled: true, InternalUserDatabaseEnabled: true }),
    });
  });

  it('creates the Timestream table the processor writes and an encrypted SNS topic', () => {
    template.hasResourceProperties('AWS::Timestream::Table', { TableName: 'readings', MagneticStoreWriteProperties: { EnableMagneticStoreWrites: true } });
    template.hasResourceProperties('AWS::SNS::Topic', { KmsMasterKeyId: Match.anyValue() });
  });
});

describe('services', () => {
  it('runs one Fargate service per role with its command', () => {
    template.resourceCountIs('AWS::ECS::Service', 3);
    expect(bridge.container.Command).toEqual(['node', 'dist/apps/ingest-bridge/src/main.js']);
    expect(processor.container.Command).toEqual(['node', 'dist/apps/stream-processor/src/main.js']);
    expect(api.container.Command).toEqual(['node', 'dist/apps/query-api/src/main.js']);
  });

  it('sets only variables the app reads, and they pass its own config validation', () => {
    for (const { container } of [bridge, processor, api]) {
      const env: Record<string, string> = {};
      for (const e of container.Environment ?? []) env[e.Name] = typeof e.Value === 'string' ? e.Value : 'https://resolved-at-deploy.example';
      for (const s of container.Secrets ?? []) env[s.Name] = 'from-secrets-manager';
      if (env.KINESIS_SHARDS) expect(env.KINESIS_SHARDS).toBe('1');
      const config = loadConfig(env) as unknown as Record<string, unknown>;
      for (const name of Object.keys(env)) expect(Object.keys(config)).toContain(name);
    }
    const envOf = (c: Container) => Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, e.Value]));
    expect(envOf(processor.container)).toMatchObject({
      STREAM_BACKEND: 'kinesis',
      KINESIS_STREAM_PREFIX: 'meterstream-',
      READ_MODEL_BACKEND: 'elasticsearch',
      TIMESERIES_BACKEND: 'timestream',
      TIMESTREAM_TABLE: 'readings',
      ALERT_CHANNELS: 'sns',
      KINESIS_LEASE_TABLE: { Ref: expect.stringMatching(/^LeaseTable/) },
    });
    expect(envOf(api.container)).toMatchObject({ HOST: '0.0.0.0', PORT: '3000', STREAM_BACKEND: 'kinesis', READ_MODEL_BACKEND: 'elasticsearch' });
    // No broker given: the bridge reads the IoT rule's raw stream, as one task (its positions live in the task).
    expect(envOf(bridge.container)).toMatchObject({ STREAM_BACKEND: 'kinesis', INGEST_SOURCE: 'kinesis-rule', INGEST_RAW_STREAM: 'raw' });
    expect(envOf(bridge.container)).not.toHaveProperty('MQTT_URL');
    template.hasResourceProperties('AWS::ECS::Service', { TaskDefinition: { Ref: bridge.logicalId }, DesiredCount: 1 });
  });

  it('injects the API token and credentials as ECS secrets, never as plain environment', () => {
    const names = (c: Container) => (c.Secrets ?? []).map((s) => s.Name).sort();
    expect(names(api.container)).toEqual(['API_TOKEN', 'ELASTICSEARCH_PASSWORD', 'ELASTICSEARCH_USERNAME']);
    expect(names(processor.container)).toEqual(['ELASTICSEARCH_PASSWORD', 'ELASTICSEARCH_USERNAME']);
    for (const { container } of [bridge, processor, api]) {
      for (const e of container.Environment ?? []) expect(e.Name).not.toMatch(/TOKEN|PASSWORD|USERNAME|SECRET|API_KEY/);
    }
    const apiToken = api.container.Secrets?.find((s) => s.Name === 'API_TOKEN');
    expect(JSON.stringify(apiToken?.ValueFrom)).toMatch(/ApiToken/);
  });

  it('gives each task role exactly what its service calls', () => {
    // Without a broker (no -c mqttUrl), the bridge reads the IoT rule's raw stream.
    expect(actionsOf(bridge.taskRoleId)).toEqual([
      'dynamodb:DescribeTable',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
      'kinesis:PutRecords',
    ]);
    expect(resourcesOf(bridge.taskRoleId, 'kinesis:PutRecords')).toEqual([streamArn('readings'), streamArn('dead-letters')]);
    expect(resourcesOf(bridge.taskRoleId, 'kinesis:GetRecords')).toEqual([streamArn('raw')]);

    expect(actionsOf(processor.taskRoleId)).toEqual([
      'dynamodb:ConditionCheckItem',
      'dynamodb:DescribeTable',
      'dynamodb:GetItem',
      'dynamodb:PutItem',
      'dynamodb:Query',
      'dynamodb:UpdateItem',
      'kinesis:DescribeStreamSummary',
      'kinesis:GetRecords',
      'kinesis:GetShardIterator',
      'kinesis:ListShards',
      'kinesis:PutRecords',
      'kms:Decrypt',
      'kms:GenerateDataKey',
      'sns:Publish',
      'timestream:DescribeEndpoints',
      'timestream:DescribeTable',
      'timestream:WriteRecords',
    ]);
    expect(resourcesOf(processor.taskRoleId, 'kinesis:GetRecords')).toEqual([streamArn('readings'), streamArn('dead-letters'), streamArn('alert-commands'), streamArn('alerts')]);
    expect(resourcesOf(processor.taskRoleId, 'kinesis:PutRecords')).toEqual([streamArn('aggregates'), streamArn('alerts'), streamArn('late-readings')]);
    expect(JSON.stringify(resourcesOf(processor.taskRoleId, 'dynamodb:UpdateItem'))).toMatch(/LeaseTable/);

    expect(actionsOf(api.taskRoleId)).toEqual(['kinesis:DescribeStreamSummary', 'kinesis:PutRecords']);
    expect(resourcesOf(api.taskRoleId, 'kinesis:PutRecords')).toEqual([streamArn('alert-commands')]);
    // Three distinct roles.
    expect(new Set([bridge.taskRoleId, processor.taskRoleId, api.taskRoleId]).size).toBe(3);
  });

  it("health-checks the API on its /health route behind an HTTPS listener with the context's certificate", () => {
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::Listener', { Port: 443, Protocol: 'HTTPS', Certificates: [{ CertificateArn: CERT }] });
    template.hasResourceProperties('AWS::ElasticLoadBalancingV2::TargetGroup', { HealthCheckPath: '/health', Matcher: { HttpCode: '200' }, Port: 3000 });
    expect(api.container.HealthCheck?.Command.join(' ')).toContain('http://127.0.0.1:3000/health');
  });

  it('health-checks the bridge and processor containers with the image’s healthcheck.js (their GET /health)', () => {
    for (const role of [bridge, processor]) expect(role.container.HealthCheck?.Command).toEqual(['CMD', 'node', '/app/healthcheck.js']);
  });

  it('keeps logs with a retention period', () => {
    const groups = Object.values(resources).filter((r) => r.Type === 'AWS::Logs::LogGroup');
    expect(groups.length).toBeGreaterThanOrEqual(3);
    for (const g of groups) expect(g.Properties.RetentionInDays).toBe(30);
  });
});

describe('alarms', () => {
  it('alarms on iterator age, dead-letter growth, API 5xx and unhealthy tasks, to the alert topic', () => {
    const topicId = logicalIdOf('AWS::SNS::Topic', () => true);
    const alarms = Object.values(resources).filter((r) => r.Type === 'AWS::CloudWatch::Alarm');
    for (const a of alarms) expect(a.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
    const metricNames = alarms.map((a) => (a.Properties.MetricName as string | undefined) ?? JSON.stringify(a.Properties.Metrics));
    const has = (needle: string) => expect(metricNames.some((m) => m.includes(needle))).toBe(true);
    has('GetRecords.IteratorAgeMilliseconds');
    has('IncomingRecords');
    has('HTTPCode_Target_5XX_Count');
    has('UnHealthyHostCount');
    has('RunningTaskCount');
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'IncomingRecords', Dimensions: [{ Name: 'StreamName', Value: { Ref: streamId('dead-letters') } }] });
  });
});
