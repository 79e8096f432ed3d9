import * as path from 'node:path';
import { Ingest } from '@meterstream/ingest';
import { startEmbeddedBroker } from '@meterstream/mqtt';
import { EmbeddedStreamLog } from '@meterstream/stream';
import { describePipeline } from './pipeline-suite';

// aedes as `npm start` runs it: a real MQTT server on a loopback port that ingests on its publish
// path into the data directory's log (a PUBACK means durable), with the processor and API as
// separate processes.
describePipeline('the embedded broker (aedes) with ingest in process', async (dataDir) => {
  const log = EmbeddedStreamLog.open(path.join(dataDir, 'meterstream.db'), { partitions: 8 });
  const ingest = new Ingest(log, { maxFutureSkewMs: 60 * 60 * 1000 });
  const broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0, ingest: (messages) => ingest.ingest(messages) });
  return {
    url: broker.url,
    close: async () => {
      await broker.close();
      await log.close();
    },
  };
}, { bridge: false });
