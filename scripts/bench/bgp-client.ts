/**
 * The active side of the benchmark's own BGP connections (pump, ping): dial from a given
 * local address, the OPEN/KEEPALIVE handshake, and waiting for a socket to drain. Every
 * wait is bounded or ends with the connection.
 */
import { connect, type Socket } from "node:net";
import { MessageType } from "../../src/bgp/constants.ts";
import { KEEPALIVE, MessageScanner } from "./bgp-wire.ts";

export function dial(
  host: string,
  port: number,
  localAddress?: string,
  timeoutMs = 10_000,
): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = connect({
      host,
      port,
      ...(localAddress ? { localAddress } : {}),
      noDelay: true,
    });
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`connect to ${host}:${port} timed out`));
    }, timeoutMs);
    socket.once("connect", () => {
      clearTimeout(timer);
      resolve(socket);
    });
    socket.once("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

/** Send OPEN; wait for the peer's OPEN and KEEPALIVE (bounded); send KEEPALIVE. */
export function handshake(socket: Socket, open: Buffer, timeoutMs = 15_000): Promise<void> {
  return new Promise((resolve, reject) => {
    let gotOpen = false;
    const scanner = new MessageScanner((type) => {
      if (type === MessageType.OPEN) gotOpen = true;
      else if (type === MessageType.KEEPALIVE && gotOpen) done();
      else if (type === MessageType.NOTIFICATION) fail(new Error("peer sent a NOTIFICATION"));
    });
    const onData = (chunk: Buffer) => scanner.push(chunk);
    const onClose = () => fail(new Error("connection closed during the handshake"));
    const timer = setTimeout(() => fail(new Error("BGP handshake timed out")), timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      socket.off("data", onData);
      socket.off("close", onClose);
      socket.off("error", fail);
    };
    function done() {
      cleanup();
      socket.write(KEEPALIVE);
      socket.on("data", () => {}); // keep reading whatever else comes
      resolve();
    }
    function fail(err: Error) {
      cleanup();
      socket.destroy();
      reject(err);
    }
    socket.on("data", onData);
    socket.once("close", onClose);
    socket.once("error", fail);
    socket.write(open);
  });
}

/** Resolves on `drain`, rejects if the socket closes first. */
export function drained(socket: Socket): Promise<void> {
  return new Promise((resolve, reject) => {
    const onDrain = () => {
      socket.off("close", onClose);
      resolve();
    };
    const onClose = () => {
      socket.off("drain", onDrain);
      reject(new Error("connection closed while sending"));
    };
    socket.once("drain", onDrain);
    socket.once("close", onClose);
  });
}
