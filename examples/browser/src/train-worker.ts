import { probeGpuModes, train } from './training.js';
import type { FromWorker, ToWorker } from './protocol.js';

/**
 * The training worker: the page stays responsive because every tensor op runs here. One worker per
 * run; the page stops a run by terminating it.
 */
interface WorkerScope {
  postMessage(message: FromWorker): void;
  onmessage: ((event: MessageEvent<ToWorker>) => void) | null;
}
const scope = globalThis as unknown as WorkerScope;

const post = (m: FromWorker): void => scope.postMessage(m);

scope.onmessage = (event) => {
  const msg = event.data;
  const work = msg.type === 'train' ? train(msg.settings, post) : probeGpuModes(msg.modes).then((results) => post({ type: 'probe', results }));
  work.catch((e: unknown) => post({ type: 'error', message: e instanceof Error ? e.message : String(e) }));
};
