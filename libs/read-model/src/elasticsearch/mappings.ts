import type { estypes } from '@elastic/elasticsearch';
import type { DailyKind, IndexNames, SingleKind } from './index-names';

/**
 * Explicit mappings, `dynamic: strict`: a document with a field the mapping does not know is
 * rejected (and reported), never silently mapped by guessing. Times are `date` with epoch_millis,
 * so range queries take the port's epoch ms as they are and Kibana can chart them. Numbers are
 * `double`; `_source` keeps the JSON exactly as sent, so values read back are bit-identical.
 * Nothing here needs a plugin: the test distribution (integ-test-zip) has no analysis or
 * mapper-extras modules, so `text` uses the built-in standard analyzer.
 */
const time: estypes.MappingProperty = { type: 'date', format: 'epoch_millis' };
const id: estypes.MappingProperty = { type: 'keyword' };
/** Free-form strings from devices: long values are kept in _source but not indexed. */
const label: estypes.MappingProperty = { type: 'keyword', ignore_above: 1024 };
const double: estypes.MappingProperty = { type: 'double' };
const count: estypes.MappingProperty = { type: 'long' };

const readings: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id,
    lineId: id,
    deviceId: id,
    eventTime: time,
    voltage: double,
    current: double,
    powerFactor: double,
    kw: double,
    kwh: double,
    status: label,
  },
};

const meanMax: estypes.MappingProperty = { type: 'object', properties: { mean: double, max: double } };
const aggregates: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id,
    lineId: id,
    deviceId: id,
    windowStart: time,
    windowEnd: time,
    count,
    meters: count,
    voltage: { type: 'object', properties: { min: double, max: double, mean: double, stddev: double, p5: double, p95: double } },
    current: meanMax,
    kw: meanMax,
    energyKwh: double,
  },
};

const alerts: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    alertId: id,
    kind: id,
    state: id,
    /** The rule's state (raised, cleared); `state` is what the API shows, decisions included. */
    ruleState: id,
    /** raised 0, cleared 1: the forward-only rule compares it. */
    stateRank: { type: 'byte' },
    severity: id,
    lineId: id,
    deviceId: id,
    message: { type: 'text' },
    // What a rule saw is rule-specific: kept whole in _source, not indexed.
    evidence: { type: 'object', enabled: false },
    raisedAt: time,
    updatedAt: time,
    // The operators' decisions (alert commands).
    acknowledgedBy: label,
    acknowledgedAt: time,
    note: { type: 'text' },
    closedBy: label,
    closedAt: time,
    reason: { type: 'text' },
  },
};

const deadLetters: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id,
    lineId: label,
    deviceId: label,
    topic: label,
    reason: { type: 'text' },
    errors: { type: 'object', properties: { field: label, message: { type: 'text' } } },
    // Base64 of the raw bytes: stored, never indexed.
    payload: { type: 'binary' },
    receivedAt: time,
  },
};

const lines: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    lineId: id,
    latestReadingTime: time,
    lateReadings: count,
    duplicateReadings: count,
    // LineDocument.deliveryDelay: replaced whole by the newest measurement (documents.ts).
    deliveryDelay: { type: 'object', properties: { ewmaMs: double, maxMs: double, measuredAt: time } },
  },
};

/** CVR figures per line and UTC hour: looked up by line and hour, the figures kept whole (JSON, not indexed). */
const cvrHours: estypes.MappingTypeMapping = {
  dynamic: 'strict',
  properties: {
    id,
    lineId: id,
    hourStart: time,
    figures: { type: 'keyword', index: false, doc_values: false },
  },
};

export const MAPPINGS: Record<DailyKind | SingleKind, estypes.MappingTypeMapping> = {
  readings,
  aggregates,
  alerts,
  'dead-letters': deadLetters,
  lines,
  'cvr-hours': cvrHours,
};

export interface IndexSettings {
  /** Primary shards per index (default 1: a day of readings of a feeder fleet fits one shard). */
  shards?: number;
  /** Replicas per index; the cluster default (1) when absent. A single-node cluster wants 0. */
  replicas?: number;
}

/**
 * Above the built-in templates of a full distribution (priority 100 for logs-*, metrics-*, ...),
 * so a prefix that happens to overlap one of their patterns still gets our mappings.
 */
const TEMPLATE_PRIORITY = 200;

export interface IndexTemplate {
  name: string;
  body: estypes.IndicesPutIndexTemplateRequest;
}

/** One composable index template per kind; daily kinds also attach their query alias. */
export function indexTemplates(names: IndexNames, settings: IndexSettings = {}): IndexTemplate[] {
  const indexSettings: estypes.IndicesIndexSettings = {
    number_of_shards: settings.shards ?? 1,
    ...(settings.replicas === undefined ? {} : { number_of_replicas: settings.replicas }),
  };
  const template = (name: string, pattern: string, mappings: estypes.MappingTypeMapping, alias?: string): IndexTemplate => ({
    name,
    body: {
      name,
      index_patterns: [pattern],
      priority: TEMPLATE_PRIORITY,
      template: { settings: indexSettings, mappings, ...(alias === undefined ? {} : { aliases: { [alias]: {} } }) },
      _meta: { managed_by: 'meterstream read model', description: `meterstream ${name}` },
    },
  });
  const daily = (kind: DailyKind) => template(names.alias(kind), names.dailyPattern(kind), MAPPINGS[kind], names.alias(kind));
  const single = (kind: SingleKind) => template(names.single(kind), names.single(kind), MAPPINGS[kind]);
  return [daily('readings'), daily('aggregates'), single('alerts'), single('dead-letters'), single('lines'), single('cvr-hours')];
}
