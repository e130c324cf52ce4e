#!/usr/bin/env node
import { setupCore } from '../core-setup.js';
import { useWorkerThreads } from '../node/worker-threads.js';
import { main, reportError } from './program.js';

setupCore();
useWorkerThreads();

// `dselect-k compare | head`: when the reader has gone, stop quietly (exit 0) instead of dying on EPIPE.
for (const stream of [process.stdout, process.stderr]) {
  stream.on('error', (e: NodeJS.ErrnoException) => {
    if (e.code === 'EPIPE') process.exit(0);
    throw e;
  });
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
