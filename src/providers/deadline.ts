// Our own deadline around provider work: the SDK has no timeout of its own and a hung
// request would otherwise wait for minutes. The work itself cannot be cancelled; it
// keeps running in the background and its late result or error is ignored.

import { providerError } from './provider.js';

// setTimeout fires at once for delays above 2^31-1 ms; clamp instead.
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Settles like `promise`, or rejects with ProviderError('timeout') after `ms` milliseconds, whichever comes first. */
export function withDeadline<T>(promise: Promise<T>, ms: number): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const timer = setTimeout(() => reject(providerError('timeout')), Math.min(Math.max(0, ms), MAX_TIMER_MS));
    promise.then(
      (value) => {
        clearTimeout(timer);
        resolve(value);
      },
      (err: unknown) => {
        clearTimeout(timer);
        reject(err);
      },
    );
  });
}
