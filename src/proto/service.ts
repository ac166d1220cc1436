/**
 * The grpc-js definition of kentik.ktbgp.v202203beta2.ProxyService, wired to the hand-written
 * codec (no .proto is loaded at run time), with typed client and server shapes.
 */
import * as grpc from "@grpc/grpc-js";
import type { Logger } from "../core/logger.ts";
import { noteRelayAllocation, type RelayRole } from "../core/process-gc-pacer.ts";
import {
  decodeControlRequest,
  decodeControlResponse,
  decodeDataMessage,
  encodeControlRequest,
  encodeControlResponse,
  encodeDataMessage,
} from "./codec.ts";
import { installPreFraming } from "./grpc-framing.ts";
import type { ControlRequest, ControlResponse, DataMessage } from "./messages.ts";
import { installMetadataRelease } from "./metadata-release.ts";

/** A change bgproxy makes to grpc-js's internals (see each module). */
export type GrpcPatch = "pre_framing" | "metadata_release";

/**
 * Which of the grpc-js patches took. One that did not (an upgrade moved what it reaches)
 * costs memory or a copy per message, never correctness: the agent and the gateway warn of
 * it at start and show it in /metrics (`bgproxy_{agent,gateway}_grpc_patch_applied`).
 */
export const GRPC_PATCHES: Readonly<Record<GrpcPatch, boolean>> = {
  // Data messages carry room for their frame header: grpc-js sends them without a copy.
  pre_framing: installPreFraming(),
  // A client call's header copies are freed once sent and answered, not kept for its life.
  metadata_release: installMetadataRelease(),
};

/** The patches of `patches` that did not take (pure). */
export function missingGrpcPatches(
  patches: Readonly<Record<GrpcPatch, boolean>> = GRPC_PATCHES,
): GrpcPatch[] {
  return (Object.keys(patches) as GrpcPatch[]).filter((name) => !patches[name]);
}

/** At an agent's or gateway's start: one warning naming the patches that did not take. */
export function warnMissingGrpcPatches(
  log: Pick<Logger, "warn">,
  patches: Readonly<Record<GrpcPatch, boolean>> = GRPC_PATCHES,
): void {
  const missing = missingGrpcPatches(patches);
  if (missing.length === 0) return;
  log.warn(
    "grpc-js internals moved (an upgrade?): these patches are not applied; sessions are relayed, at the cost of memory or a copy per message",
    { patches: missing.join(",") },
  );
}

/** Fully qualified service name. */
export const PROXY_SERVICE_NAME = "kentik.ktbgp.v202203beta2.ProxyService";
/** HTTP/2 path of the Control call. */
export const CONTROL_METHOD_PATH = "/kentik.ktbgp.v202203beta2.ProxyService/Control";
/** HTTP/2 path of the Data call. */
export const DATA_METHOD_PATH = "/kentik.ktbgp.v202203beta2.ProxyService/Data";

/**
 * What a server implements: both calls are bidirectional streams. Extends the untyped shape so
 * that it can be passed to `server.addService` as is.
 */
export interface ProxyServiceServer extends grpc.UntypedServiceImplementation {
  control: grpc.handleBidiStreamingCall<ControlRequest, ControlResponse>;
  data: grpc.handleBidiStreamingCall<DataMessage, DataMessage>;
}

const controlMethod: grpc.MethodDefinition<ControlRequest, ControlResponse> = {
  path: CONTROL_METHOD_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: encodeControlRequest,
  requestDeserialize: decodeControlRequest,
  responseSerialize: encodeControlResponse,
  responseDeserialize: decodeControlResponse,
  originalName: "Control",
};

/**
 * Each Data message encoded or received is relayed data's short-lived garbage
 * (process-gc-pacer.ts), noted with the end that handled it: the agent encodes requests and
 * decodes responses, the gateway the other way round. In one process with both (standalone
 * mode) each message is encoded by one and decoded by the other: the pacer counts it once.
 */
function encodeDataBy(by: RelayRole): (message: DataMessage) => Buffer {
  return (message) => {
    const bytes = encodeDataMessage(message);
    noteRelayAllocation(bytes.length, by);
    return bytes;
  };
}

function decodeDataBy(by: RelayRole): (bytes: Buffer) => DataMessage {
  return (bytes) => {
    noteRelayAllocation(bytes.length, by);
    return decodeDataMessage(bytes);
  };
}

const dataMethod: grpc.MethodDefinition<DataMessage, DataMessage> = {
  path: DATA_METHOD_PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: encodeDataBy("agent"),
  requestDeserialize: decodeDataBy("gateway"),
  responseSerialize: encodeDataBy("gateway"),
  responseDeserialize: decodeDataBy("agent"),
  originalName: "Data",
};

/** The service definition for `server.addService` and the generic client constructor. */
export const proxyServiceDefinition: grpc.ServiceDefinition<ProxyServiceServer> = {
  control: controlMethod,
  data: dataMethod,
};

/** A ProxyService client: one method per call, each opening a bidirectional stream. */
export interface ProxyClient extends grpc.Client {
  /** Open the Control stream (ControlRequest up, ControlResponse down). */
  control(
    metadata?: grpc.Metadata,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientDuplexStream<ControlRequest, ControlResponse>;
  control(
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientDuplexStream<ControlRequest, ControlResponse>;
  /** Open a Data stream for one relayed TCP session (DataRequest up, DataResponse down). */
  data(
    metadata?: grpc.Metadata,
    options?: Partial<grpc.CallOptions>,
  ): grpc.ClientDuplexStream<DataMessage, DataMessage>;
  data(options?: Partial<grpc.CallOptions>): grpc.ClientDuplexStream<DataMessage, DataMessage>;
}

/** Type of the ProxyServiceClient constructor (its instances are ProxyClient). */
export interface ProxyServiceClientConstructor {
  new (
    address: string,
    credentials: grpc.ChannelCredentials,
    options?: Partial<grpc.ChannelOptions>,
  ): ProxyClient;
  service: grpc.ServiceDefinition;
  serviceName: string;
}

/** Client class for ProxyService: `new ProxyServiceClient(address, credentials, options)`. */
export const ProxyServiceClient = grpc.makeGenericClientConstructor(
  proxyServiceDefinition,
  "ProxyService",
) as unknown as ProxyServiceClientConstructor;
