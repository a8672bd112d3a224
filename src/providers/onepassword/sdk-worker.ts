// Entry point of the worker thread that hosts the 1Password SDK (started by worker-pool.ts).
// A WebAssembly panic, a blocked event loop or a memory blow-up here ends this worker, never
// the server. Answers carry values or a ProviderErrorKind, never an SDK message.

import { parentPort, workerData } from 'node:worker_threads';
import { ProviderError } from '../provider.js';
import { createSdkOperations, type SdkModule } from './sdk-operations.js';
import type { FromWorker, ToWorker, WorkerCall, WorkerSettings } from './worker-protocol.js';

const SWEEP_INTERVAL_MS = 60_000;

const port = parentPort;
if (!port) throw new Error('sdk-worker.js runs only as a worker thread');
const settings = workerData as WorkerSettings;
const send = (message: FromWorker) => port.postMessage(message);

// Started at once: compiling the SDK's 14 MB of WebAssembly takes a while, and the first call should not wait for all of it.
const sdk = import(settings.sdkModule ?? '@1password/sdk') as Promise<SdkModule>;
sdk.catch(() => {}); // reported to each call that needs it

const operations = createSdkOperations({
  ...settings,
  loadSdk: () => sdk,
  onRequest: (operation, outcome) => send({ type: 'request', operation, outcome }),
});

function run(call: WorkerCall): Promise<unknown> {
  const token = { secret: call.token, key: call.tokenKey };
  switch (call.op) {
    case 'checkVaultAccess':
      return operations.checkVaultAccess(token, call.vaultId);
    case 'listItems':
      return operations.listItems(token, call.vaultId);
    case 'getItem':
      return operations.getItem(token, call.vaultId, call.itemId);
  }
}

port.on('message', (message: ToWorker) => {
  if (message.type === 'ping') return send({ type: 'pong', id: message.id });
  if (message.type === 'forget') return operations.forget(message.tokenKey);
  const { id } = message;
  run(message).then(
    (value) => send({ type: 'result', id, ok: true, value }),
    (err: unknown) => {
      // Operations throw only ProviderErrors; anything else is a bug, reported without its message.
      const failure = err instanceof ProviderError ? err : new ProviderError('internal', 'unexpected error');
      send({ type: 'result', id, ok: false, kind: failure.kind, retryAfterSeconds: failure.retryAfterSeconds });
    },
  );
});

setInterval(() => operations.sweep(), SWEEP_INTERVAL_MS).unref();
