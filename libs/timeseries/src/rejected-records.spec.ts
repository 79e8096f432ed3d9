import { classifyRejectedRecords } from './rejected-records';

const keys = [0, 1, 2, 3].map((i) => ({ deviceId: `m-${i}`, lineId: 'L07', eventTime: 1000 + i }));

describe('classifyRejectedRecords', () => {
  it('counts a record Timestream already holds (ExistingVersion) as written, not as a rejection', () => {
    const outcome = classifyRejectedRecords([{ RecordIndex: 1, Reason: 'A record with the same time, dimensions and measure name exists', ExistingVersion: 1 }], keys);
    expect(outcome).toEqual({ duplicates: 1, rejected: [] });
  });

  it('recognises a version conflict by its reason when ExistingVersion is missing', () => {
    const outcome = classifyRejectedRecords(
      [
        { RecordIndex: 0, Reason: 'The record version 1 is equal to or lower than the existing version.' },
        { RecordIndex: 2, Reason: 'A record already exists with a different measure value.' },
      ],
      keys,
    );
    expect(outcome).toEqual({ duplicates: 2, rejected: [] });
  });

  it('reports every other rejection with its reading and reason', () => {
    const outcome = classifyRejectedRecords(
      [
        { RecordIndex: 3, Reason: 'The record timestamp is outside the time range of the memory store.' },
        { RecordIndex: 0, ExistingVersion: 2 },
        { RecordIndex: 9, Reason: 'Too many dimensions' },
      ],
      keys,
    );
    expect(outcome.duplicates).toBe(1);
    expect(outcome.rejected).toEqual([
      { deviceId: 'm-3', lineId: 'L07', eventTime: 1003, reason: 'The record timestamp is outside the time range of the memory store.' },
      { deviceId: '(unknown)', lineId: '(unknown)', eventTime: Number.NaN, reason: 'record index 9 not in the request: Too many dimensions' },
    ]);
  });
});
