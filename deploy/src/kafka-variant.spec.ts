import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks } from 'cdk-nag';
import { buildApp } from './app';
import { COMMANDS } from './meterstream-stack';
import { readSettings, SettingsError } from './settings';

const CERT = 'arn:aws:acm:eu-west-1:123456789012:certificate/11111111-2222-3333-4444-555555555555';
const SECRET = 'arn:aws:secretsmanager:eu-west-1:123456789012:secret';

// Synthesized once for the file: an existing MSK cluster and Elasticsearch cluster, a broker for the bridge.
const outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'meterstream-cdk-kafka-'));
const { app, stack } = buildApp({
  outdir,
  context: {
    certificateArn: CERT,
    imageRepository: 'meterstream',
    streamBackend: 'kafka',
    kafkaBrokers: 'b-1.msk:9096,b-2.msk:9096',
    kafkaSecretArn: `${SECRET}:AmazonMSK_meterstream-AbCdEf`,
    mskClusterName: 'meterstream',
    processorCount: '2',
    searchEndpoint: 'https://es.example.com:9243',
    searchSecretArn: `${SECRET}:es-AbCdEf`,
    mqttUrl: 'mqtts://broker.example.com:8883',
    mqttSecretArn: `${SECRET}:mqtt-AbCdEf`,
    timeseries: 'none',
  },
});
const template = Template.fromStack(stack);
const resources = template.toJSON().Resources as Record<string, { Type: string; Properties: Record<string, unknown> }>;
afterAll(() => fs.rmSync(outdir, { recursive: true, force: true }));

type Container = { Command: string[]; Environment?: { Name: string; Value: unknown }[]; Secrets?: { Name: string }[] };
const containers = Object.values(resources)
  .filter((r) => r.Type === 'AWS::ECS::TaskDefinition')
  .map((r) => (r.Properties.ContainerDefinitions as Container[])[0]);
const containerOf = (command: readonly string[]) => containers.find((c) => JSON.stringify(c.Command) === JSON.stringify(command)) as Container;
const envOf = (c: Container) => Object.fromEntries((c.Environment ?? []).map((e) => [e.Name, e.Value]));

describe('Kafka / existing clusters variant', () => {
  it('is clean under cdk-nag AwsSolutions', () => {
    expect(new AwsSolutionsChecks().validateScope(app).violations).toEqual([]);
  });

  it('creates only the raw stream (for the IoT rule), no domain, no Timestream, no lease table', () => {
    template.resourceCountIs('AWS::Kinesis::Stream', 1);
    template.resourceCountIs('AWS::OpenSearchService::Domain', 0);
    template.resourceCountIs('AWS::Timestream::Table', 0);
    template.resourceCountIs('AWS::DynamoDB::Table', 0);
  });

  it('points every service at the Kafka cluster with SCRAM credentials as secrets', () => {
    for (const command of Object.values(COMMANDS)) {
      const c = containerOf(command);
      expect(envOf(c)).toMatchObject({ STREAM_BACKEND: 'kafka', KAFKA_BROKERS: 'b-1.msk:9096,b-2.msk:9096', KAFKA_SSL: 'true', KAFKA_TOPIC_PREFIX: 'meterstream.' });
      expect((c.Secrets ?? []).map((s) => s.Name)).toEqual(expect.arrayContaining(['KAFKA_SASL_USERNAME', 'KAFKA_SASL_PASSWORD']));
    }
    expect(envOf(containerOf(COMMANDS.bridge))).toMatchObject({ MQTT_URL: 'mqtts://broker.example.com:8883' });
    expect((containerOf(COMMANDS.bridge).Secrets ?? []).map((s) => s.Name)).toEqual(expect.arrayContaining(['MQTT_USERNAME', 'MQTT_PASSWORD']));
    expect(envOf(containerOf(COMMANDS.processor))).toMatchObject({ TIMESERIES_BACKEND: 'none', ELASTICSEARCH_URL: 'https://es.example.com:9243' });
  });

  it('scales the processors on CPU and on MSK consumer lag, between processorCount and processorMaxCount', () => {
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalableTarget', { MinCapacity: 2, MaxCapacity: 4 });
    template.hasResourceProperties('AWS::ApplicationAutoScaling::ScalingPolicy', {
      PolicyType: 'TargetTrackingScaling',
      TargetTrackingScalingPolicyConfiguration: Match.objectLike({ PredefinedMetricSpecification: { PredefinedMetricType: 'ECSServiceAverageCPUUtilization' } }),
    });
    template.hasResourceProperties('AWS::CloudWatch::Alarm', { MetricName: 'EstimatedMaxTimeLag', Namespace: 'AWS/Kafka' });
  });
});

describe('settings', () => {
  const ctx = (values: Record<string, string>) => (key: string) => values[key];
  it('requires a certificate and names every bad value', () => {
    expect(() => readSettings(ctx({}))).toThrow(SettingsError);
    expect(() => readSettings(ctx({ certificateArn: CERT, processorCount: '2' }))).toThrow(/processorCount: more processors than kinesisShards would sit idle/);
    expect(() => readSettings(ctx({ certificateArn: CERT, streamBackend: 'kafka' }))).toThrow(/kafkaBrokers[\s\S]*kafkaSecretArn/);
    expect(() => readSettings(ctx({ certificateArn: CERT, kinesisShards: 'two' }))).toThrow(/kinesisShards/);
  });
  it('has pilot-sized defaults', () => {
    expect(readSettings(ctx({ certificateArn: CERT }))).toMatchObject({ kinesisShards: 1, processorCount: 1, apiCount: 1, openSearchInstanceType: 't3.medium.search', natGateways: 1 });
  });
});
