/**
 * Injection tokens of the ports, one provider each. Each is built by its module's factory from
 * its configuration namespace and closed by that module in onModuleDestroy.
 */
/** StreamLog (libs/stream). */
export const STREAM_LOG = Symbol('StreamLog');
/** PartitionCheckpointStore (libs/stream). */
export const CHECKPOINT_STORE = Symbol('CheckpointStore');
/** ReadModel (libs/read-model). */
export const READ_MODEL = Symbol('ReadModel');
/** TimeSeriesSink (libs/timeseries), or null where the embedded commit writes no separate series. */
export const TIME_SERIES_SINK = Symbol('TimeSeriesSink');
/** AlertChannel[] (libs/alert-channels). */
export const ALERT_CHANNELS = Symbol('AlertChannels');
/** FileModelRegistry (libs/model-registry). */
export const MODEL_REGISTRY = Symbol('ModelRegistry');
/** The process's one SQLite handle on the embedded backend (better-sqlite3), or null on Kafka/Kinesis. */
export const EMBEDDED_DATABASE = Symbol('EmbeddedDatabase');

/** How a port module asks for the shared embedded database: absent unless the app imports EmbeddedDatabaseModule. */
export const OPTIONAL_EMBEDDED_DATABASE = { token: EMBEDDED_DATABASE, optional: true } as const;
