import * as http from 'node:http';
import { ListDatabasesCommand, TimestreamWriteClient } from '@aws-sdk/client-timestream-write';
import { NodeHttpHandler } from '@smithy/node-http-handler';

/**
 * Helpers of the engine specs against moto (scripts/engines/moto.sh), the local stand-in for
 * Timestream: moto stores WriteRecords as it receives them and validates, deduplicates and
 * rejects nothing, so these helpers read what arrived and inject the failures moto never sends.
 */

export const MOTO_ENDPOINT = process.env.MOTO_ENDPOINT ?? 'http://127.0.0.1:15000';

/** Dummy credentials for moto: the SDK signs every request, moto does not check the signature. */
export function useDummyAwsCredentials(): void {
  process.env.AWS_ACCESS_KEY_ID = 'testing';
  process.env.AWS_SECRET_ACCESS_KEY = 'testing';
  delete process.env.AWS_SESSION_TOKEN;
  delete process.env.AWS_PROFILE;
}

/** Fails with a message saying how to start moto when it does not answer a real Timestream call. */
export async function requireMoto(): Promise<void> {
  const client = new TimestreamWriteClient({ region: 'us-east-1', endpoint: MOTO_ENDPOINT, requestHandler: new NodeHttpHandler({ connectionTimeout: 3000 }), maxAttempts: 1 });
  try {
    await client.send(new ListDatabasesCommand({}));
  } catch (err) {
    throw new Error(`moto is not reachable at ${MOTO_ENDPOINT} (${(err as Error).message}); start it with: bash scripts/engines/moto.sh (or set MOTO_ENDPOINT)`);
  } finally {
    client.destroy();
  }
}

/** A record as moto stores it: exactly the `Records` entry of the WriteRecords request (CommonAttributes are not merged in). */
export interface MotoTimestreamRecord {
  Dimensions?: { Name: string; Value: string }[];
  Time?: string;
  MeasureValues?: { Name: string; Value: string; Type: string }[];
}

/** What moto holds in a Timestream table, read through its backend inspection API (/moto-api/data.json). */
export async function motoTimestreamRecords(database: string, table: string): Promise<MotoTimestreamRecord[]> {
  const response = await fetch(`${MOTO_ENDPOINT}/moto-api/data.json`);
  if (!response.ok) throw new Error(`moto /moto-api/data.json answered ${response.status}`);
  const data = (await response.json()) as { timestreamwrite?: { TimestreamTable?: { name: string; db_name: string; records: MotoTimestreamRecord[] }[] } };
  const tables = (data.timestreamwrite?.TimestreamTable ?? []).filter((t) => t.db_name === database && t.name === table);
  if (tables.length !== 1) throw new Error(`moto holds ${tables.length} tables ${database}.${table}`);
  return tables[0].records;
}

export interface InjectedFailure {
  status: number;
  /** The error body as Timestream sends it (awsJson1_0: `__type` names the exception). */
  body: Record<string, unknown>;
  /** Records removed from the request before it is forwarded (those Timestream would not write). */
  dropRecordIndexes?: number[];
  /** Forward the (trimmed) request to moto before answering with the failure, as Timestream does for rejections. */
  forward: boolean;
}

/**
 * An HTTP proxy in front of moto that can answer the next WriteRecords calls with failures the
 * real service sends (throttling, RejectedRecordsException) and moto never does. The SDK then
 * parses a real wire response. `writeCalls` counts WriteRecords requests that reached the proxy.
 */
export async function startTimestreamFaultProxy() {
  const target = new URL(MOTO_ENDPOINT);
  const failures: InjectedFailure[] = [];
  let writeCalls = 0;
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      let body = Buffer.concat(chunks);
      const isWrite = req.headers['x-amz-target'] === 'Timestream_20181101.WriteRecords';
      if (isWrite) writeCalls += 1;
      const failure = isWrite ? failures.shift() : undefined;
      if (failure?.dropRecordIndexes) {
        const input = JSON.parse(body.toString('utf8')) as { Records: unknown[] };
        input.Records = input.Records.filter((_, i) => !failure.dropRecordIndexes!.includes(i));
        body = Buffer.from(JSON.stringify(input));
      }
      const answer = () => {
        res.writeHead(failure!.status, { 'content-type': 'application/x-amz-json-1.0' }).end(JSON.stringify(failure!.body));
      };
      if (failure && !failure.forward) return answer();
      const upstream = http.request(
        { host: target.hostname, port: target.port, method: req.method, path: req.url, headers: { ...req.headers, 'content-length': String(body.length) } },
        (up) => {
          if (failure) {
            up.resume();
            up.on('end', answer);
            return;
          }
          res.writeHead(up.statusCode ?? 502, up.headers);
          up.pipe(res);
        },
      );
      upstream.on('error', (err) => res.writeHead(502).end(String(err)));
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as { port: number };
  return {
    endpoint: `http://127.0.0.1:${port}`,
    /** Queues a failure for the next WriteRecords call. */
    failNextWrite: (failure: InjectedFailure) => failures.push(failure),
    get writeCalls() {
      return writeCalls;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
