/**
 * The grpc-js definition of kentik.ktbgp.v202203beta2.ProxyService, wired to the hand-written
 * codec (no .proto is loaded at run time), with typed client and server shapes.
 */
import * as grpc from "@grpc/grpc-js";
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

// Data messages carry room for their frame header: grpc-js sends them without a copy.
installPreFraming();
// A client call's header copies are freed once sent and answered, not kept for the call's life.
installMetadataRelease();

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
