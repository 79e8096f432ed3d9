import { EventEmitter } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import mqttPacket, { type IPublishPacket, type Packet } from 'mqtt-packet';
import { GroupCommit } from './group-commit';
import { tlsRefusal } from './tls-refusal';

export interface InboundMessage {
  topic: string;
  payload: Buffer;
  qos: 0 | 1 | 2;
}

export interface DurableSubscriberOptions {
  /** mqtt://host:port or mqtts://host:port (AWS IoT: mqtts with a client certificate). */
  url: string;
  clientId: string;
  topics: string[];
  username?: string;
  password?: string;
  /** PEM text for mqtts: the CA of the broker's certificate; the client certificate and key for mutual TLS. */
  tls?: { ca?: string | Buffer; cert?: string | Buffer; key?: string | Buffer };
  keepaliveSeconds?: number;
  /** Messages received but not yet acknowledged before the socket is paused (backpressure). */
  maxInFlight?: number;
  /** Most messages handed to handleBatch at once. */
  maxBatch?: number;
  /** Must make the batch durable; the messages are acknowledged to the broker only after it resolves. */
  handleBatch(messages: InboundMessage[]): Promise<void>;
  reconnectMinMs?: number;
  reconnectMaxMs?: number;
}

interface Pending {
  message: InboundMessage;
  messageId: number | undefined;
  connection: number;
}

/**
 * An MQTT 3.1.1 subscriber that acknowledges each QoS 1 message only after the batch holding it is
 * durable, with a persistent session (clean=false) so the broker keeps what was not acknowledged.
 *
 * Why not mqtt.js: its handleMessage hook defers the PUBACK but also stops reading the next packet
 * until the callback runs, so every message would need its own durable commit. Here all messages
 * received while a commit is under way form the next batch (group commit): one fsync acknowledges
 * thousands. Memory is bounded: past maxInFlight unacknowledged messages the socket is paused and
 * TCP flow control pushes back on the broker.
 *
 * Events: 'connect' ({ sessionPresent }), 'disconnect' (reason), 'error' (Error, non-fatal; it
 * reconnects with backoff), 'batch-error' (Error: handleBatch failed, the batch is retried and
 * stays unacknowledged — also at stop(), when it is left for the broker to redeliver), 'fatal'
 * (Error: a refusal that retrying will not fix — credentials, a certificate either side rejects —
 * after start() resolved; it has stopped. Before that, start() rejects with it instead).
 */
export class DurableSubscriber extends EventEmitter {
  private socket: net.Socket | undefined;
  private connection = 0;
  private readonly commits: GroupCommit<Pending>;
  private stopped = false;
  private paused = false;
  private reconnectDelay: number;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private keepaliveTimer: NodeJS.Timeout | undefined;
  private lastPacketAt = 0;
  private nextMessageId = 1;
  private connectedWaiters: { resolve: () => void; reject: (e: Error) => void }[] = [];
  private started = false;
  private corked = false;
  private subscribedNow = false;
  /** Counters for metrics. */
  readonly counters = { received: 0, acknowledged: 0, batches: 0, reconnects: 0 };

  constructor(private readonly options: DurableSubscriberOptions) {
    super();
    this.reconnectDelay = options.reconnectMinMs ?? 200;
    this.commits = new GroupCommit<Pending>({
      maxBatch: options.maxBatch ?? 2000,
      commit: async (batch) => {
        await options.handleBatch(batch.map((p) => p.message));
        this.counters.batches++;
      },
      onError: (err) => this.emit('batch-error', err),
    });
  }

  /** Connects and subscribes; resolves on the first successful subscription. */
  start(): Promise<void> {
    const ready = new Promise<void>((resolve, reject) => this.connectedWaiters.push({ resolve, reject }));
    this.connect();
    return ready;
  }

  /** Connected to the broker with the subscription granted (readiness). */
  get subscribed(): boolean {
    return this.subscribedNow;
  }

  get inFlight(): number {
    return this.commits.pending;
  }

  /**
   * Stops reading, lets the batch in progress become durable and be acknowledged, then disconnects.
   * A batch that cannot be committed, and everything queued behind it, stays unacknowledged.
   */
  async stop(): Promise<void> {
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    clearInterval(this.keepaliveTimer);
    this.socket?.pause();
    await this.commits.stop();
    const socket = this.socket;
    this.socket = undefined;
    if (socket && !socket.destroyed) {
      await new Promise<void>((resolve) => socket.end(mqttPacket.generate({ cmd: 'disconnect' }), () => resolve()));
      socket.destroy();
    }
    // Whatever was received but not yet durable stayed unacknowledged: the broker redelivers it.
  }

