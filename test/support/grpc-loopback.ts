/** A grpc-js server for component tests, bound to an ephemeral port on 127.0.0.1. */
import * as grpc from "@grpc/grpc-js";
import { within } from "./wait.ts";

/** Bind `server` to 127.0.0.1:0 (plain HTTP/2 unless `credentials`); resolves to the port. */
export function bindLoopback(
  server: grpc.Server,
  credentials: grpc.ServerCredentials = grpc.ServerCredentials.createInsecure(),
): Promise<number> {
  return within(
    new Promise<number>((resolve, reject) =>
      server.bindAsync("127.0.0.1:0", credentials, (err, port) =>
        err ? reject(err) : resolve(port),
      ),
    ),
    10_000,
    "binding a gRPC server to 127.0.0.1",
  );
}
