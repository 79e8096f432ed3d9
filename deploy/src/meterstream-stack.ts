import * as fs from 'node:fs';
import * as path from 'node:path';
import {
  Duration,
  RemovalPolicy,
  Stack,
  type StackProps,
  Validations,
  aws_applicationautoscaling as appscaling,
  aws_cloudwatch as cloudwatch,
  aws_cloudwatch_actions as cwActions,
  aws_dynamodb as dynamodb,
  aws_ec2 as ec2,
  aws_ecr as ecr,
  aws_ecs as ecs,
  aws_elasticloadbalancingv2 as elbv2,
  aws_iam as iam,
  aws_kinesis as kinesis,
  aws_kms as kms,
  aws_logs as logs,
  aws_opensearchservice as opensearch,
  aws_secretsmanager as secretsmanager,
  aws_sns as sns,
  aws_sns_subscriptions as subscriptions,
  aws_timestream as timestream,
  CfnOutput,
  type CfnResource,
} from 'aws-cdk-lib';
import { Platform } from 'aws-cdk-lib/aws-ecr-assets';
import type { Construct } from 'constructs';
import { IotIngest } from './iot-ingest';
import type { Settings } from './settings';

/** The port streams the services use (libs/contracts STREAMS; the spec checks they agree). */
export const APP_STREAMS = ['readings', 'dead-letters', 'alert-commands', 'aggregates', 'alerts', 'late-readings'] as const;
/** What the IoT topic rule writes; on Kinesis the ingest bridge reads it (INGEST_SOURCE=kinesis-rule, INGEST_RAW_STREAM). */
export const RAW_STREAM = 'raw';
export const API_PORT = 3000;
/** The query API's liveness route (apps/query-api/src/health/health.controller.ts), public even with API_TOKEN. */
export const API_HEALTH_PATH = '/health';
export const COMMANDS = {
  bridge: ['node', 'dist/apps/ingest-bridge/src/main.js'],
  processor: ['node', 'dist/apps/stream-processor/src/main.js'],
  api: ['node', 'dist/apps/query-api/src/main.js'],
} as const;
const TIMESTREAM_TABLE = 'readings';
/** The repository root, the Docker build context of deploy/Dockerfile (from deploy/src or its dist/ copy). */
function repoRoot(): string {
  for (let dir = __dirname; dir !== path.dirname(dir); dir = path.dirname(dir)) {
    if (fs.existsSync(path.join(dir, 'deploy', 'Dockerfile')) && fs.existsSync(path.join(dir, 'package.json'))) return dir;
  }
  throw new Error(`no repository root with deploy/Dockerfile above ${__dirname}`);
}

export interface MeterstreamStackProps extends StackProps {
  settings: Settings;
}

type Role = 'bridge' | 'processor' | 'api';

/**
 * meterstream on ECS Fargate: the VPC, the streams (Kinesis, or an existing Kafka/MSK cluster),
 * the read model (an OpenSearch domain in the VPC, or an existing cluster), Timestream, the SNS
 * alert topic, the IoT Core ingest side, one Fargate service per role with its own least-privilege
 * task role, the API behind an HTTPS load balancer, and alarms to the alert topic.
 */
export class MeterstreamStack extends Stack {
  readonly settings: Settings;

