// Runs the 1Password SDK in worker threads. A crafted token can make the SDK's WebAssembly core
// panic, which no try/catch stops (research §2.3); in a worker it ends that worker only. A dead
// worker's in-flight calls fail as `internal` and the next call for its tokens starts a new one
// (so a crash loop cannot spin). A worker that stops answering after a call timed out is
// terminated; one that outgrows its heap limit is stopped by V8. Each token always goes to the
// same worker, where its logged-in client lives.

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { ProviderErrorKind } from '../provider.js';
import { providerError } from '../provider.js';
import type { FromWorker, SdkOperation, ToWorker, WorkerCall, WorkerSettings } from './worker-protocol.js';

export type WorkerExitReason = 'crashed' | 'hung' | 'out_of_memory' | 'exited';
export const WORKER_EXIT_REASONS: readonly WorkerExitReason[] = ['crashed', 'hung', 'out_of_memory', 'exited'];

export interface SdkWorkerPoolOptions extends WorkerSettings {
  size: number;
  /** Heap limit of each worker (V8's old generation), in MB. WebAssembly memory is not part of it. */
  maxHeapMb?: number;
  /** How long a worker has to answer a ping after one of its calls timed out before it counts as hung. */
  hangMs?: number;
  onRequest?: (operation: SdkOperation, outcome: 'ok' | ProviderErrorKind) => void;
  onExit?: (reason: WorkerExitReason) => void;
}

/** What a pool tells its owner: the outcome of every SDK request, and every worker that stops. */
export type PoolEvents = Required<Pick<SdkWorkerPoolOptions, 'onRequest' | 'onExit'>>;

/** Where the provider's SDK calls run. */
export interface SdkExecutor {
  /** Runs `call` where its token's client lives; rejects with ProviderError('timeout') after `deadlineMs`. */
  run<T>(call: WorkerCall, deadlineMs: number): Promise<T>;
  /** Drops the client of the token with this key. */
  forget(key: string): void;
  close(): Promise<void>;
}

const DEFAULT_MAX_HEAP_MB = 256;
const DEFAULT_HANG_MS = 5_000;
// setTimeout fires at once for delays above 2^31-1 ms.
const MAX_TIMER_MS = 2 ** 31 - 1;

interface Pending {
  resolve: (value: unknown) => void;
  reject: (err: unknown) => void;
  timer: NodeJS.Timeout;
}

interface Slot {
  worker: Worker;
  pending: Map<number, Pending>;
  ping?: { id: number; timer: NodeJS.Timeout };
  exitReason?: WorkerExitReason;
}

/**
 * The compiled worker script. Under vitest this module is TypeScript in src/, which a worker thread
 * cannot load, so it uses the build in dist/ (`npm test` builds it first).
 */
function workerEntry(): URL {
  const here = import.meta.url;
  return here.endsWith('.ts') ? new URL('../../../dist/providers/onepassword/sdk-worker.js', here) : new URL('./sdk-worker.js', here);
}

export function createSdkWorkerPool(options: SdkWorkerPoolOptions): SdkExecutor {
  const { size, maxHeapMb = DEFAULT_MAX_HEAP_MB, hangMs = DEFAULT_HANG_MS, onRequest = () => {}, onExit = () => {} } = options;
  const settings: WorkerSettings = {
    loginDeadlineMs: options.loginDeadlineMs,
    callDeadlineMs: options.callDeadlineMs,
    integrationVersion: options.integrationVersion,
    clientIdleMs: options.clientIdleMs,
    maxClients: options.maxClients,
    sdkModule: options.sdkModule,
  };
  const entry = workerEntry();
  if (!existsSync(fileURLToPath(entry)))
    throw new Error(`the 1Password worker script is missing (${fileURLToPath(entry)}); run npm run build`);
  const slots: (Slot | undefined)[] = Array.from({ length: size }, () => undefined);
  let nextId = 0;
  let closed = false;

  const indexOf = (key: string) => Number.parseInt(key.slice(0, 8), 16) % size;

  function spawn(index: number): Slot {
    const worker = new Worker(entry, {
      workerData: settings,
      resourceLimits: { maxOldGenerationSizeMb: maxHeapMb },
      stdout: true,
      stderr: true,
    });
    // Whatever the SDK prints could quote what it was given: it is dropped, never logged.
    worker.stdout.resume();
    worker.stderr.resume();
    // A pending call's deadline timer keeps the process alive; an idle worker must not.
    worker.unref();
    const slot: Slot = { worker, pending: new Map() };
    worker.on('message', (message: FromWorker) => receive(slot, message));
    // Only the kind of failure is kept: an error's message may come from the SDK.
    worker.on('error', (err: Error & { code?: string }) => {
      slot.exitReason ??= err.code === 'ERR_WORKER_OUT_OF_MEMORY' ? 'out_of_memory' : 'crashed';
    });
    worker.on('exit', () => retire(index, slot));
    slots[index] = slot;
    return slot;
  }

  function retire(index: number, slot: Slot): void {
    slot.exitReason ??= 'exited';
    if (slots[index] === slot) slots[index] = undefined;
    if (slot.ping) clearTimeout(slot.ping.timer);
    for (const call of slot.pending.values()) {
      clearTimeout(call.timer);
      call.reject(providerError('internal'));
    }
    slot.pending.clear();
    if (!closed) onExit(slot.exitReason);
  }

  function receive(slot: Slot, message: FromWorker): void {
    switch (message.type) {
      case 'request':
        onRequest(message.operation, message.outcome);
        return;
      case 'pong':
        if (slot.ping?.id === message.id) {
          clearTimeout(slot.ping.timer);
          slot.ping = undefined;
        }
        return;
      case 'result': {
        const call = slot.pending.get(message.id);
        // Absent when the call's deadline fired first: its late answer is dropped.
        if (!call) return;
        slot.pending.delete(message.id);
        clearTimeout(call.timer);
        if (message.ok) call.resolve(message.value);
        else call.reject(providerError(message.kind, message.retryAfterSeconds));
      }
    }
  }

  /** After a timeout: a worker whose event loop still turns answers at once; one that does not is stuck and replaced. */
  function checkResponsive(slot: Slot): void {
    if (slot.ping || slot.exitReason) return;
    const id = ++nextId;
    const timer = setTimeout(() => {
      slot.exitReason = 'hung';
      void slot.worker.terminate();
    }, hangMs);
    slot.ping = { id, timer };
    slot.worker.postMessage({ type: 'ping', id } satisfies ToWorker);
  }

  return {
    run<T>(call: WorkerCall, deadlineMs: number): Promise<T> {
      if (closed) return Promise.reject(providerError('internal'));
      const index = indexOf(call.tokenKey);
      // A worker being replaced (hung, crashed) takes no new calls.
      const current = slots[index];
      const slot = current && !current.exitReason ? current : spawn(index);
      const id = ++nextId;
      return new Promise<T>((resolve, reject) => {
        const timer = setTimeout(
          () => {
            slot.pending.delete(id);
            reject(providerError('timeout'));
            checkResponsive(slot);
          },
          Math.min(Math.max(0, deadlineMs), MAX_TIMER_MS),
        );
        slot.pending.set(id, { resolve: resolve as (value: unknown) => void, reject, timer });
        slot.worker.postMessage({ type: 'call', id, ...call } satisfies ToWorker);
      });
    },

    forget(key) {
      // No live worker means no client to drop.
      slots[indexOf(key)]?.worker.postMessage({ type: 'forget', tokenKey: key } satisfies ToWorker);
    },

    async close() {
      closed = true;
      await Promise.all(slots.map((slot) => slot?.worker.terminate()));
    },
  };
}
