import { startEmbeddedBroker } from '@meterstream/mqtt';
import { describePipeline } from './pipeline-suite';

// aedes, the embedded broker `npm start` uses, as a real MQTT server on a loopback port.
describePipeline('the embedded broker (aedes)', () => startEmbeddedBroker({ host: '127.0.0.1', port: 0 }));
