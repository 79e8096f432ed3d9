import { assertValidIndexPrefix, IndexNames, utcDay } from './index-names';
import { indexTemplates, MAPPINGS } from './mappings';

const DAY = 24 * 60 * 60 * 1000;

describe('IndexNames', () => {
  const names = new IndexNames('ms-');

  it('puts a document in the daily index of its UTC day, midnight belonging to the new day', () => {
    const midnight = Date.parse('2026-11-29T00:00:00.000Z');
    expect(names.daily('readings', midnight - 1)).toBe('ms-readings-2026.11.28');
    expect(names.daily('readings', midnight)).toBe('ms-readings-2026.11.29');
    expect(names.daily('aggregates', Date.parse('2026-11-29T23:59:59.999+00:00'))).toBe('ms-aggregates-2026.11.29');
    // A local offset does not move a document to another day: only the instant counts.
    expect(names.daily('readings', Date.parse('2026-11-29T01:30:00+02:00'))).toBe('ms-readings-2026.11.28');
  });

  it('names aliases, patterns and single indices under the prefix', () => {
    expect(names.alias('readings')).toBe('ms-readings');
    expect(names.dailyPattern('aggregates')).toBe('ms-aggregates-*');
    expect(names.single('dead-letters')).toBe('ms-dead-letters');
  });

  it('reads the day back from a daily index name and rejects names it did not write', () => {
    expect(names.dayStartOf('readings', 'ms-readings-2026.11.29')).toBe(Date.parse('2026-11-29T00:00:00Z'));
    expect(names.dayStartOf('readings', 'ms-aggregates-2026.11.29')).toBeUndefined();
    expect(names.dayStartOf('readings', 'ms-readings-2026.02.31')).toBeUndefined();
    expect(names.dayStartOf('readings', 'ms-readings-2026.11.29-restored')).toBeUndefined();
    expect(names.dayStartOf('readings', 'other-readings-2026.11.29')).toBeUndefined();
  });

  it('drops a whole day only when all of it lies before the cutoff', () => {
    const start = Date.parse('2026-11-29T00:00:00Z');
    expect(names.wholeDayBefore('readings', 'ms-readings-2026.11.29', start + DAY)).toBe(true);
    expect(names.wholeDayBefore('readings', 'ms-readings-2026.11.29', start + DAY - 1)).toBe(false);
    expect(names.wholeDayBefore('readings', 'ms-readings-restored', Number.MAX_SAFE_INTEGER)).toBe(false);
  });

  it('refuses times that have no day', () => {
    expect(() => utcDay(Number.NaN)).toThrow(/cannot place a document at time NaN/);
  });
});

describe('assertValidIndexPrefix', () => {
  it('accepts the default and an empty prefix', () => {
    expect(() => assertValidIndexPrefix('meterstream-')).not.toThrow();
    expect(() => assertValidIndexPrefix('')).not.toThrow();
  });

  it('names what is wrong with a prefix Elasticsearch would refuse', () => {
    expect(() => assertValidIndexPrefix('Meterstream-')).toThrow(/"Meterstream-": must be lower case/);
    expect(() => assertValidIndexPrefix('a*b')).toThrow(/must not contain/);
    expect(() => assertValidIndexPrefix('.hidden-')).toThrow(/must not start with/);
    expect(() => new IndexNames('_x')).toThrow(/ELASTICSEARCH_INDEX_PREFIX/);
  });
});

describe('indexTemplates', () => {
  const templates = indexTemplates(new IndexNames('ms-'), { replicas: 0 });

  it('has one template per kind; daily kinds attach the alias the queries use', () => {
    expect(templates.map((t) => [t.name, t.body.index_patterns])).toEqual([
      ['ms-readings', ['ms-readings-*']],
      ['ms-aggregates', ['ms-aggregates-*']],
      ['ms-alerts', ['ms-alerts']],
      ['ms-dead-letters', ['ms-dead-letters']],
      ['ms-lines', ['ms-lines']],
      ['ms-cvr-hours', ['ms-cvr-hours']],
    ]);
    expect(templates[0].body.template?.aliases).toEqual({ 'ms-readings': {} });
    expect(templates[2].body.template?.aliases).toBeUndefined();
    expect(templates[0].body.template?.settings).toEqual({ number_of_shards: 1, number_of_replicas: 0 });
  });

  it('maps every kind strictly, with times as epoch-millisecond dates', () => {
    for (const mapping of Object.values(MAPPINGS)) expect(mapping.dynamic).toBe('strict');
    expect(MAPPINGS.readings.properties?.eventTime).toEqual({ type: 'date', format: 'epoch_millis' });
    expect(MAPPINGS.alerts.properties?.evidence).toEqual({ type: 'object', enabled: false });
  });
});
