import { CreateTableCommand, DescribeTableCommand, DynamoDBClient, ResourceNotFoundException, waitUntilTableExists } from '@aws-sdk/client-dynamodb';
import {
  DynamoDBDocumentClient,
  GetCommand,
  PutCommand,
  QueryCommand,
  TransactGetCommand,
  TransactWriteCommand,
  UpdateCommand,
  type TransactWriteCommandInput,
} from '@aws-sdk/lib-dynamodb';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/** One row of the lease table: a shard of a stream, leased within a consumer group (KCL's lease). */
export interface Lease {
  /** `${group}@${kinesisStream}`: the table's partition key, so one Query lists a group's leases. */
  leaseGroup: string;
  /** The shard id: the table's sort key (KCL's leaseKey). */
  shardId: string;
  /** The worker holding the lease; absent when nobody does. */
  owner?: string;
  /** Bumped by every renewal, take and hand-over: a holder proves it still holds the lease by the counter it last wrote. */
  counter: number;
  /** The group's committed position in the shard (a sequence number); absent before the first commit. */
  checkpoint?: string;
  /** ParentShardId and AdjacentParentShardId of the shard ([] for an original shard). */
  parentShardIds: string[];
  /** A worker asked the owner to hand this lease over (lease stealing, see LeaseCoordinator). */
  pendingOwner?: string;
}

/** What a fenced write proves: this worker still owns the lease at this counter. */
export interface LeaseFence {
  leaseGroup: string;
  shardId: string;
  owner: string;
  counter: number;
}

/** A conditional write lost: the lease moved on (another owner, a newer counter) or the row is gone. */
export class LeaseLostError extends Error {
  constructor(
    readonly leaseGroup: string,
    readonly shardId: string,
    detail: string,
  ) {
    super(`lease of shard ${shardId} in ${leaseGroup} is no longer held: ${detail}`);
    this.name = 'LeaseLostError';
  }
}

export interface LeaseTableOptions {
  tableName: string;
  region: string;
  /** moto (tests); unset in AWS. */
  endpoint?: string;
  /** Attempts per call by the SDK's standard retry strategy (throttling, 5xx, dropped connections). Default 3. */
  maxAttempts?: number;
  /** A call that has not answered within this long fails (and is retried by the SDK). Default 5 s. */
  requestTimeoutMs?: number;
  /** Create the table (on-demand capacity) when it is missing: development only; the CDK stack provisions it in AWS. */
  createIfMissing?: boolean;
}

/** The attribute names, in one place: the CDK stack and the README name the key attributes too. */
export const LEASE_TABLE_KEY = { partitionKey: 'leaseGroup', sortKey: 'leaseKey' } as const;

/**
 * The DynamoDB table holding the leases of every Kinesis consumer group of a deployment, and
 * (under their own partition keys) the processor's per-shard checkpoints. Every write that
 * depends on who holds a lease is conditional on owner and counter, so a worker that lost a
 * lease — however long it was paused — cannot overwrite its next owner's state.
 *
 * Item layout: partition key `leaseGroup`, sort key `leaseKey` (= the shard id for a lease),
 * attributes `leaseOwner`, `leaseCounter`, `checkpoint`, `parentShardIds`, `pendingOwner`.
 */
export class LeaseTable {
  readonly tableName: string;
  readonly documents: DynamoDBDocumentClient;
  private readonly client: DynamoDBClient;
  private ready: Promise<void> | undefined;

  constructor(private readonly options: LeaseTableOptions) {
    this.tableName = options.tableName;
    this.client = new DynamoDBClient({
      region: options.region,
      // The SDK's standard retry strategy; credentials from its default chain.
      maxAttempts: options.maxAttempts ?? 3,
      requestHandler: new NodeHttpHandler({ connectionTimeout: 3000, requestTimeout: options.requestTimeoutMs ?? 5000 }),
      ...(options.endpoint ? { endpoint: options.endpoint } : {}),
    });
    this.documents = DynamoDBDocumentClient.from(this.client, { marshallOptions: { removeUndefinedValues: true } });
  }

  /** Resolves once the table exists (created first when missing and createIfMissing). */
  ensureReady(): Promise<void> {
    if (this.ready === undefined) {
      this.ready = this.prepare();
      this.ready.catch(() => (this.ready = undefined));
    }
    return this.ready;
  }

  /** Every lease of a group (a strongly consistent Query of one partition key). */
  async list(leaseGroup: string): Promise<Lease[]> {
    await this.ensureReady();
    const out: Lease[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const page = await this.documents.send(
        new QueryCommand({
          TableName: this.tableName,
          KeyConditionExpression: '#g = :g',
          ExpressionAttributeNames: { '#g': LEASE_TABLE_KEY.partitionKey },
          ExpressionAttributeValues: { ':g': leaseGroup },
          ConsistentRead: true,
          ExclusiveStartKey: start,
        }),
      );
      for (const item of page.Items ?? []) out.push(fromItem(item));
      start = page.LastEvaluatedKey;
    } while (start !== undefined);
    return out;
  }

