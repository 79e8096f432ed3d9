import { decodeEnvelope, STREAMS, type AlertEnvelope } from '@meterstream/contracts';
import type { GroupListener } from '@meterstream/stream';
import { startEmbeddedBroker, type EmbeddedBroker } from '@meterstream/mqtt';
import { waitFor } from '@meterstream/test-harness';
import mqtt, { type MqttClient } from 'mqtt';
import { PermanentDeliveryError } from './alert-channel';
import { AlertDispatcher, type AlertDispatcherOptions } from './alert-dispatcher';
import { alertChannelGroup } from './channel-delivery-loop';
import { MqttAlertChannel } from './mqtt';
import { RateLimitedAlertChannel } from './rate-limited-channel';
import { alertFixture, appendAlerts, readDeadLetters, RecordingChannel, startReceiver, tempLog, VirtualClock } from './testing/alert-fixtures';
import { verifyWebhookSignature } from './webhook-signature';
import { WebhookAlertChannel } from './webhook';

const SECRET = 'dispatcher-test-secret';
/** Fast, deterministic retries (no jitter) with a budget far beyond what the tests need. */
const FAST_RETRY = { initialDelayMs: 10, multiplier: 2, maxDelayMs: 100, maxAttempts: 1000, maxElapsedMs: 60_000, jitter: false };
const quiet = { log: () => undefined, warn: () => undefined };

