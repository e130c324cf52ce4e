import { allocArray, type DType, type TypedArray } from '../../tensor/dtype.js';
import { HostStorage, type Storage } from '../../tensor/storage.js';

/** The typed array behind a cpu storage. */
export function dataOf(s: Storage): TypedArray {
  if (!(s instanceof HostStorage)) throw new Error(`cpu backend: storage of backend '${s.backend}' was not adopted first`);
  return s.data;
}

export function wrap(data: TypedArray): HostStorage {
  return new HostStorage(data, 'cpu');
}

export function alloc(dtype: DType, length: number): TypedArray {
  return allocArray(dtype, length);
}
