/**
 * The deployment's settings, read from CDK context (`cdk deploy -c key=value`, or the "context"
 * object of cdk.json). Every size has a default a pilot utility can afford; README "Running on
 * ECS" lists them with the monthly cost estimate of the defaults.
 */
export interface Settings {
  /** ACM certificate for the API's HTTPS listener (required: the API is only served over TLS). */
  certificateArn: string;
  /** `kinesis` (the stack creates the streams) or `kafka` (an existing Kafka / Amazon MSK cluster). */
  streamBackend: 'kinesis' | 'kafka';
  /** KINESIS_STREAM_PREFIX: stream `readings` is Kinesis stream `${prefix}readings`. */
  kinesisStreamPrefix: string;
  /** Shards of every Kinesis stream the stack creates. */
  kinesisShards: number;
  /** Kafka only: KAFKA_BROKERS of the existing cluster (SCRAM over TLS, as MSK serves on 9096). */
  kafkaBrokers?: string;
  /** Kafka only: a Secrets Manager secret with JSON keys `username` and `password` (MSK's SCRAM secret). */
  kafkaSecretArn?: string;
  kafkaTopicPrefix: string;
  /** Kafka only: STREAM_PARTITIONS of the topics the services create; the processors' upper bound. */
  kafkaPartitions: number;
  /** Kafka only, MSK: the cluster name, for consumer-lag autoscaling and the lag alarm. */
  mskClusterName?: string;
  /** An existing Elasticsearch endpoint (https://…) instead of the OpenSearch domain the stack creates. */
  searchEndpoint?: string;
  /** With searchEndpoint: a secret with JSON keys `username` and `password`. */
  searchSecretArn?: string;
  openSearchInstanceType: string;
  openSearchInstanceCount: number;
  openSearchVolumeGb: number;
  /** `timestream` (the stack creates the database and table) or `none` (TIMESERIES_BACKEND=none). */
  timeseries: 'timestream' | 'none';
  /** MQTT_URL of a broker the ingest bridge subscribes to instead of reading the IoT rule's raw stream (which it does on Kinesis without one). */
  mqttUrl?: string;
  /** With mqttUrl: a secret with JSON keys `username` and `password` (MQTT_USERNAME / MQTT_PASSWORD). */
  mqttSecretArn?: string;
  bridgeCount: number;
  processorCount: number;
  /** Kafka only: the processors' autoscaling ceiling (never above kafkaPartitions). */
  processorMaxCount: number;
  apiCount: number;
  bridgeCpu: number;
  bridgeMemory: number;
  processorCpu: number;
  processorMemory: number;
  apiCpu: number;
  apiMemory: number;
  /** A pre-built image: an ECR repository in the stack's account and region; without it `cdk deploy` builds deploy/Dockerfile. */
  imageRepository?: string;
  /** With imageRepository: the tag to run. */
  imageTag: string;
  natGateways: number;
  logRetentionDays: number;
  /** Who may reach the API's load balancer. */
  apiAllowedCidr: string;
  /** An e-mail subscribed to the alert topic (alarms and SNS alerts). */
  alarmEmail?: string;
  /** Dead letters in 5 minutes that raise the dead-letter alarm. */
  deadLetterAlarmThreshold: number;
}

export const DEFAULTS: Omit<Settings, 'certificateArn'> = {
  streamBackend: 'kinesis',
  kinesisStreamPrefix: 'meterstream-',
  kinesisShards: 1,
  kafkaTopicPrefix: 'meterstream.',
  kafkaPartitions: 6,
  openSearchInstanceType: 't3.medium.search',
  openSearchInstanceCount: 1,
  openSearchVolumeGb: 20,
  timeseries: 'timestream',
  bridgeCount: 1,
  processorCount: 1,
  processorMaxCount: 4,
  apiCount: 1,
  bridgeCpu: 256,
  bridgeMemory: 512,
  processorCpu: 512,
  processorMemory: 1024,
  apiCpu: 256,
  apiMemory: 512,
  imageTag: 'latest',
  natGateways: 1,
  logRetentionDays: 30,
  apiAllowedCidr: '0.0.0.0/0',
  deadLetterAlarmThreshold: 100,
};

export class SettingsError extends Error {}

