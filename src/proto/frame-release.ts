/**
 * Early release of framed Data messages: once the HTTP/2 stream has sent a relayed message,
 * its memory is given back at once (`ArrayBuffer.prototype.transfer(0)` detaches the buffer
 * and frees its contents) instead of waiting for a garbage collection. Pure: no grpc-js, no
 * I/O; grpc-framing.ts marks the frames it builds and releases them from the write callback.
 *
 * A slow far end's first burst passes several MiB through each relay process in a few tens
 * of milliseconds, faster than any collection rule can follow: every relayed byte was a read
 * buffer and an encoded message at once, both waiting for the collector (DEVELOPERS.md, "Data
 * path: slow far end memory (session 9)"). The encoded message is the relay's own: built by
 * the Data codec, framed in place, written once, never kept; so it is the one released here.
 *
 * A message that grpc-js may send again (a call that can still be retried: any channel
 * without `grpc.enable_retries` = 0 allows transparent retries) is kept (`keepForResend`):
 * its frames are never released. The agent's Data calls are never retried.
 *
 * Only a frame that is its whole ArrayBuffer is marked (a pooled slice would take others'
 * bytes with it), and only from RELEASE_FROM_BYTES: below that the collector's work per
 * message is small and the release's own cost (a new empty ArrayBuffer) is not worth it.
 */
export const RELEASE_FROM_BYTES = 16 * 1024;

interface Transferable {
  transfer?(newLength?: number): ArrayBuffer;
}

/** Whether this runtime can detach a buffer (ES2024; Bun 1.4 can). */
const canRelease = typeof (ArrayBuffer.prototype as Transferable).transfer === "function";

const marked = new WeakSet<Uint8Array>();

/** Whether `b` is all of its ArrayBuffer (detaching it takes nobody else's bytes). */
function ownsBuffer(b: Uint8Array): boolean {
  return b.byteOffset === 0 && b.byteLength === b.buffer.byteLength;
}

/**
 * Keep the memory of a frame that may be sent more than once: it is never released. grpc-js
 * frames a client's message (the filter that marks it) once, before its retrying call sees
 * it, and sends that same frame again on a retry: unmarking it is enough.
 */
export function keepForResend(message: Uint8Array): void {
  marked.delete(message);
}

/** Mark `framed` to be released after its write, when it qualifies; returns it. */
export function releaseAfterWrite(framed: Buffer): Buffer {
  if (canRelease && framed.byteLength >= RELEASE_FROM_BYTES && ownsBuffer(framed)) {
    marked.add(framed);
  }
  return framed;
}

/** Whether `message` is a marked frame not released yet. */
export function willRelease(message: Uint8Array): boolean {
  return marked.has(message);
}

/**
 * Free the memory of a marked frame: its buffer is detached (length 0 from here on). Call it
 * only once the writer is done with the bytes. Unmarked buffers are left alone.
 */
export function releaseFrame(message: Uint8Array): void {
  if (marked.delete(message)) detach(message);
}

/**
 * Received HTTP/2 DATA chunks are released as soon as grpc-js has copied them. Bun's HTTP/2
 * client sends DATA frames of at most 16,374 bytes, each a new buffer at the receiver, and
 * grpc-js's StreamDecoder copies a message that spans chunks into a buffer of its own
 * (Buffer.concat) once its last chunk came: from then on those chunks are garbage, a second
 * copy of every relayed byte waiting for the collector. Chunks from RELEASE_CHUNK_FROM_BYTES.
 */
export const RELEASE_CHUNK_FROM_BYTES = 4 * 1024;

/**
 * The chunks one decoder read on its copying path and may still refer to (the message in
 * progress is slices of them). Pure bookkeeping: the caller says what the decoder did.
 * A chunk a message was handed on from as a view (grpc-framing.ts) must never come here.
 */
export class CopiedChunks {
  private readonly held: Uint8Array[] = [];

  /**
   * The decoder read `chunk` on its copying path. `completed`: it copied one or more messages
   * out (every chunk read before `chunk` is then free); `chunkInUse`: a message begun in
   * `chunk` is still in progress (so `chunk` stays).
   */
  read(chunk: Uint8Array, completed: boolean, chunkInUse: boolean): void {
    if (canRelease && chunk.byteLength >= RELEASE_CHUNK_FROM_BYTES && ownsBuffer(chunk)) {
      this.held.push(chunk);
    }
    const held = this.held;
    if (!completed || held.length === 0) return;
    const kept = chunkInUse && held[held.length - 1] === chunk ? held.pop() : undefined;
    for (const b of held) detach(b);
    held.length = 0;
    if (kept !== undefined) held.push(kept);
  }

  /** Chunks held now (for tests). */
  get size(): number {
    return this.held.length;
  }
}

function detach(b: Uint8Array): void {
  (b.buffer as ArrayBuffer & Transferable).transfer?.(0);
}