  constructor(scope: Construct, id: string, props: MeterstreamStackProps) {
    super(scope, id, props);
    const s = (this.settings = props.settings);
    const retention = retentionDays(s.logRetentionDays);

    // ---- Network -------------------------------------------------------------------------------
    const vpc = new ec2.Vpc(this, 'Vpc', {
      maxAzs: 2,
      natGateways: s.natGateways,
      subnetConfiguration: [
        { name: 'public', subnetType: ec2.SubnetType.PUBLIC, cidrMask: 24 },
        { name: 'private', subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS, cidrMask: 22 },
      ],
    });
    vpc.addFlowLog('FlowLog', {
      destination: ec2.FlowLogDestination.toCloudWatchLogs(new logs.LogGroup(this, 'FlowLogs', { retention, removalPolicy: RemovalPolicy.DESTROY })),
      trafficType: ec2.FlowLogTrafficType.REJECT,
    });

    // A customer-managed key for the alert topic and the rule's error queue (SNS and SQS need one
    // that CloudWatch alarms and IoT Core may use; the AWS-managed keys do not allow that).
    const key = new kms.Key(this, 'DataKey', { enableKeyRotation: true, description: 'meterstream: alert topic, IoT rule error queue' });
    // CloudWatch alarms publish to the encrypted alert topic.
    key.addToResourcePolicy(
      new iam.PolicyStatement({
        principals: [new iam.ServicePrincipal('cloudwatch.amazonaws.com')],
        actions: ['kms:Decrypt', 'kms:GenerateDataKey*'],
        resources: ['*'],
        conditions: { StringEquals: { 'aws:SourceAccount': this.account } },
      }),
    );

    // ---- Streams --------------------------------------------------------------------------------
    const newStream = (name: string) =>
      new kinesis.Stream(this, `Stream-${name}`, {
        streamName: `${s.kinesisStreamPrefix}${name}`,
        shardCount: s.kinesisShards,
        // The AWS-managed aws/kinesis key: encrypted at rest without per-call KMS charges or grants
        // (cdk-nag AwsSolutions-KDS3 prefers it unless a compliance rule asks for a CMK).
        encryption: kinesis.StreamEncryption.MANAGED,
        retentionPeriod: Duration.hours(24),
      });
    // The IoT topic rule writes here in both stream modes; on Kinesis the ingest bridge reads it.
    const rawStream = newStream(RAW_STREAM);
    const streams = new Map<string, kinesis.Stream>();
    let leases: dynamodb.Table | undefined;
    if (s.streamBackend === 'kinesis') {
      for (const name of APP_STREAMS) streams.set(name, newStream(name));
      // The lease table of the Kinesis consumer groups (libs/stream/src/leases): per group and
      // shard the owner, lease counter, committed position and parents, KCL-style, and the
      // processor's checkpoints beside them (KINESIS_LEASE_TABLE).
      leases = new dynamodb.Table(this, 'LeaseTable', {
        // The key LeaseTable expects (LEASE_TABLE_KEY; the spec checks that they agree).
        partitionKey: { name: 'leaseGroup', type: dynamodb.AttributeType.STRING },
        sortKey: { name: 'leaseKey', type: dynamodb.AttributeType.STRING },
        billingMode: dynamodb.BillingMode.PAY_PER_REQUEST,
        encryption: dynamodb.TableEncryption.AWS_MANAGED,
        pointInTimeRecoverySpecification: { pointInTimeRecoveryEnabled: true },
        removalPolicy: RemovalPolicy.DESTROY,
      });
      new CfnOutput(this, 'LeaseTableName', { value: leases.tableName, description: 'Kinesis consumer leases, positions and processor checkpoints' });
    }
    const stream = (name: string) => {
      if (name === RAW_STREAM) return rawStream;
      const found = streams.get(name);
      if (!found) throw new Error(`no Kinesis stream ${name}`);
      return found;
    };

    // ---- IoT Core -------------------------------------------------------------------------------
    const iotIngest = new IotIngest(this, 'Iot', { rawStream, key });

    // ---- Alert topic ----------------------------------------------------------------------------
    const alertTopic = new sns.Topic(this, 'AlertTopic', { masterKey: key, enforceSSL: true, displayName: 'meterstream alerts and alarms' });
    if (s.alarmEmail) alertTopic.addSubscription(new subscriptions.EmailSubscription(s.alarmEmail));

    // ---- Time series ----------------------------------------------------------------------------
    let timestreamTable: timestream.CfnTable | undefined;
    if (s.timeseries === 'timestream') {
      const database = new timestream.CfnDatabase(this, 'TimestreamDatabase', {});
      database.applyRemovalPolicy(RemovalPolicy.RETAIN);
      timestreamTable = new timestream.CfnTable(this, 'TimestreamTable', {
        databaseName: database.ref,
        tableName: TIMESTREAM_TABLE,
        // What libs/timeseries creates when the table is missing: 24 h memory store, 10 years
        // magnetic, magnetic writes on (a replay of old readings must land, not be rejected).
        retentionProperties: { MemoryStoreRetentionPeriodInHours: '24', MagneticStoreRetentionPeriodInDays: '3650' },
        magneticStoreWriteProperties: { EnableMagneticStoreWrites: true },
      });
      timestreamTable.applyRemovalPolicy(RemovalPolicy.RETAIN);
      Validations.of(database).acknowledge({ id: 'AwsSolutions-TS3', reason: 'Encrypted at rest with the AWS-managed Timestream key; meter readings need no customer-managed key lifecycle in the pilot (set KmsKeyId when a compliance rule asks for one).' });
      // Timestream for LiveAnalytics takes no new customers since 2025-06-20 (README): kept because
      // the app's time-series adapter targets it; -c timeseries=none leaves it out.
      for (const c of [database, timestreamTable]) {
        const reason = 'Timestream for LiveAnalytics is in maintenance mode; it is what libs/timeseries writes to, and -c timeseries=none deploys without it.';
        Validations.of(c).acknowledge({ id: 'CloudFormation-Validate::W3697', reason });
        ignoreCfnLint(c, 'W3697', reason);
      }
    }

    // ---- Security groups ------------------------------------------------------------------------
    const sg = (name: string, description: string) => new ec2.SecurityGroup(this, `${name}Sg`, { vpc, description, allowAllOutbound: true });
    const bridgeSg = sg('Bridge', 'meterstream ingest bridge tasks');
    const processorSg = sg('Processor', 'meterstream stream processor tasks');
    const apiSg = sg('Api', 'meterstream query API tasks');
    const albSg = new ec2.SecurityGroup(this, 'AlbSg', { vpc, description: 'meterstream API load balancer', allowAllOutbound: false });
    albSg.addIngressRule(ec2.Peer.ipv4(s.apiAllowedCidr), ec2.Port.tcp(443), 'HTTPS to the API and dashboard');
    albSg.addEgressRule(apiSg, ec2.Port.tcp(API_PORT), 'to the API tasks');
    apiSg.addIngressRule(albSg, ec2.Port.tcp(API_PORT), 'from the load balancer');
    if (s.apiAllowedCidr === '0.0.0.0/0') {
      Validations.of(albSg).acknowledge(
        {
          id: 'AwsSolutions-EC23',
          reason: 'The dashboard and REST API are meant to be reached from operators anywhere (HTTPS only; every route but /health needs the bearer token). Narrow it with -c apiAllowedCidr=…',
        },
    );
    }

    // ---- Read model -----------------------------------------------------------------------------
    let searchUrl: string;
    let searchSecret: secretsmanager.ISecret;
    if (s.searchEndpoint && s.searchSecretArn) {
      searchUrl = s.searchEndpoint;
      searchSecret = secretsmanager.Secret.fromSecretCompleteArn(this, 'SearchSecret', s.searchSecretArn);
    } else {
      const searchUser = new secretsmanager.Secret(this, 'SearchUser', {
        description: 'meterstream: the OpenSearch fine-grained access control user of the processor and API',
        generateSecretString: {
          secretStringTemplate: JSON.stringify({ username: 'meterstream' }),
          generateStringKey: 'password',
          passwordLength: 32,
          requireEachIncludedType: true,
          excludeCharacters: '"\'\\/@ `',
        },
      });
      Validations.of(searchUser).acknowledge(
        { id: 'AwsSolutions-SMG4', reason: 'It is the domain master user password: rotating it needs the domain updated and the tasks restarted (README: rotate by redeploying); no rotation Lambda is deployed.' },
    );
      searchSecret = searchUser;
      const searchSg = sg('Search', 'meterstream OpenSearch domain');
      searchSg.addIngressRule(processorSg, ec2.Port.tcp(443), 'processor writes the read model');
      searchSg.addIngressRule(apiSg, ec2.Port.tcp(443), 'API reads the read model');
      const domain = new opensearch.Domain(this, 'Search', {
        version: opensearch.EngineVersion.OPENSEARCH_2_19,
        vpc,
        vpcSubnets: [{ subnets: vpc.privateSubnets.slice(0, s.openSearchInstanceCount > 1 ? 2 : 1) }],
        securityGroups: [searchSg],
        capacity: { dataNodes: s.openSearchInstanceCount, dataNodeInstanceType: s.openSearchInstanceType, multiAzWithStandbyEnabled: false },
        zoneAwareness: s.openSearchInstanceCount > 1 ? { enabled: true, availabilityZoneCount: 2 } : { enabled: false },
        ebs: { volumeSize: s.openSearchVolumeGb, volumeType: ec2.EbsDeviceVolumeType.GP3 },
        encryptionAtRest: { enabled: true },
        nodeToNodeEncryption: true,
        enforceHttps: true,
        tlsSecurityPolicy: opensearch.TLSSecurityPolicy.TLS_1_2,
        fineGrainedAccessControl: { masterUserName: 'meterstream', masterUserPassword: searchUser.secretValueFromJson('password') },
        removalPolicy: RemovalPolicy.RETAIN,
      });
      // Inside the VPC behind its security group, fine-grained access control authenticates and
      // authorises each request, so the resource policy lets HTTP through. Set on the CloudFormation
      // resource itself: the L2 accessPolicies prop would add a custom-resource Lambda for it.
      (domain.node.defaultChild as opensearch.CfnDomain).accessPolicies = {
        Version: '2012-10-17',
        Statement: [{ Effect: 'Allow', Principal: { AWS: '*' }, Action: 'es:ESHttp*', Resource: `arn:${this.partition}:es:${this.region}:${this.account}:domain/*/*` }],
      };
      Validations.of(domain).acknowledge(
        { id: 'AwsSolutions-OS3', reason: 'Pilot size: no dedicated master nodes (one or two data nodes); add them with the data nodes when the fleet grows.' },
        { id: 'AwsSolutions-OS4', reason: 'Pilot size: no dedicated master nodes (one or two data nodes); add them with the data nodes when the fleet grows.' },
        { id: 'AwsSolutions-OS5', reason: 'The domain is only reachable inside the VPC through its security group (processor and API tasks), and fine-grained access control authenticates every request.' },
        { id: 'AwsSolutions-OS7', reason: 'Zone awareness needs two or more data nodes; the pilot default is one (-c openSearchInstanceCount=2 turns it on). The read model can be rebuilt from the readings stream by replay.' },
        { id: 'AwsSolutions-OS9[LogExport::SEARCH_SLOW_LOGS]', reason: 'Slow-log publishing needs a CloudWatch Logs resource policy custom resource (a Lambda); left off for the pilot, enable it when tuning queries.' },
        { id: 'AwsSolutions-OS9[LogExport::INDEX_SLOW_LOGS]', reason: 'Slow-log publishing needs a CloudWatch Logs resource policy custom resource (a Lambda); left off for the pilot, enable it when tuning indexing.' },
    );
      searchUrl = `https://${domain.domainEndpoint}`;
      new CfnOutput(this, 'SearchEndpoint', { value: searchUrl });
    }

    // ---- Secrets --------------------------------------------------------------------------------
    const apiToken = new secretsmanager.Secret(this, 'ApiToken', {
      description: 'meterstream: the query API bearer token (API_TOKEN)',
      generateSecretString: { passwordLength: 48, excludePunctuation: true },
    });
    Validations.of(apiToken).acknowledge(
      { id: 'AwsSolutions-SMG4', reason: 'The API reads API_TOKEN at start-up, so a rotation means a new deployment of the API tasks; rotate by hand (README) rather than with a Lambda that would leave running tasks on the old token.' },
    );
    const kafkaSecret = s.kafkaSecretArn ? secretsmanager.Secret.fromSecretCompleteArn(this, 'KafkaSecret', s.kafkaSecretArn) : undefined;
    const mqttSecret = s.mqttSecretArn ? secretsmanager.Secret.fromSecretCompleteArn(this, 'MqttSecret', s.mqttSecretArn) : undefined;

    // ---- Environment (only variables libs/config/src/config.ts reads) ---------------------------
    const streamEnv: Record<string, string> = { AWS_REGION: this.region, STREAM_BACKEND: s.streamBackend };
    const streamSecrets: Record<string, ecs.Secret> = {};
    if (s.streamBackend === 'kinesis') {
      streamEnv.KINESIS_STREAM_PREFIX = s.kinesisStreamPrefix;
      streamEnv.KINESIS_SHARDS = String(s.kinesisShards);
    } else {
      streamEnv.KAFKA_BROKERS = s.kafkaBrokers ?? '';
      streamEnv.KAFKA_SSL = 'true';
      streamEnv.KAFKA_TOPIC_PREFIX = s.kafkaTopicPrefix;
      streamEnv.STREAM_PARTITIONS = String(s.kafkaPartitions);
      if (kafkaSecret) {
        streamSecrets.KAFKA_SASL_USERNAME = ecs.Secret.fromSecretsManager(kafkaSecret, 'username');
        streamSecrets.KAFKA_SASL_PASSWORD = ecs.Secret.fromSecretsManager(kafkaSecret, 'password');
      }
    }
    const readModelEnv = { READ_MODEL_BACKEND: 'elasticsearch', ELASTICSEARCH_URL: searchUrl };
    const readModelSecrets = {
      ELASTICSEARCH_USERNAME: ecs.Secret.fromSecretsManager(searchSecret, 'username'),
      ELASTICSEARCH_PASSWORD: ecs.Secret.fromSecretsManager(searchSecret, 'password'),
    };

    // ---- Task roles: exactly what each service calls --------------------------------------------
    const taskRole = (name: string, description: string) =>
      new iam.Role(this, `${name}TaskRole`, { assumedBy: new iam.ServicePrincipal('ecs-tasks.amazonaws.com'), description });
    const bridgeRole = taskRole('Bridge', 'meterstream ingest bridge: append readings and dead letters');
    const processorRole = taskRole('Processor', 'meterstream stream processor: read readings, write aggregates/alerts, Timestream, SNS');
    const apiRole = taskRole('Api', "meterstream query API: append operators' alert commands");
    if (s.streamBackend === 'kinesis') {
      const arns = (...names: string[]) => names.map((n) => stream(n).streamArn);
      const append = (role: iam.Role, ...names: string[]) => {
        role.addToPolicy(new iam.PolicyStatement({ actions: ['kinesis:DescribeStreamSummary', 'kinesis:PutRecords'], resources: arns(...names) }));
      };
      const read = (role: iam.Role, ...names: string[]) => {
        role.addToPolicy(
          new iam.PolicyStatement({ actions: ['kinesis:DescribeStreamSummary', 'kinesis:ListShards', 'kinesis:GetShardIterator', 'kinesis:GetRecords'], resources: arns(...names) }),
        );
      };
      append(bridgeRole, 'readings', 'dead-letters');
      // Without a broker of its own, the bridge reads the IoT rule's raw stream (see bridgeEnv).
      if (!s.mqttUrl) read(bridgeRole, RAW_STREAM);
      read(processorRole, 'readings', 'dead-letters', 'alert-commands', 'alerts');
      append(processorRole, 'aggregates', 'alerts', 'late-readings');
      append(apiRole, 'alert-commands');
    }
    if (leases) {
      // Exactly the calls of LeaseTable: DescribeTable (start-up check), Query (a group's leases),
      // Get/Put/UpdateItem (leases, positions, checkpoint parts), ConditionCheckItem (the lease
      // fence of a checkpoint transaction; TransactGet/WriteItems need no action of their own).
      leases.grant(processorRole, 'dynamodb:DescribeTable', 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:ConditionCheckItem');
      // The bridge reading the raw stream is a Kinesis group member too (its raw-stream positions).
      if (!s.mqttUrl) leases.grant(bridgeRole, 'dynamodb:DescribeTable', 'dynamodb:Query', 'dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem');
    }
    // Publishing to the KMS-encrypted alert topic.
    processorRole.addToPolicy(new iam.PolicyStatement({ actions: ['kms:Decrypt', 'kms:GenerateDataKey'], resources: [key.keyArn] }));
    processorRole.addToPolicy(new iam.PolicyStatement({ actions: ['sns:Publish'], resources: [alertTopic.topicArn] }));
    if (timestreamTable) {
      processorRole.addToPolicy(new iam.PolicyStatement({ actions: ['timestream:DescribeTable', 'timestream:WriteRecords'], resources: [timestreamTable.attrArn] }));
      processorRole.addToPolicy(new iam.PolicyStatement({ actions: ['timestream:DescribeEndpoints'], resources: ['*'] }));
      Validations.of(processorRole).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'timestream:DescribeEndpoints (endpoint discovery, required before any Timestream write) supports no resource-level permission.' });
    }

