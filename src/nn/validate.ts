/** Argument checks for layer constructors; errors name the layer, the parameter and the value. */
export function assertPositiveInteger(owner: string, name: string, value: number): void {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1) {
    throw new Error(`${owner}: ${name} must be a positive integer, got ${String(value)}`);
  }
}

