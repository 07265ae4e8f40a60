import path from 'node:path';
import { fileURLToPath } from 'node:url';
import protobuf from 'protobufjs';

/**
 * OTLP/HTTP protobuf bodies, decoded by protobufjs from the official .proto files (vendored in
 * ./proto from opentelemetry-proto v1.9.0, see proto/README.md), not by hand: the wire format has
 * enough corners (packed fields, unknown fields, oneofs) that a maintained decoder is the safer code.
 */

const PROTO_DIR = fileURLToPath(new URL('./proto/', import.meta.url));
const SERVICE_PROTO = 'opentelemetry/proto/collector/trace/v1/trace_service.proto';

export interface OtlpProtobuf {
  /** Throws on a body that is not a valid ExportTraceServiceRequest. */
  decodeRequest(body: Uint8Array): unknown;
  encodeResponse(partialSuccess: { rejectedSpans: number; errorMessage: string } | null): Buffer;
}

/**
 * The OTLP trace messages, loaded from the vendored .proto files. 64-bit integers (token counts,
 * nanosecond times) decode as plain numbers rather than Long objects (protobufjs's documented
 * switch, util.Long = null): one object fewer per value, and precision is lost only above 2^53
 * (nanosecond times keep better than a microsecond).
 */
export function loadOtlpRoot(): protobuf.Root {
  protobuf.util.Long = null as unknown as typeof protobuf.util.Long;
  protobuf.configure();
  const root = new protobuf.Root();
  root.resolvePath = (_origin, target) => path.join(PROTO_DIR, target);
  return root.loadSync(SERVICE_PROTO);
}

export function loadOtlpProtobuf(): OtlpProtobuf {
  const root = loadOtlpRoot();
  const request = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceRequest');
  const response = root.lookupType('opentelemetry.proto.collector.trace.v1.ExportTraceServiceResponse');
  return {
    decodeRequest: (body) => request.decode(body),
    encodeResponse(partialSuccess) {
      const message = response.create(partialSuccess ? { partialSuccess } : {});
      return Buffer.from(response.encode(message).finish());
    },
  };
}
