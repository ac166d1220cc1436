/**
 * The ProxyService messages as plain values (see proto/proxy.proto). Field names are the
 * camelCase forms of the proto names; numbers and wire types live in the codec.
 */
export enum ControlAction {
  UNSPECIFIED = 0,
  BLOCK_IP = 1,
  KEEPALIVE = 2,
}

export enum DataAction {
  UNSPECIFIED = 0,
  KILL = 1,
  RESTART = 2,
}

export interface FiveTuple {
  proto: string;
  deviceIp: string;
  devicePort: number;
  proxyIp: string;
  proxyPort: number;
}

export interface ControlRequest extends FiveTuple {
  action: ControlAction;
}

export interface KeyVal {
  key: string;
  val: string[];
}

export interface ControlResponse extends FiveTuple {
  ttlSeconds: number;
  ttlCounter: number;
  action: ControlAction;
  metadata: KeyVal[];
  companyId: number;
  deviceId: number;
  deviceName: string;
  /** Empty = no key. */
  tcpMd5: Uint8Array;
}

/** DataRequest and DataResponse have the same shape on the wire. */
export interface DataMessage {
  action: DataAction;
  /** Raw TCP payload chunks, in order. Decoded chunks are views into the received buffer. */
  data: Uint8Array[];
  /**
   * Encode only: the chunks go as one `data` field holding their concatenation, written
   * straight into the message (the relay's coalesced reads: no buffer for the concatenation).
   * The peer decodes one chunk. Never set by the decoder.
   */
  joined?: boolean;
}
