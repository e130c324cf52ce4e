/**
 * dselect-k/onnx: export trained models to ONNX, to serve them with onnxruntime (servers, browsers,
 * phones) or convert them to other frameworks. Needs the optional peer `protobufjs`, loaded on first
 * use; nothing else in dselect-k depends on it, and this entry has no Node built-in (it bundles for browsers).
 */
import { setupCore } from '../core-setup.js';

setupCore();

export { buildOnnx, exportOnnx, ONNX_OPSETS, type AffineMap, type OnnxExportOptions, type OnnxSignature } from './export.js';
export { decodeOnnxModel } from './proto.js';