describe('AlertDispatcher', () => {
  let fixture: ReturnType<typeof tempLog>;
  const dispatchers: AlertDispatcher[] = [];
  const cleanups: (() => Promise<unknown>)[] = [];

  const dispatcher = (options: Omit<AlertDispatcherOptions, 'log'> & { log?: AlertDispatcherOptions['log'] }) => {
    const d = new AlertDispatcher({ log: fixture.log, pollIntervalMs: 20, retry: FAST_RETRY, logger: quiet, ...options });
    dispatchers.push(d);
    return d;
  };

  beforeEach(() => {
    fixture = tempLog();
  });

  afterEach(async () => {
    for (const d of dispatchers.splice(0)) await d.stop({ timeoutMs: 1000 });
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
    await fixture.cleanup();
  });

  it('stops during a backoff wait without waiting for it, and the abandoned wait delivers nothing', async () => {
    const channel = new RecordingChannel('webhook');
    channel.fail = () => new Error('receiver down');
    const alert = alertFixture('L07', 1);
    await appendAlerts(fixture.log, [alert]);
    // Frozen timers: the 60 s backoff cannot run out unless the test says so, so whether stop()
    // waits for it is decided without measuring time. (setImmediate stays real to flush promises.)
    jest.useFakeTimers({ doNotFake: ['nextTick', 'queueMicrotask', 'setImmediate'] });
    try {
      const d = dispatcher({ channels: [channel], retry: { ...FAST_RETRY, initialDelayMs: 60_000 } });
      d.start();
      for (let i = 0; i < 100 && channel.attempts.length === 0; i++) await new Promise(setImmediate);
      expect(channel.attempts).toHaveLength(1);

      let stopped = false;
      void d.stop().then(() => (stopped = true));
      for (let i = 0; i < 10; i++) await new Promise(setImmediate);
      expect(stopped).toBe(true);

      await jest.advanceTimersByTimeAsync(120_000); // the abandoned backoff runs out...
      expect(channel.attempts).toHaveLength(1); // ...and the attempt it was waiting for never starts
    } finally {
      jest.useRealTimers();
    }
    expect(await fixture.log.committed(alertChannelGroup('webhook'), STREAMS.alerts)).toEqual(new Map());
    expect(await readDeadLetters(fixture.log)).toEqual([]);

    // Neither delivered nor dead-lettered: the next start tries the same alert again.
    channel.fail = () => undefined;
    dispatcher({ channels: [channel] }).start();
    await waitFor(() => channel.delivered.length === 1);
    expect(channel.delivered).toEqual([alert.id]);
  });

  describe('with a webhook receiver and an MQTT subscriber', () => {
    let broker: EmbeddedBroker;
    let subscriber: MqttClient;
    const mqttReceived: AlertEnvelope[] = [];

    beforeEach(async () => {
      mqttReceived.length = 0;
      broker = await startEmbeddedBroker({ host: '127.0.0.1', port: 0 });
      subscriber = await mqtt.connectAsync(broker.url, { clientId: 'dispatcher-test-subscriber' });
      subscriber.on('message', (_topic, payload) => mqttReceived.push(decodeEnvelope<AlertEnvelope>(payload)));
      await subscriber.subscribeAsync('alerts/line/+', { qos: 1 });
      cleanups.push(() => broker.close(), () => subscriber.endAsync(true));
    });

    const mqttChannel = () => {
      const channel = new MqttAlertChannel({ url: broker.url, clientId: 'dispatcher-test-alerts' });
      cleanups.push(() => channel.close());
      return channel;
    };

    it('rides out a webhook outage without losing or duplicating an alert, while MQTT keeps delivering', async () => {
      let webhookUp = false;
      const receiver = await startReceiver(() => (webhookUp ? 200 : 503));
      cleanups.push(() => receiver.close());
      const alerts = [1, 2, 3, 4, 5, 6].flatMap((n) => [alertFixture('L07', n), alertFixture('L08', n)]);
      await appendAlerts(fixture.log, alerts);

      const d = dispatcher({ channels: [new WebhookAlertChannel({ url: receiver.url, secret: SECRET }), mqttChannel()] });
      d.start();
      // Every alert reaches MQTT while the webhook still answers 503: the outage blocks nobody else.
      await waitFor(() => mqttReceived.length === alerts.length, { what: 'MQTT to receive every alert' });
      expect(receiver.accepted()).toEqual([]);
      expect(receiver.requests.length).toBeGreaterThan(0);
      // The stalled channel shows its oldest undelivered alert (for the age metric); the caught-up one none.
      const partitions = await fixture.log.partitions(STREAMS.alerts);
      const appendTimes = (await Promise.all(partitions.map((p) => fixture.log.read(STREAMS.alerts, p, null, 1000)))).flat().map((r) => r.appendTime);
      expect(appendTimes).toContain(d.counters().webhook.oldestUndeliveredAt);
      expect(d.counters().mqtt.oldestUndeliveredAt).toBeNull();

      webhookUp = true;
      await waitFor(() => receiver.accepted().length === alerts.length, { what: 'the webhook to catch up' });
      const accepted = receiver.accepted();
      expect(new Set(accepted).size).toBe(alerts.length);
      for (const line of ['L07', 'L08']) {
        const expected = alerts.filter((a) => a.lineId === line).map((a) => a.id);
        expect(accepted.filter((id) => id.includes(`:${line}:`))).toEqual(expected);
        expect(mqttReceived.filter((a) => a.lineId === line).map((a) => a.id)).toEqual(expected);
      }
      // Every request, failed or not, was signed over exactly what was sent.
      for (const r of receiver.requests) {
        expect(verifyWebhookSignature(SECRET, r.headers['x-meterstream-timestamp'] as string, r.body, r.headers['x-meterstream-signature'] as string)).toBe(true);
      }
      expect(await readDeadLetters(fixture.log)).toEqual([]);
      // The receiver counts a request when it answers; the dispatcher once the answer is back.
      await waitFor(() => d.counters().webhook.delivered === alerts.length, { what: 'the dispatcher to count the last webhook answer' });
      const counters = d.counters();
      expect(counters.webhook).toMatchObject({ delivered: alerts.length, deadLettered: 0 });
      expect(counters.webhook.retried).toBe(receiver.requests.length - alerts.length);
      // Every request answered 503 is a failed attempt, each followed by a retry.
      expect(counters.webhook.failed).toBe(counters.webhook.retried);
      expect(counters.mqtt).toEqual({ delivered: alerts.length, retried: 0, failed: 0, deadLettered: 0, errors: 0, oldestUndeliveredAt: null });
    });

    it('dead-letters an alert once its retry budget is spent (or at once if permanent), and later alerts still get through', async () => {
      const alwaysFailing = alertFixture('L07', 2);
      const rejected = alertFixture('L07', 3);
      const receiver = await startReceiver(({ body }) => {
        const id = JSON.parse(body).id;
        return id === alwaysFailing.id ? 500 : id === rejected.id ? 422 : 200;
      });
      cleanups.push(() => receiver.close());
      const alerts = [1, 2, 3, 4, 5].map((n) => alertFixture('L07', n));
      await appendAlerts(fixture.log, alerts);

      const d = dispatcher({ channels: [new WebhookAlertChannel({ url: receiver.url, secret: SECRET })], retry: { ...FAST_RETRY, maxAttempts: 3 } });
      d.start();
      await waitFor(() => receiver.accepted().length === 3, { what: 'the deliverable alerts' });
      await waitFor(async () => (await readDeadLetters(fixture.log)).length === 2, { what: 'two dead letters' });

      expect(receiver.accepted()).toEqual([alerts[0], alerts[3], alerts[4]].map((a) => a.id));
      const letters = await readDeadLetters(fixture.log);
      expect(letters.map((l) => ({ id: l.id, channel: l.channel, attempts: l.attempts, alert: l.alert }))).toEqual([
        { id: `webhook:${alwaysFailing.id}`, channel: 'webhook', attempts: 3, alert: alwaysFailing },
        { id: `webhook:${rejected.id}`, channel: 'webhook', attempts: 1, alert: rejected },
      ]);
      expect(letters[0].reason).toContain('answered 500');
      expect(letters[1].reason).toContain('answered 422');
      expect(letters[0].source).toMatchObject({ stream: STREAMS.alerts });
      expect(receiver.requests.filter((r) => r.headers['x-meterstream-event-id'] === alwaysFailing.id)).toHaveLength(3);
      await waitFor(() => d.counters().webhook.delivered === 3);
      // 3 failed attempts of the always-failing alert, 1 of the permanent one.
      expect(d.counters().webhook).toEqual({ delivered: 3, retried: 2, failed: 4, deadLettered: 2, errors: 0, oldestUndeliveredAt: null });
    });

    it('paces an alert storm at the configured rate and drops none (schedule asserted on a virtual clock)', async () => {
      const receiver = await startReceiver();
      cleanups.push(() => receiver.close());
      const clock = new VirtualClock();
      const webhook = new WebhookAlertChannel({ url: receiver.url, secret: SECRET, clock });
      const storm = Array.from({ length: 12 }, (_, n) => alertFixture('L07', n));
      await appendAlerts(fixture.log, storm);

      const d = dispatcher({ channels: [new RateLimitedAlertChannel(webhook, { ratePerMinute: 6, burst: 3, clock })] });
      d.start();
      await waitFor(() => receiver.accepted().length === storm.length, { what: 'the whole storm' });

      expect(receiver.accepted()).toEqual(storm.map((a) => a.id));
      // The signed timestamp of each POST is the (virtual) time it was sent: a burst of 3, then one every 10 s.
      const start = Math.floor(Date.parse('2026-11-29T06:00:00.000Z') / 1000);
      const sentAt = receiver.requests.map((r) => Number(r.headers['x-meterstream-timestamp']) - start);
      expect(sentAt).toEqual([0, 0, 0, 10, 20, 30, 40, 50, 60, 70, 80, 90]);
    });
  });

  describe('restart', () => {
    const alerts = Array.from({ length: 10 }, (_, n) => alertFixture('L07', n));
    const ids = alerts.map((a) => a.id);

    it('after a graceful stop resumes after the last alert delivered: nothing lost, nothing twice', async () => {
      await appendAlerts(fixture.log, alerts);
      const first = new RecordingChannel('webhook');
      first.gate(ids[4]);
      const d = dispatcher({ channels: [first] });
      d.start();
      await waitFor(() => first.attempts.includes(ids[4]), { what: 'the fifth alert to be in flight' });
      const stopped = d.stop(); // waits for the delivery in flight...
      first.release(ids[4]); // ...which succeeds and is committed
      await stopped;
      expect(first.delivered).toEqual(ids.slice(0, 5));

      const second = new RecordingChannel('webhook');
      dispatcher({ channels: [second], log: fixture.reopen() }).start();
      await waitFor(() => second.delivered.length === 5, { what: 'the rest after the restart' });
      expect(second.delivered).toEqual(ids.slice(5));
    });

    it('after a crash mid-delivery resumes from the committed position: only the alert in flight comes twice', async () => {
      await appendAlerts(fixture.log, alerts);
      const first = new RecordingChannel('webhook');
      first.gate(ids[4]);
      const d = dispatcher({ channels: [first] });
      d.start();
      await waitFor(() => first.attempts.includes(ids[4]), { what: 'the fifth alert to be in flight' });
      // The process "dies": its in-flight delivery is abandoned. That it reaches the receiver
      // afterwards is the worst case: delivered, but never committed.
      await d.stop({ timeoutMs: 0 });
      first.release(ids[4]);
      await waitFor(() => first.delivered.length === 5);
      const committed = await fixture.log.committed(alertChannelGroup('webhook'), STREAMS.alerts);
      const [[partition, position]] = [...committed];
      expect((await fixture.log.read(STREAMS.alerts, partition, position, 100)).map((r) => decodeEnvelope(r.value).id)).toEqual(ids.slice(4));

      const second = new RecordingChannel('webhook');
      dispatcher({ channels: [second], log: fixture.reopen() }).start();
      await waitFor(() => second.delivered.length === 6, { what: 'the rest after the restart' });
      expect(second.delivered).toEqual(ids.slice(4));
      expect([...first.delivered, ...second.delivered].filter((id) => id === ids[4])).toHaveLength(2);
      expect(new Set([...first.delivered, ...second.delivered])).toEqual(new Set(ids));
    });

    it('keeps each channel on its own position: a new channel starts from the oldest alert', async () => {
      await appendAlerts(fixture.log, alerts.slice(0, 3));
      const mqttLike = new RecordingChannel('mqtt');
      const d = dispatcher({ channels: [mqttLike] });
      d.start();
      await waitFor(() => mqttLike.delivered.length === 3);
      await d.stop();

      await appendAlerts(fixture.log, alerts.slice(3));
      const again = new RecordingChannel('mqtt');
      const added = new RecordingChannel('webhook');
      const restarted = dispatcher({ channels: [again, added] });
      restarted.start();
      restarted.wake();
      await waitFor(() => again.delivered.length === 7 && added.delivered.length === 10);
      expect(again.delivered).toEqual(ids.slice(3));
      expect(added.delivered).toEqual(ids);
    });
  });

  it('delivers an escalation as an event of its own, after the raise of the same alert', async () => {
    const raised = alertFixture('L07', 1);
    const at = raised.eventTime + 60_000;
    const escalated = {
      ...raised,
      id: `${raised.body.alertId}:escalated:${at}`,
      eventTime: at,
      body: { ...raised.body, severity: 'critical' as const, change: 'escalated' as const, previousSeverity: 'warning' as const },
    };
    await appendAlerts(fixture.log, [raised, escalated]);
    const channel = new RecordingChannel('mqtt');
    dispatcher({ channels: [channel] }).start();
    await waitFor(() => channel.delivered.length === 2);
    expect(channel.delivered).toEqual([raised.id, escalated.id]);
  });

  it('dead-letters a record that is not an alert envelope, with its bytes, and moves on', async () => {
    await fixture.log.append(STREAMS.alerts, [{ key: 'L07', value: Buffer.from('{"type":"reading"') }]);
    await appendAlerts(fixture.log, [alertFixture('L07', 1)]);
    const channel = new RecordingChannel('mqtt');
    dispatcher({ channels: [channel] }).start();
    await waitFor(() => channel.delivered.length === 1);
    const [letter] = await readDeadLetters(fixture.log);
    expect(letter).toMatchObject({ channel: 'mqtt', attempts: 0, payload: Buffer.from('{"type":"reading"').toString('base64') });
    expect(letter.reason).toContain('not an alert envelope');
    expect(channel.attempts).toEqual([alertFixture('L07', 1).id]);
  });

  it('dead-letters a PermanentDeliveryError without retrying', async () => {
    const channel = new RecordingChannel('sns');
    channel.fail = (alert) => (alert.id === alertFixture('L07', 2).id ? new PermanentDeliveryError('topic does not exist') : undefined);
    await appendAlerts(fixture.log, [1, 2, 3].map((n) => alertFixture('L07', n)));
    const d = dispatcher({ channels: [channel] });
    d.start();
    await waitFor(() => d.counters().sns.delivered + d.counters().sns.deadLettered === 3);
    expect(d.counters().sns).toEqual({ delivered: 2, retried: 0, failed: 1, deadLettered: 1, errors: 0, oldestUndeliveredAt: null });
    expect((await readDeadLetters(fixture.log)).map((l) => [l.id, l.reason])).toEqual([[`sns:${alertFixture('L07', 2).id}`, 'topic does not exist']]);
  });

  it('with shareByGroup delivers only the alerts partitions its channel group assigns, and stops at a revocation', async () => {
    const log = fixture.log;
    let listener: GroupListener | undefined;
    let owned = ['0', '1'];
    // The real embedded log, with a group that gives this member partitions 0 and 1 of 4, as one
    // of several members would get (the Kinesis leases behind it: e2e/src/scale-out.kinesis.engine.spec.ts).
    const grouped = new Proxy(log, {
      get: (target, key) => {
        if (key === 'joinGroup')
          return async (group: string, stream: string, l: GroupListener) => {
            expect([group, stream]).toEqual([alertChannelGroup('pager'), STREAMS.alerts]);
            listener = l;
            await l.assigned(owned);
            return { owned: () => owned, leave: async () => l.revoked(owned) };
          };
        const value = Reflect.get(target, key, target) as unknown;
        return typeof value === 'function' ? (value as (...args: unknown[]) => unknown).bind(target) : value;
      },
    });
    const alerts = Array.from({ length: 24 }, (_, i) => alertFixture(`L${String(i % 12).padStart(2, '0')}`, i));
    await appendAlerts(log, alerts);
    const idsIn = async (partition: string) => (await log.read(STREAMS.alerts, partition, null, 1000)).map((r) => decodeEnvelope<AlertEnvelope>(r.value).id);
    const [p0, p1] = [await idsIn('0'), await idsIn('1')];
    expect(p0.length + p1.length).toBeGreaterThan(0);
    expect(p0.length + p1.length).toBeLessThan(alerts.length);
    const channel = new RecordingChannel('pager');
    dispatcher({ log: grouped, channels: [channel], shareByGroup: true }).start();
    await waitFor(() => channel.delivered.length === p0.length + p1.length, { what: 'the assigned partitions delivered' });
    expect(channel.delivered.sort()).toEqual([...p0, ...p1].sort());

    // Partition 1 is revoked: later alerts in it are left to its next owner.
    owned = ['0'];
    await listener!.revoked(['1']);
    const more = Array.from({ length: 24 }, (_, i) => alertFixture(`L${String(i % 12).padStart(2, '0')}`, 100 + i));
    await appendAlerts(log, more);
    const [q0] = [await idsIn('0')];
    await waitFor(() => channel.delivered.length === q0.length + p1.length, { what: 'partition 0 delivered' });
    await new Promise((resolve) => setTimeout(resolve, 200));
    expect(channel.delivered.sort()).toEqual([...q0, ...p1].sort());
  });

  it('refuses two channels with one name (they would share a position)', () => {
    expect(() => new AlertDispatcher({ log: fixture.log, channels: [new RecordingChannel('webhook'), new RecordingChannel('webhook')] })).toThrow(/two alert channels are named "webhook"/);
  });
});