    // ---- Cluster and services -------------------------------------------------------------------
    const cluster = new ecs.Cluster(this, 'Cluster', { vpc, containerInsightsV2: ecs.ContainerInsights.ENABLED });
    const image = s.imageRepository
      ? ecs.ContainerImage.fromEcrRepository(ecr.Repository.fromRepositoryName(this, 'ImageRepository', s.imageRepository), s.imageTag)
      : ecs.ContainerImage.fromAsset(repoRoot(), { file: 'deploy/Dockerfile', platform: Platform.LINUX_AMD64 });

    const service = (
      role: Role,
      props: { cpu: number; memory: number; count: number; taskRole: iam.Role; securityGroup: ec2.SecurityGroup; environment: Record<string, string>; secrets: Record<string, ecs.Secret>; containerHealth?: ecs.HealthCheck; port?: number },
    ) => {
      const name = role[0].toUpperCase() + role.slice(1);
      const logGroup = new logs.LogGroup(this, `${name}Logs`, { retention, removalPolicy: RemovalPolicy.DESTROY });
      const taskDefinition = new ecs.FargateTaskDefinition(this, `${name}Task`, {
        cpu: props.cpu,
        memoryLimitMiB: props.memory,
        taskRole: props.taskRole,
        runtimePlatform: { cpuArchitecture: ecs.CpuArchitecture.X86_64, operatingSystemFamily: ecs.OperatingSystemFamily.LINUX },
      });
      taskDefinition.addContainer('app', {
        image,
        command: [...COMMANDS[role]],
        environment: props.environment,
        secrets: props.secrets,
        logging: ecs.LogDrivers.awsLogs({ logGroup, streamPrefix: role }),
        healthCheck: props.containerHealth,
        portMappings: props.port ? [{ containerPort: props.port }] : [],
        stopTimeout: Duration.seconds(60),
      });
      Validations.of(taskDefinition).acknowledge(
        { id: 'AwsSolutions-ECS2', reason: 'The environment holds only non-secret settings (backends, names, endpoints); API_TOKEN and every credential are ECS secrets from Secrets Manager.' },
    );
      const svc = new ecs.FargateService(this, `${name}Service`, {
        cluster,
        taskDefinition,
        desiredCount: props.count,
        securityGroups: [props.securityGroup],
        vpcSubnets: { subnetType: ec2.SubnetType.PRIVATE_WITH_EGRESS },
        circuitBreaker: { rollback: true },
        minHealthyPercent: role === 'api' ? 100 : 0,
        maxHealthyPercent: 200,
      });
      return { service: svc, taskDefinition, logGroup };
    };

