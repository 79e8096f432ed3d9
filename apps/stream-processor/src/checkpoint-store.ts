// The embedded runtime's checkpoint store lives in @meterstream/stream (beside the database it is
// committed in), so the CLI and tests read it without importing this app.
export { EmbeddedCheckpointStore as CheckpointStore, type EmbeddedCheckpoint as Checkpoint } from '@meterstream/stream';
