// HTTP requests in the metrics: how many, by method, route pattern and status class, and how long
// they took. Labels come from closed sets: the route *pattern* (never the raw URL, which is
// caller-controlled text) of a registered route, or `unmatched`; never an org, vault or token.
import type { FastifyInstance, RouteOptions } from 'fastify';
import type { MetricsRegistry } from '../metrics.js';

const METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS', 'other'];
const STATUS_CLASSES = ['1xx', '2xx', '3xx', '4xx', '5xx'];
/** Seconds: from a cached read (about a millisecond) to a fill that waits on 1Password and a browser. */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];

// One set for the process: apps built in one process (tests) share a registry, and their routes.
const ROUTE_PATTERNS: string[] = ['unmatched'];

export function registerRequestMetrics(app: FastifyInstance, metrics: MetricsRegistry): void {
  app.addHook('onRoute', (route: RouteOptions) => {
    if (!ROUTE_PATTERNS.includes(route.url)) ROUTE_PATTERNS.push(route.url);
  });
  const requests = metrics.counter('sesame_http_requests_total', 'HTTP requests answered, by method, route pattern and status class', {
    method: METHODS,
    route: ROUTE_PATTERNS,
    status_class: STATUS_CLASSES,
  });
  const duration = metrics.histogram(
    'sesame_http_request_duration_seconds',
    'Time from the request to its answer, by method and route pattern',
    { method: METHODS, route: ROUTE_PATTERNS },
    DURATION_BUCKETS,
  );
  app.addHook('onResponse', (request, reply, done) => {
    const method = METHODS.includes(request.method) ? request.method : 'other';
    const pattern = request.routeOptions.url;
    const route = pattern !== undefined && ROUTE_PATTERNS.includes(pattern) ? pattern : 'unmatched';
    const status = reply.statusCode;
    const statusClass = status >= 100 && status < 600 ? `${Math.floor(status / 100)}xx` : '5xx';
    requests.inc({ method, route, status_class: statusClass });
    duration.observe({ method, route }, reply.elapsedTime / 1000);
    done();
  });
}
