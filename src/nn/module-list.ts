import { Module } from './module.js';

/** An ordered list of child modules named `0`, `1`, … (so their parameters read `layers.0.weight`). */
export class ModuleList<M extends Module = Module> extends Module {
  readonly items: readonly M[];

  constructor(items: readonly M[]) {
    super();
    items.forEach((m, i) => this.addModule(String(i), m));
    this.items = [...items];
  }

  get length(): number {
    return this.items.length;
  }

  at(index: number): M {
    const m = this.items[index];
    if (m === undefined) throw new Error(`ModuleList: index ${index} out of range [0, ${this.items.length})`);
    return m;
  }

  [Symbol.iterator](): Iterator<M> {
    return this.items[Symbol.iterator]();
  }
}