  private connect(): void {
    if (this.stopped) return;
    const url = new URL(this.options.url);
    const secure = url.protocol === 'mqtts:' || url.protocol === 'ssl:';
    const port = Number(url.port || (secure ? 8883 : 1883));
    const host = url.hostname.replace(/^\[|\]$/g, '');
    const connection = ++this.connection;
    const socket = secure
      ? tls.connect({
          host,
          port,
          servername: net.isIP(host) ? undefined : host, // SNI carries host names only (RFC 6066)
          ca: this.options.tls?.ca,
          cert: this.options.tls?.cert,
          key: this.options.tls?.key,
        })
      : net.connect({ host, port });
    socket.setNoDelay(true);
    this.socket = socket;
    this.paused = false;
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (packet: Packet) => this.onPacket(packet, connection));
    parser.on('error', (err: Error) => socket.destroy(err));
    socket.on('data', (data: Buffer) => {
      this.lastPacketAt = Date.now();
      parser.parse(data);
    });
    socket.once(secure ? 'secureConnect' : 'connect', () => {
      const keepalive = this.options.keepaliveSeconds ?? 30;
      this.write({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clean: false,
        clientId: this.options.clientId,
        keepalive,
        username: this.options.username,
        password: this.options.password === undefined ? undefined : Buffer.from(this.options.password),
      });
      this.lastPacketAt = Date.now();
      clearInterval(this.keepaliveTimer);
      this.keepaliveTimer = setInterval(() => {
        if (Date.now() - this.lastPacketAt > keepalive * 1500) socket.destroy(new Error(`no packet from the broker for ${keepalive * 1.5} s`));
        else this.write({ cmd: 'pingreq' });
      }, (keepalive * 1000) / 2);
      this.keepaliveTimer.unref();
    });
    socket.on('error', (err: NodeJS.ErrnoException) => {
      const refusal = tlsRefusal(err);
      if (refusal) this.fail(new Error(`MQTT broker ${this.options.url}: ${refusal}`));
      else this.emit('error', err);
    });
    socket.on('close', () => {
      if (connection !== this.connection) return;
      this.subscribedNow = false;
      clearInterval(this.keepaliveTimer);
      // Messages not yet durable are forgotten; the broker redelivers them to the persistent session.
      this.commits.discard((p) => p.connection === connection);
      this.emit('disconnect', 'socket closed');
      if (!this.stopped) this.scheduleReconnect();
    });
  }

  /** Stops for good: start() rejects with `error`, or, once started, 'fatal' reports it. */
  private fail(error: Error): void {
    if (this.stopped) return;
    this.stopped = true;
    clearTimeout(this.reconnectTimer);
    this.socket?.destroy();
    if (this.started) this.emit('fatal', error);
    else this.connectedWaiters.splice(0).forEach((w) => w.reject(error));
  }

  private scheduleReconnect(): void {
    this.counters.reconnects++;
    const delay = this.reconnectDelay;
    this.reconnectDelay = Math.min(delay * 2, this.options.reconnectMaxMs ?? 5000);
    this.reconnectTimer = setTimeout(() => this.connect(), delay);
  }

  private onPacket(packet: Packet, connection: number): void {
    switch (packet.cmd) {
      case 'connack': {
        if (packet.returnCode !== 0) {
          const reason = ['', 'unacceptable protocol version', 'client id rejected', 'server unavailable', 'bad username or password', 'not authorised'][packet.returnCode ?? 0] ?? `code ${packet.returnCode}`;
          const error = new Error(`MQTT broker ${this.options.url} refused the connection: ${reason}`);
          // A refusal for credentials will not fix itself: fail rather than retry forever.
          if (packet.returnCode === 4 || packet.returnCode === 5) this.fail(error);
          else this.emit('error', error);
          this.socket?.destroy();
          return;
        }
        this.reconnectDelay = this.options.reconnectMinMs ?? 200;
        this.emit('connect', { sessionPresent: packet.sessionPresent });
        this.write({
          cmd: 'subscribe',
          messageId: this.allocateMessageId(),
          subscriptions: this.options.topics.map((topic) => ({ topic, qos: 1 as const })),
        });
        return;
      }
      case 'suback': {
        const refused = packet.granted.some((g) => (typeof g === 'number' ? g : (g as { qos?: number }).qos) === 128);
        if (refused) {
          const error = new Error(`MQTT broker refused the subscription to ${this.options.topics.join(', ')}`);
          this.emit('error', error);
          this.connectedWaiters.splice(0).forEach((w) => w.reject(error));
          return;
        }
        this.started = true;
        this.subscribedNow = true;
        this.connectedWaiters.splice(0).forEach((w) => w.resolve());
        return;
      }
      case 'publish':
        this.onPublish(packet, connection);
        return;
      case 'pubrel':
        // QoS 2 (only if a broker grants more than asked): the message was made durable before PUBREC.
        this.write({ cmd: 'pubcomp', messageId: packet.messageId });
        return;
      default:
        return; // pingresp, unsuback: nothing to do
    }
  }

  private onPublish(packet: IPublishPacket, connection: number): void {
    this.counters.received++;
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const pending: Pending = { message: { topic: packet.topic, payload, qos: packet.qos }, messageId: packet.messageId, connection };
    this.commits.submit(pending, (err) => {
      if (!err) this.acknowledge(pending);
      this.resumeIfDrained();
    });
    if (!this.paused && this.commits.pending >= (this.options.maxInFlight ?? 20_000)) {
      this.paused = true;
      this.socket?.pause();
    }
  }

  private resumeIfDrained(): void {
    if (this.paused && !this.stopped && this.commits.pending < (this.options.maxInFlight ?? 20_000) / 2) {
      this.paused = false;
      this.socket?.resume();
    }
  }

  private acknowledge(p: Pending): void {
    const socket = this.socket;
    // An id from an earlier connection means nothing to the broker now; it redelivers that message.
    if (!socket || socket.destroyed || p.connection !== this.connection || p.messageId === undefined) return;
    if (!this.corked) {
      // A committed batch is acknowledged in one write.
      this.corked = true;
      socket.cork();
      process.nextTick(() => {
        this.corked = false;
        socket.uncork();
      });
    }
    if (p.message.qos === 1) this.write({ cmd: 'puback', messageId: p.messageId });
    else if (p.message.qos === 2) this.write({ cmd: 'pubrec', messageId: p.messageId });
    this.counters.acknowledged++;
  }

  private allocateMessageId(): number {
    const id = this.nextMessageId;
    this.nextMessageId = id >= 65535 ? 1 : id + 1;
    return id;
  }

  private write(packet: Packet): void {
    const socket = this.socket;
    if (socket && !socket.destroyed) socket.write(mqttPacket.generate(packet));
  }
}