/** Reads and validates the settings; `context` answers one key (e.g. `key => app.node.tryGetContext(key)`). */
export function readSettings(context: (key: string) => unknown): Settings {
  const problems: string[] = [];
  const str = (key: string): string | undefined => {
    const v = context(key);
    if (v === undefined || v === null || v === '') return undefined;
    return String(v);
  };
  const num = (key: keyof Settings, fallback: number, min = 1): number => {
    const raw = str(key);
    if (raw === undefined) return fallback;
    const n = Number(raw);
    if (!Number.isInteger(n) || n < min) {
      problems.push(`${key}: must be a whole number >= ${min} (got "${raw}")`);
      return fallback;
    }
    return n;
  };
  const oneOf = <T extends string>(key: keyof Settings, allowed: readonly T[], fallback: T): T => {
    const raw = str(key) ?? fallback;
    if (!allowed.includes(raw as T)) problems.push(`${key}: must be one of ${allowed.join(', ')} (got "${raw}")`);
    return raw as T;
  };

  const certificateArn = str('certificateArn') ?? '';
  if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[\w-]+$/.test(certificateArn)) {
    problems.push('certificateArn: the ARN of an ACM certificate for the API (-c certificateArn=arn:aws:acm:REGION:ACCOUNT:certificate/ID)');
  }

  const s: Settings = {
    certificateArn,
    streamBackend: oneOf('streamBackend', ['kinesis', 'kafka'] as const, DEFAULTS.streamBackend),
    kinesisStreamPrefix: str('kinesisStreamPrefix') ?? DEFAULTS.kinesisStreamPrefix,
    kinesisShards: num('kinesisShards', DEFAULTS.kinesisShards),
    kafkaBrokers: str('kafkaBrokers'),
    kafkaSecretArn: str('kafkaSecretArn'),
    kafkaTopicPrefix: str('kafkaTopicPrefix') ?? DEFAULTS.kafkaTopicPrefix,
    kafkaPartitions: num('kafkaPartitions', DEFAULTS.kafkaPartitions),
    mskClusterName: str('mskClusterName'),
    searchEndpoint: str('searchEndpoint'),
    searchSecretArn: str('searchSecretArn'),
    openSearchInstanceType: str('openSearchInstanceType') ?? DEFAULTS.openSearchInstanceType,
    openSearchInstanceCount: num('openSearchInstanceCount', DEFAULTS.openSearchInstanceCount),
    openSearchVolumeGb: num('openSearchVolumeGb', DEFAULTS.openSearchVolumeGb, 10),
    timeseries: oneOf('timeseries', ['timestream', 'none'] as const, DEFAULTS.timeseries),
    mqttUrl: str('mqttUrl'),
    mqttSecretArn: str('mqttSecretArn'),
    bridgeCount: num('bridgeCount', DEFAULTS.bridgeCount, 0),
    processorCount: num('processorCount', DEFAULTS.processorCount),
    processorMaxCount: num('processorMaxCount', DEFAULTS.processorMaxCount),
    apiCount: num('apiCount', DEFAULTS.apiCount),
    bridgeCpu: num('bridgeCpu', DEFAULTS.bridgeCpu),
    bridgeMemory: num('bridgeMemory', DEFAULTS.bridgeMemory),
    processorCpu: num('processorCpu', DEFAULTS.processorCpu),
    processorMemory: num('processorMemory', DEFAULTS.processorMemory),
    apiCpu: num('apiCpu', DEFAULTS.apiCpu),
    apiMemory: num('apiMemory', DEFAULTS.apiMemory),
    imageRepository: str('imageRepository'),
    imageTag: str('imageTag') ?? DEFAULTS.imageTag,
    natGateways: num('natGateways', DEFAULTS.natGateways),
    logRetentionDays: num('logRetentionDays', DEFAULTS.logRetentionDays),
    apiAllowedCidr: str('apiAllowedCidr') ?? DEFAULTS.apiAllowedCidr,
    alarmEmail: str('alarmEmail'),
    deadLetterAlarmThreshold: num('deadLetterAlarmThreshold', DEFAULTS.deadLetterAlarmThreshold),
  };

  if (s.streamBackend === 'kafka') {
    if (!s.kafkaBrokers) problems.push('kafkaBrokers: required with streamBackend=kafka (host:9096,host:9096)');
    if (!s.kafkaSecretArn) problems.push('kafkaSecretArn: required with streamBackend=kafka (a secret with "username" and "password")');
    if (s.processorMaxCount > s.kafkaPartitions) problems.push('processorMaxCount: more processors than kafkaPartitions would sit idle');
    if (s.processorCount > s.processorMaxCount) problems.push('processorCount: must not exceed processorMaxCount');
  } else {
    // Kinesis processors share the shards through leases (README "Kinesis scale-out"): a task
    // beyond one per readings shard would hold nothing.
    if (s.processorCount > s.kinesisShards) problems.push('processorCount: more processors than kinesisShards would sit idle');
    if (s.processorCount > s.processorMaxCount) problems.push('processorCount: must not exceed processorMaxCount');
  }
  if (s.searchEndpoint && !/^https:\/\//.test(s.searchEndpoint)) problems.push('searchEndpoint: must be an https:// URL');
  if (s.searchEndpoint && !s.searchSecretArn) problems.push('searchSecretArn: required with searchEndpoint (a secret with "username" and "password")');
  if (s.mqttSecretArn && !s.mqttUrl) problems.push('mqttSecretArn: only meaningful with mqttUrl');
  if (s.mqttUrl && !/^mqtts?:\/\//.test(s.mqttUrl)) problems.push('mqttUrl: must be an mqtt:// or mqtts:// URL');
  if (!/^[a-zA-Z0-9_.-]{1,100}$/.test(s.kinesisStreamPrefix)) problems.push('kinesisStreamPrefix: letters, digits, _ . - only');

  if (problems.length > 0) throw new SettingsError(`invalid deployment context:\n  ${problems.join('\n  ')}`);
  return s;
}
