import type * as protobuf from 'protobufjs';

/**
 * The part of ONNX's schema (onnx/onnx.proto3, field numbers as published by the ONNX project) that an
 * exported model uses. Encoding is done by protobufjs, an optional peer dependency loaded on first use
 * so that nothing else in dselect-k needs it.
 */
const ONNX_SCHEMA = `
syntax = "proto3";
package onnx;
message AttributeProto {
  enum AttributeType { UNDEFINED = 0; FLOAT = 1; INT = 2; STRING = 3; TENSOR = 4; GRAPH = 5; FLOATS = 6; INTS = 7; STRINGS = 8; TENSORS = 9; GRAPHS = 10; }
  string name = 1;
  AttributeType type = 20;
  float f = 2;
  int64 i = 3;
  bytes s = 4;
  TensorProto t = 5;
  repeated float floats = 7;
  repeated int64 ints = 8;
}
message ValueInfoProto { string name = 1; TypeProto type = 2; string doc_string = 3; }
message NodeProto {
  repeated string input = 1;
  repeated string output = 2;
  string name = 3;
  string op_type = 4;
  string domain = 7;
  repeated AttributeProto attribute = 5;
  string doc_string = 6;
}
message ModelProto {
  int64 ir_version = 1;
  repeated OperatorSetIdProto opset_import = 8;
  string producer_name = 2;
  string producer_version = 3;
  string domain = 4;
  int64 model_version = 5;
  string doc_string = 6;
  GraphProto graph = 7;
  repeated StringStringEntryProto metadata_props = 14;
}
message StringStringEntryProto { string key = 1; string value = 2; }
message GraphProto {
  repeated NodeProto node = 1;
  string name = 2;
  repeated TensorProto initializer = 5;
  string doc_string = 10;
  repeated ValueInfoProto input = 11;
  repeated ValueInfoProto output = 12;
  repeated ValueInfoProto value_info = 13;
}
message TensorProto {
  enum DataType { UNDEFINED = 0; FLOAT = 1; UINT8 = 2; INT8 = 3; UINT16 = 4; INT16 = 5; INT32 = 6; INT64 = 7; STRING = 8; BOOL = 9; FLOAT16 = 10; DOUBLE = 11; }
  repeated int64 dims = 1;
  int32 data_type = 2;
  string name = 8;
  string doc_string = 12;
  bytes raw_data = 9;
}
message TensorShapeProto {
  message Dimension { oneof value { int64 dim_value = 1; string dim_param = 2; } string denotation = 3; }
  repeated Dimension dim = 1;
}
message TypeProto {
  message Tensor { int32 elem_type = 1; TensorShapeProto shape = 2; }
  oneof value { Tensor tensor_type = 1; }
  string denotation = 6;
}
message OperatorSetIdProto { string domain = 1; int64 version = 2; }
`;

/** ONNX TensorProto.DataType values used here. */
export const ONNX_FLOAT = 1;
export const ONNX_INT64 = 7;
export const ONNX_BOOL = 9;

export const ATTRIBUTE_TYPE = { FLOAT: 1, INT: 2, STRING: 3, TENSOR: 4, FLOATS: 6, INTS: 7 } as const;

/** Thrown when the optional peer protobufjs is missing. */
export const PROTOBUF_MISSING = "exportOnnx: the optional dependency protobufjs is not installed (npm install protobufjs)";

let modelType: Promise<protobuf.Type> | undefined;

/** The onnx.ModelProto message type (protobufjs loaded and the schema parsed once). */
export function onnxModelType(): Promise<protobuf.Type> {
  modelType ??= import('protobufjs').then(
    (mod) => {
      const pb = ((mod as unknown as { default?: typeof protobuf }).default ?? mod) as typeof protobuf;
      return pb.parse(ONNX_SCHEMA, { keepCase: true }).root.lookupType('onnx.ModelProto');
    },
    () => {
      modelType = undefined;
      throw new Error(PROTOBUF_MISSING);
    },
  );
  return modelType;
}

/** Serialises a ModelProto given as a plain object (field names as in the schema). */
export async function encodeOnnxModel(model: Record<string, unknown>): Promise<Uint8Array> {
  const type = await onnxModelType();
  const problem = type.verify(model);
  if (problem) throw new Error(`exportOnnx: internal error, the model does not fit the ONNX schema: ${problem}`);
  return type.encode(type.fromObject(model)).finish();
}

/** Parses an ONNX file back into a plain object (for inspection and tests). */
export async function decodeOnnxModel(bytes: Uint8Array): Promise<Record<string, unknown>> {
  const type = await onnxModelType();
  return type.toObject(type.decode(bytes), { longs: Number, bytes: Array, defaults: false }) as Record<string, unknown>;
}