    const bridgeEnv: Record<string, string> = { ...streamEnv };
    const bridgeSecrets: Record<string, ecs.Secret> = { ...streamSecrets };
    if (s.mqttUrl) bridgeEnv.MQTT_URL = s.mqttUrl;
    if (mqttSecret) {
      bridgeSecrets.MQTT_USERNAME = ecs.Secret.fromSecretsManager(mqttSecret, 'username');
      bridgeSecrets.MQTT_PASSWORD = ecs.Secret.fromSecretsManager(mqttSecret, 'password');
    }
    // On Kinesis without -c mqttUrl the bridge reads the IoT rule's raw stream (AWS IoT Core allows
    // 100 publishes/s per connection, so no subscriber can take a fleet; the rule fans in). Its
    // raw-stream positions are leased group commits in the lease table; it runs as one task (README). On
    // Kafka the raw stream cannot be read (INGEST_SOURCE=kinesis-rule needs STREAM_BACKEND=kinesis):
    // there the bridge runs only with a broker to subscribe to.
    const readsRawStream = s.streamBackend === 'kinesis' && !s.mqttUrl;
    if (readsRawStream) {
      bridgeEnv.INGEST_SOURCE = 'kinesis-rule';
      bridgeEnv.INGEST_RAW_STREAM = RAW_STREAM;
      if (leases) bridgeEnv.KINESIS_LEASE_TABLE = leases.tableName;
    }
    const bridgeCount = readsRawStream ? Math.min(1, s.bridgeCount) : s.mqttUrl ? s.bridgeCount : 0;
    // The bridge and the processor serve GET /health on localhost (BRIDGE_METRICS_PORT,
    // PROCESSOR_METRICS_PORT): the image's healthcheck.js asks the one its container runs.
    const serviceHealth: ecs.HealthCheck = {
      command: ['CMD', 'node', '/app/healthcheck.js'],
      interval: Duration.seconds(30),
      timeout: Duration.seconds(5),
      retries: 3,
      startPeriod: Duration.seconds(60),
    };
    const bridge = service('bridge', {
      cpu: s.bridgeCpu,
      memory: s.bridgeMemory,
      count: bridgeCount,
      taskRole: bridgeRole,
      securityGroup: bridgeSg,
      environment: bridgeEnv,
      secrets: bridgeSecrets,
      containerHealth: serviceHealth,
    });

