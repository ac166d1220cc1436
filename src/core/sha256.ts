import { createHash } from "node:crypto";

/** SHA-256 of `data` (text as UTF-8), in lower-case hex: how token digests are kept. */
export function sha256Hex(data: string | Uint8Array): string {
  return createHash("sha256").update(data).digest("hex");
}
