#!/usr/bin/env node
import { setupCore } from '../core-setup.js';
import { useWorkerThreads } from '../node/worker-threads.js';
import { main, reportError } from './program.js';

setupCore();
useWorkerThreads();

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    process.exitCode = reportError(e);
  },
);