    const processorEnv: Record<string, string> = {
      ...streamEnv,
      ...readModelEnv,
      TIMESERIES_BACKEND: s.timeseries,
      ALERT_CHANNELS: 'sns',
      SNS_TOPIC_ARN: alertTopic.topicArn,
    };
    if (timestreamTable) {
      processorEnv.TIMESTREAM_DATABASE = timestreamTable.databaseName;
      processorEnv.TIMESTREAM_TABLE = TIMESTREAM_TABLE;
    }
    if (leases) processorEnv.KINESIS_LEASE_TABLE = leases.tableName;
    const processor = service('processor', {
      cpu: s.processorCpu,
      memory: s.processorMemory,
      count: s.processorCount,
      taskRole: processorRole,
      securityGroup: processorSg,
      environment: processorEnv,
      secrets: { ...streamSecrets, ...readModelSecrets },
      containerHealth: serviceHealth,
    });

    const api = service('api', {
      cpu: s.apiCpu,
      memory: s.apiMemory,
      count: s.apiCount,
      taskRole: apiRole,
      securityGroup: apiSg,
      environment: { ...streamEnv, ...readModelEnv, HOST: '0.0.0.0', PORT: String(API_PORT) },
      secrets: { ...streamSecrets, ...readModelSecrets, API_TOKEN: ecs.Secret.fromSecretsManager(apiToken) },
      port: API_PORT,
      containerHealth: {
        command: ['CMD', 'node', '-e', `fetch('http://127.0.0.1:${API_PORT}${API_HEALTH_PATH}').then((r) => process.exit(r.ok ? 0 : 1), () => process.exit(1))`],
        interval: Duration.seconds(30),
        timeout: Duration.seconds(5),
        retries: 3,
        startPeriod: Duration.seconds(30),
      },
    });
    if (s.streamBackend === 'kinesis') {
      // Network ingress from the processor/API is not needed for Kinesis (AWS API over HTTPS via NAT).
    }