  /** Creates the lease of a shard nobody has listed yet; false when it already exists. */
  async create(leaseGroup: string, shardId: string, parentShardIds: readonly string[]): Promise<boolean> {
    await this.ensureReady();
    try {
      await this.documents.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { leaseGroup, leaseKey: shardId, leaseCounter: 0, parentShardIds: [...parentShardIds] },
          ConditionExpression: 'attribute_not_exists(leaseKey)',
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /**
   * Renews a held lease: counter + 1, on condition that owner and counter are still the ones
   * this worker wrote. Returns the lease as it now is (its pendingOwner tells of a steal request).
   */
  async renew(fence: LeaseFence): Promise<Lease> {
    return this.update(fence, 'SET leaseCounter = leaseCounter + :one', {}, 'renewal');
  }

  /**
   * Takes an expired lease (or one nobody holds): owner = me, counter + 1, any hand-over request
   * cleared, on condition that the counter is still the one observed (so of two takers, one wins).
   */
  async take(leaseGroup: string, shardId: string, observedCounter: number, me: string): Promise<Lease> {
    try {
      const answer = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { leaseGroup, leaseKey: shardId },
          UpdateExpression: 'SET leaseOwner = :me, leaseCounter = leaseCounter + :one REMOVE pendingOwner',
          ConditionExpression: 'attribute_exists(leaseKey) AND leaseCounter = :observed',
          ExpressionAttributeValues: { ':me': me, ':one': 1, ':observed': observedCounter },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(answer.Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) throw new LeaseLostError(leaseGroup, shardId, 'another worker took or renewed it first');
      throw error;
    }
  }

  /**
   * Asks the owner of a live lease to hand it over (a steal): sets pendingOwner without touching
   * the counter, so the owner keeps it until it has revoked and checkpointed the shard. False when
   * the lease moved on or someone else asked first.
   */
  async requestHandover(leaseGroup: string, shardId: string, owner: string, me: string): Promise<boolean> {
    try {
      await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { leaseGroup, leaseKey: shardId },
          UpdateExpression: 'SET pendingOwner = :me',
          ConditionExpression: 'leaseOwner = :owner AND attribute_not_exists(pendingOwner)',
          ExpressionAttributeValues: { ':me': me, ':owner': owner },
        }),
      );
      return true;
    } catch (error) {
      if (isConditionFailure(error)) return false;
      throw error;
    }
  }

  /** Hands a held lease to the worker that asked for it: owner = pendingOwner, counter + 1. */
  async handOver(fence: LeaseFence, to: string): Promise<Lease> {
    return this.update(fence, 'SET leaseOwner = :to, leaseCounter = leaseCounter + :one REMOVE pendingOwner', { ':to': to }, 'hand-over', 'AND pendingOwner = :to');
  }

  /** Gives a held lease up (leaving the group, or a drained shard): no owner, counter + 1. */
  async release(fence: LeaseFence): Promise<Lease> {
    return this.update(fence, 'SET leaseCounter = leaseCounter + :one REMOVE leaseOwner, pendingOwner', {}, 'release');
  }

  /** The group's position in a shard, written by its owner only (fenced). */
  async commitFenced(fence: LeaseFence, position: string): Promise<void> {
    await this.update(fence, 'SET checkpoint = :p', { ':p': position }, 'checkpoint');
  }

  /**
   * The group's position in a shard of a stream this process does not lease (tooling, or the
   * processor's courtesy commit of dead-letter positions): no fence, the newest write wins.
   */
  async commitUnfenced(leaseGroup: string, shardId: string, position: string): Promise<void> {
    await this.ensureReady();
    await this.documents.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: { leaseGroup, leaseKey: shardId },
        UpdateExpression: 'SET checkpoint = :p, leaseCounter = if_not_exists(leaseCounter, :zero), parentShardIds = if_not_exists(parentShardIds, :none)',
        ExpressionAttributeValues: { ':p': position, ':zero': 0, ':none': [] },
      }),
    );
  }

  /** One item by key (consistent read). */
  async get(leaseGroup: string, leaseKey: string): Promise<Record<string, unknown> | undefined> {
    await this.ensureReady();
    const answer = await this.documents.send(new GetCommand({ TableName: this.tableName, Key: { leaseGroup, leaseKey }, ConsistentRead: true }));
    return answer.Item;
  }

  /** Several items in one serializable read (at most 100). */
  async getAll(keys: readonly { leaseGroup: string; leaseKey: string }[]): Promise<(Record<string, unknown> | undefined)[]> {
    await this.ensureReady();
    const answer = await this.documents.send(new TransactGetCommand({ TransactItems: keys.map((Key) => ({ Get: { TableName: this.tableName, Key } })) }));
    return (answer.Responses ?? []).map((r) => r.Item);
  }

  /**
   * Writes items in one transaction on condition that `fence` still holds (a ConditionCheck on
   * the lease row): all of them or none, and none once the lease has moved on.
   */
  async writeFenced(fence: LeaseFence, items: readonly Record<string, unknown>[]): Promise<void> {
    await this.ensureReady();
    const TransactItems: NonNullable<TransactWriteCommandInput['TransactItems']> = [
      {
        ConditionCheck: {
          TableName: this.tableName,
          Key: { leaseGroup: fence.leaseGroup, leaseKey: fence.shardId },
          ConditionExpression: 'leaseOwner = :me AND leaseCounter = :c',
          ExpressionAttributeValues: { ':me': fence.owner, ':c': fence.counter },
        },
      },
      ...items.map((Item) => ({ Put: { TableName: this.tableName, Item } })),
    ];
    try {
      await this.documents.send(new TransactWriteCommand({ TransactItems }));
    } catch (error) {
      if (isTransactionConditionFailure(error)) throw new LeaseLostError(fence.leaseGroup, fence.shardId, `owner ${fence.owner} at counter ${fence.counter} no longer matches`);
      throw error;
    }
  }

  close(): void {
    this.client.destroy();
  }

  private async update(fence: LeaseFence, expression: string, values: Record<string, unknown>, what: string, extraCondition = ''): Promise<Lease> {
    await this.ensureReady();
    try {
      const answer = await this.documents.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: { leaseGroup: fence.leaseGroup, leaseKey: fence.shardId },
          UpdateExpression: expression,
          ConditionExpression: `leaseOwner = :me AND leaseCounter = :c ${extraCondition}`.trim(),
          ExpressionAttributeValues: { ':me': fence.owner, ':c': fence.counter, ...(expression.includes(':one') ? { ':one': 1 } : {}), ...values },
          ReturnValues: 'ALL_NEW',
        }),
      );
      return fromItem(answer.Attributes!);
    } catch (error) {
      if (isConditionFailure(error)) throw new LeaseLostError(fence.leaseGroup, fence.shardId, `${what} refused: owner ${fence.owner} at counter ${fence.counter} no longer matches`);
      throw error;
    }
  }

  private async prepare(): Promise<void> {
    try {
      await this.client.send(new DescribeTableCommand({ TableName: this.tableName }));
      return;
    } catch (error) {
      if (!(error instanceof ResourceNotFoundException)) throw error;
      if (!this.options.createIfMissing) {
        throw new Error(`DynamoDB lease table ${this.tableName} does not exist (the CDK stack provisions it; set KINESIS_LEASE_TABLE_CREATE=true to create it in development)`);
      }
    }
    try {
      await this.client.send(
        new CreateTableCommand({
          TableName: this.tableName,
          BillingMode: 'PAY_PER_REQUEST',
          AttributeDefinitions: [
            { AttributeName: LEASE_TABLE_KEY.partitionKey, AttributeType: 'S' },
            { AttributeName: LEASE_TABLE_KEY.sortKey, AttributeType: 'S' },
          ],
          KeySchema: [
            { AttributeName: LEASE_TABLE_KEY.partitionKey, KeyType: 'HASH' },
            { AttributeName: LEASE_TABLE_KEY.sortKey, KeyType: 'RANGE' },
          ],
        }),
      );
    } catch (error) {
      // Another worker created it at the same moment.
      if ((error as Error).name !== 'ResourceInUseException') throw error;
    }
    await waitUntilTableExists({ client: this.client, maxWaitTime: 120, minDelay: 1, maxDelay: 5 }, { TableName: this.tableName });
  }
}

function fromItem(item: Record<string, unknown>): Lease {
  return {
    leaseGroup: item.leaseGroup as string,
    shardId: item.leaseKey as string,
    owner: item.leaseOwner as string | undefined,
    counter: Number(item.leaseCounter ?? 0),
    checkpoint: item.checkpoint as string | undefined,
    parentShardIds: (item.parentShardIds as string[] | undefined) ?? [],
    pendingOwner: item.pendingOwner as string | undefined,
  };
}

function isConditionFailure(error: unknown): boolean {
  return (error as Error | undefined)?.name === 'ConditionalCheckFailedException';
}

function isTransactionConditionFailure(error: unknown): boolean {
  if ((error as Error | undefined)?.name !== 'TransactionCanceledException') return false;
  const reasons = (error as { CancellationReasons?: { Code?: string }[] }).CancellationReasons ?? [];
  return reasons.some((r) => r.Code === 'ConditionalCheckFailed');
}
