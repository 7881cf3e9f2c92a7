// Replaces named initialisers of an ONNX model (protobuf bytes) before the session is created: how MODEL_WEIGHTS and
// MODEL_BIAS reach the linear graph. onnxruntime-node feeds only a graph's required inputs (overridable initialisers
// given to run() are ignored), so the values are written into the model instead.
// Wire format: ModelProto.graph = field 7; GraphProto.initializer = field 5; TensorProto dims = 1, data_type = 2,
// name = 8, raw_data = 9 (onnx/onnx.proto).

const Wire = { Varint: 0, Fixed64: 1, Bytes: 2, Fixed32: 5 } as const;

/** ONNX TensorProto.DataType values this module writes. */
export const ONNX_FLOAT = 1;
export const ONNX_DOUBLE = 11;

interface Field {
  readonly number: number;
  readonly wire: number;
  /** The whole field, tag included. */
  readonly raw: Uint8Array;
  /** For length-delimited fields, the payload. */
  readonly payload: Uint8Array;
  readonly varint: number;
}

function readVarint(buf: Uint8Array, pos: number): [number, number] {
  let value = 0;
  let scale = 1;
  for (;;) {
    if (pos >= buf.length) throw new Error('truncated varint');
    const b = buf[pos++]!;
    value += (b & 0x7f) * scale;
    if ((b & 0x80) === 0) return [value, pos];
    scale *= 128;
  }
}

function fields(buf: Uint8Array): Field[] {
  const out: Field[] = [];
  let pos = 0;
  while (pos < buf.length) {
    const start = pos;
    const [tag, afterTag] = readVarint(buf, pos);
    pos = afterTag;
    const wire = tag % 8;
    let payload = buf.subarray(pos, pos);
    let varint = 0;
    if (wire === Wire.Varint) [varint, pos] = readVarint(buf, pos);
    else if (wire === Wire.Fixed64) pos += 8;
    else if (wire === Wire.Fixed32) pos += 4;
    else if (wire === Wire.Bytes) {
      const [len, p] = readVarint(buf, pos);
      payload = buf.subarray(p, p + len);
      pos = p + len;
    } else throw new Error(`unsupported protobuf wire type ${wire}`);
    if (pos > buf.length) throw new Error('truncated protobuf field');
    out.push({ number: Math.floor(tag / 8), wire, raw: buf.subarray(start, pos), payload, varint });
  }
  return out;
}

function varint(n: number): number[] {
  const bytes: number[] = [];
  while (n >= 0x80) {
    bytes.push((n % 128) | 0x80);
    n = Math.floor(n / 128);
  }
  bytes.push(n);
  return bytes;
}

const tag = (field: number, wire: number) => varint(field * 8 + wire);
const bytesField = (field: number, payload: Uint8Array): Uint8Array => concat([Uint8Array.from([...tag(field, Wire.Bytes), ...varint(payload.length)]), payload]);

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}

/** A TensorProto of `values` (1-D) named `name`, as FLOAT or DOUBLE raw little-endian data. */
export function tensorProto(name: string, values: readonly number[], dataType: number): Uint8Array {
  const data = dataType === ONNX_FLOAT ? new Float32Array(values) : new Float64Array(values);
  return concat([
    Uint8Array.from([...tag(1, Wire.Varint), ...varint(values.length), ...tag(2, Wire.Varint), ...varint(dataType)]),
    bytesField(8, new TextEncoder().encode(name)),
    bytesField(9, new Uint8Array(data.buffer, data.byteOffset, data.byteLength)),
  ]);
}

/**
 * Returns the model with each initialiser named in `values` replaced by a 1-D tensor of those values, in the
 * initialiser's own float type. Throws when one is missing or is not FLOAT/DOUBLE.
 */
export function replaceInitializers(model: Uint8Array, values: Readonly<Record<string, readonly number[]>>): Uint8Array {
  const wanted = new Set(Object.keys(values));
  if (wanted.size === 0) return model;
  const modelFields = fields(model);
  const graph = modelFields.find((f) => f.number === 7 && f.wire === Wire.Bytes);
  if (graph === undefined) throw new Error('the file has no graph');
  const graphParts = fields(graph.payload).map((f) => {
    if (f.number !== 5 || f.wire !== Wire.Bytes) return f.raw;
    const tensor = fields(f.payload);
    const nameField = tensor.find((t) => t.number === 8 && t.wire === Wire.Bytes);
    const name = nameField === undefined ? '' : new TextDecoder().decode(nameField.payload);
    if (!wanted.has(name)) return f.raw;
    wanted.delete(name);
    const dataType = tensor.find((t) => t.number === 2 && t.wire === Wire.Varint)?.varint;
    if (dataType !== ONNX_FLOAT && dataType !== ONNX_DOUBLE) throw new Error(`initialiser ${name} is not FLOAT or DOUBLE (data_type ${dataType})`);
    return bytesField(5, tensorProto(name, values[name]!, dataType));
  });
  if (wanted.size > 0) throw new Error(`the graph has no initialiser named ${[...wanted].join(', ')}`);
  return concat(modelFields.map((f) => (f === graph ? bytesField(7, concat(graphParts)) : f.raw)));
}

/** The smallest useful model: y = Identity(x), x a DOUBLE tensor of any shape (runtime.ts warms ONNX Runtime with it). */
export function identityModel(): Uint8Array {
  const text = (field: number, value: string) => bytesField(field, new TextEncoder().encode(value));
  // ValueInfoProto{name, type: TypeProto{tensor_type: {elem_type: DOUBLE}}}
  const valueInfo = (name: string) => concat([text(1, name), bytesField(2, bytesField(1, Uint8Array.from([...tag(1, Wire.Varint), ONNX_DOUBLE])))]);
  const node = concat([text(1, 'x'), text(2, 'y'), text(4, 'Identity')]);
  const graph = concat([bytesField(1, node), text(2, 'identity'), bytesField(11, valueInfo('x')), bytesField(12, valueInfo('y'))]);
  const opset = Uint8Array.from([...tag(2, Wire.Varint), 17]);
  return concat([Uint8Array.from([...tag(1, Wire.Varint), 8]), bytesField(8, opset), bytesField(7, graph)]);
}