    // Execution roles pull the image and read the secrets; CDK scopes both, except ECR's token call.
    for (const svc of [bridge, processor, api]) {
      Validations.of(svc.taskDefinition).acknowledge({ id: 'AwsSolutions-IAM5[Resource::*]', reason: 'ecr:GetAuthorizationToken (image pull by the execution role) supports no resource-level permission.' });
    }

    // ---- Load balancer --------------------------------------------------------------------------
    const alb = new elbv2.ApplicationLoadBalancer(this, 'Alb', { vpc, internetFacing: true, securityGroup: albSg, dropInvalidHeaderFields: true });
    Validations.of(alb).acknowledge(
      { id: 'AwsSolutions-ELB2', reason: 'Pilot: no access-log bucket (the API logs every request it serves to CloudWatch); add one with alb.logAccessLogs when an audit trail of the edge is required.' },
    );
    const listener = alb.addListener('Https', {
      port: 443,
      protocol: elbv2.ApplicationProtocol.HTTPS,
      certificates: [elbv2.ListenerCertificate.fromArn(s.certificateArn)],
      sslPolicy: elbv2.SslPolicy.RECOMMENDED_TLS,
      open: false,
    });
    const targetGroup = listener.addTargets('Api', {
      port: API_PORT,
      protocol: elbv2.ApplicationProtocol.HTTP,
      targets: [api.service],
      healthCheck: { path: API_HEALTH_PATH, healthyHttpCodes: '200', interval: Duration.seconds(15), healthyThresholdCount: 2, unhealthyThresholdCount: 3 },
      deregistrationDelay: Duration.seconds(30),
    });
    ignoreCfnLint(
      api.service.node.defaultChild as CfnResource,
      'W3005',
      "CDK makes an ALB-attached service DependsOn its listener's target group, which the service's Ref already implies: redundant, harmless.",
    );
    new CfnOutput(this, 'ApiUrl', { value: `https://${alb.loadBalancerDnsName}`, description: 'Point a DNS name of the certificate at this load balancer' });
    new CfnOutput(this, 'ApiTokenSecret', { value: apiToken.secretArn });

