import { KinesisClient, type KinesisClientConfig } from '@aws-sdk/client-kinesis';
import { NodeHttpHandler } from '@smithy/node-http-handler';
import { kinesisRetryStrategy, type KinesisRetryPolicy } from './retry';

/** The one method of the SDK client this adapter calls; tests inject a fake. */
export interface KinesisSender {
  send(command: object): Promise<unknown>;
}

export interface KinesisClientOptions {
  region: string;
  /** kinesalite's http endpoint; unset in AWS. */
  endpoint?: string;
  /** Replaces the HTTP layer (tests). */
  requestHandler?: KinesisClientConfig['requestHandler'];
  retryPolicy: KinesisRetryPolicy;
}

/** The SDK client, retrying failed calls itself with the policy's attempts and backoff. */
export function createKinesisClient(options: KinesisClientOptions): KinesisClient {
  return new KinesisClient({
    region: options.region,
    retryStrategy: kinesisRetryStrategy(options.retryPolicy),
    // Credentials: the SDK's default chain (env, profile, ECS/EC2 role); never passed in code.
    ...(options.endpoint
      ? { endpoint: options.endpoint, requestHandler: new NodeHttpHandler({ connectionTimeout: 5000 }) } // kinesalite speaks HTTP/1.1 only
      : {}),
    ...(options.requestHandler ? { requestHandler: options.requestHandler } : {}),
  });
}
