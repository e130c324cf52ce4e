// The machine note stored with every result: benchmark numbers mean nothing without it.
import os from 'node:os';
import { readFileSync } from 'node:fs';

export function machineNote() {
  const cpus = os.cpus();
  return {
    cpus: cpus.length,
    cpuModel: cpus[0]?.model ?? 'unknown',
    node: process.version,
    v8: process.versions.v8,
    platform: `${process.platform} ${process.arch}`,
    date: new Date().toISOString(),
    loadAvg1: round(os.loadavg()[0]),
  };
}

/** Load average right now: rows measured under load > cpu count are flagged in the table. */
export function load1() {
  return round(os.loadavg()[0]);
}

export function packageVersion(name) {
  try {
    const url = new URL(`../../node_modules/${name}/package.json`, import.meta.url);
    return JSON.parse(readFileSync(url, 'utf8')).version;
  } catch {
    return 'unknown';
  }
}

function round(x) {
  return Math.round(x * 100) / 100;
}