    // ---- Processor scaling ----------------------------------------------------------------------
    if (s.streamBackend === 'kafka') {
      // The Kafka consumer group splits the partitions among however many processors run.
      const scaling = processor.service.autoScaleTaskCount({ minCapacity: s.processorCount, maxCapacity: s.processorMaxCount });
      scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 70, scaleInCooldown: Duration.minutes(5), scaleOutCooldown: Duration.minutes(2) });
      if (s.mskClusterName) {
        scaling.scaleOnMetric('ConsumerLag', {
          metric: this.mskLag(s),
          scalingSteps: [{ upper: 30, change: -1 }, { lower: 120, change: +1 }, { lower: 600, change: +2 }],
          adjustmentType: appscaling.AdjustmentType.CHANGE_IN_CAPACITY,
          cooldown: Duration.minutes(3),
        });
      }
    }
    // Kinesis: the leases split the shards among however many processors run (an added task takes
    // its even share, a stopped one's shards are taken over once its leases expire), so the
    // processors scale on CPU up to one per readings shard; more would hold no shard.
    const kinesisMax = Math.min(s.processorMaxCount, s.kinesisShards);
    if (s.streamBackend === 'kinesis' && kinesisMax > s.processorCount) {
      const scaling = processor.service.autoScaleTaskCount({ minCapacity: s.processorCount, maxCapacity: kinesisMax });
      scaling.scaleOnCpuUtilization('Cpu', { targetUtilizationPercent: 70, scaleInCooldown: Duration.minutes(5), scaleOutCooldown: Duration.minutes(2) });
    }

    // ---- Alarms → the alert topic ---------------------------------------------------------------
    const alarmAction = new cwActions.SnsAction(alertTopic);
    const alarm = (id: string, props: cloudwatch.AlarmProps) => new cloudwatch.Alarm(this, id, props).addAlarmAction(alarmAction);
    if (s.streamBackend === 'kinesis') {
      alarm('ReadingsIteratorAge', {
        alarmDescription: 'The stream processor is more than 5 minutes behind the readings stream',
        metric: stream('readings').metricGetRecordsIteratorAgeMilliseconds({ statistic: 'Maximum', period: Duration.minutes(1) }),
        threshold: 5 * 60 * 1000,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
      alarm('DeadLetterGrowth', {
        alarmDescription: `More than ${s.deadLetterAlarmThreshold} malformed messages in 5 minutes (GET /dead-letters says why)`,
        metric: stream('dead-letters').metricIncomingRecords({ statistic: 'Sum', period: Duration.minutes(5) }),
        threshold: s.deadLetterAlarmThreshold,
        evaluationPeriods: 1,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    } else if (s.mskClusterName) {
      alarm('ConsumerLag', {
        alarmDescription: 'The stream processors are more than 5 minutes behind the readings topic',
        metric: this.mskLag(s),
        threshold: 300,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
      });
    }
    alarm('RuleErrors', {
      alarmDescription: 'The IoT topic rule could not write messages to the raw stream (they wait in the error queue)',
      metric: iotIngest.errorQueue.metricApproximateNumberOfMessagesVisible({ statistic: 'Maximum', period: Duration.minutes(5) }),
      threshold: 0,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('Api5xx', {
      alarmDescription: 'The query API answered 5xx (or the load balancer found no healthy task)',
      metric: new cloudwatch.MathExpression({
        expression: 'target + elb',
        usingMetrics: {
          target: targetGroup.metrics.httpCodeTarget(elbv2.HttpCodeTarget.TARGET_5XX_COUNT, { statistic: 'Sum', period: Duration.minutes(5) }),
          elb: alb.metrics.httpCodeElb(elbv2.HttpCodeElb.ELB_5XX_COUNT, { statistic: 'Sum', period: Duration.minutes(5) }),
        },
        period: Duration.minutes(5),
      }),
      threshold: 5,
      evaluationPeriods: 1,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    alarm('ApiUnhealthyTargets', {
      alarmDescription: 'An API task fails the load balancer health check (GET /health)',
      metric: targetGroup.metrics.unhealthyHostCount({ statistic: 'Maximum', period: Duration.minutes(1) }),
      threshold: 1,
      evaluationPeriods: 3,
      comparisonOperator: cloudwatch.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
      treatMissingData: cloudwatch.TreatMissingData.NOT_BREACHING,
    });
    // The bridge and processor sit behind no load balancer: "unhealthy" is fewer running tasks than
    // desired (they exit on a fatal error, or fail their container health check, and ECS replaces
    // them; a crash loop shows here).
    for (const [name, svc, desired] of [
      ['Bridge', bridge.service, bridgeCount],
      ['Processor', processor.service, s.processorCount],
    ] as const) {
      if (desired === 0) continue;
      alarm(`${name}TasksMissing`, {
        alarmDescription: `Fewer ${name.toLowerCase()} tasks running than desired`,
        metric: new cloudwatch.Metric({
          namespace: 'ECS/ContainerInsights',
          metricName: 'RunningTaskCount',
          dimensionsMap: { ClusterName: cluster.clusterName, ServiceName: svc.serviceName },
          statistic: 'Minimum',
          period: Duration.minutes(1),
        }),
        threshold: desired,
        evaluationPeriods: 5,
        comparisonOperator: cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD,
        treatMissingData: cloudwatch.TreatMissingData.BREACHING,
      });
    }

    new CfnOutput(this, 'AlertTopicArn', { value: alertTopic.topicArn });
    new CfnOutput(this, 'RawStreamName', {
      value: rawStream.streamName,
      description: readsRawStream ? 'Where the IoT rule writes; the ingest bridge reads it' : 'Where the IoT rule writes; not read with Kafka or an MQTT broker',
    });
    new CfnOutput(this, 'MeterPolicyName', { value: iotIngest.meterPolicy.ref, description: 'Attach to each meter certificate' });
    new CfnOutput(this, 'RuleErrorQueueUrl', { value: iotIngest.errorQueue.queueUrl });
  }

  /** MSK's estimate of how far (seconds) the processors' consumer group is behind on readings. */
  private mskLag(s: Settings): cloudwatch.Metric {
    return new cloudwatch.Metric({
      namespace: 'AWS/Kafka',
      metricName: 'EstimatedMaxTimeLag',
      dimensionsMap: { 'Cluster Name': s.mskClusterName ?? '', 'Consumer Group': `${s.kafkaTopicPrefix}stream-processor`, Topic: `${s.kafkaTopicPrefix}readings` },
      statistic: 'Maximum',
      period: Duration.minutes(1),
    });
  }
}

function retentionDays(days: number): logs.RetentionDays {
  const allowed = Object.values(logs.RetentionDays).filter((v): v is number => typeof v === 'number');
  if (!allowed.includes(days)) throw new Error(`logRetentionDays: CloudWatch Logs accepts ${allowed.join(', ')} (got ${days})`);
  return days as logs.RetentionDays;
}

/** A cfn-lint finding that is understood and accepted on one resource (its reason is the argument). */
function ignoreCfnLint(resource: CfnResource, check: string, reason: string): void {
  resource.addMetadata('cfn-lint', { config: { ignore_checks: [check] } });
  resource.addMetadata('cfn-lint-reason', { [check]: reason });
}
