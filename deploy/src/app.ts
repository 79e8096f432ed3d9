import { App, Validations, type AppProps } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { MeterstreamStack } from './meterstream-stack';
import { readSettings } from './settings';

export const STACK_NAME = 'Meterstream';

/**
 * The CDK app: the settings from context, the stack, and cdk-nag's AwsSolutions pack as a validation
 * plugin: an unacknowledged finding fails `cdk synth` and `cdk deploy` (every acknowledgement sits next to
 * the construct it concerns, with its reason).
 */
export function buildApp(props: AppProps = {}): { app: App; stack: MeterstreamStack } {
  const app = new App(props);
  const settings = readSettings((key) => app.node.tryGetContext(key));
  const stack = new MeterstreamStack(app, STACK_NAME, {
    settings,
    description: 'meterstream: smart-meter telemetry on ECS Fargate (IoT Core, Kinesis or Kafka, OpenSearch, Timestream, SNS)',
    // Account and region from the CLI's credentials when deploying; none when synthesizing offline.
    env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  });
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app, { verbose: true }));
  return { app, stack };
}
