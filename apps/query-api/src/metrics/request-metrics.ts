import type { INestApplication } from '@nestjs/common';
import { Histogram, type Registry } from 'prom-client';

/** Request latency buckets (seconds): a read-model query takes milliseconds, a large range a second or more. */
const REQUEST_SECONDS_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

interface RoutedRequest {
  method: string;
  baseUrl?: string;
  route?: { path?: string };
}

/**
 * `meterstream_http_request_duration_seconds{method,route,status}`: every request the API answers,
 * timed from arrival to the last byte, labelled with its route pattern (`/lines/:lineId/readings`,
 * never the concrete URL, so the label set stays small) and status; requests no route matched are
 * `route="unmatched"`. Installed before the routes, so refusals (401, 400) are measured too.
 */
export function installRequestMetrics(app: INestApplication, registry: Registry): void {
  const duration = new Histogram<'method' | 'route' | 'status'>({
    name: 'meterstream_http_request_duration_seconds',
    help: 'Time to answer an API request, by method, route pattern and status code.',
    labelNames: ['method', 'route', 'status'],
    buckets: REQUEST_SECONDS_BUCKETS,
    registers: [registry],
  });
  app.use((req: RoutedRequest, res: { statusCode: number; once(event: 'finish', listener: () => void): void }, next: () => void) => {
    const end = duration.startTimer();
    res.once('finish', () => {
      const route = req.route?.path === undefined ? 'unmatched' : `${req.baseUrl ?? ''}${req.route.path}`;
      end({ method: req.method, route, status: String(res.statusCode) });
    });
    next();
  });
}
