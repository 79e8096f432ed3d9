/**
 * @meterstream/model-training — retraining the voltage model offline, from the readings stream.
 *
 *   fitVoltageModel(readings)              batch least-squares fit (ml-regression) of every line's parameters
 *   heldOutError(parameters | null, rs)    the error the processor would have had with them on readings rs
 *   retrain({ log, from, to, registry, runningModel, publish })
 *                                          read a range → fit → compare on held-out readings → publish
 *   runningModelFromSnapshots(snapshots)   the running processor's model, from its partitions' checkpoints
 */
export * from './batch-fit';
export * from './held-out';
export * from './least-squares';
export * from './retrain';
export * from './running-model';
