/**
 * Classic BPF (the SO_ATTACH_FILTER kind) for the SYN capture socket, assembled by pure
 * functions: a small label-resolving assembler and the one program the agent attaches. The
 * packet socket is SOCK_DGRAM, so offset 0 is the IP header (no link-layer header), on every
 * interface type, with `any` as well.
 */
export interface BpfInstruction {
  code: number;
  jt: number;
  jf: number;
  k: number;
}

// Instruction classes, sizes, modes and operations (linux/filter.h, linux/bpf_common.h).
export const BPF = {
  LD: 0x00,
  LDX: 0x01,
  ALU: 0x04,
  JMP: 0x05,
  RET: 0x06,
  W: 0x00,
  H: 0x08,
  B: 0x10,
  IMM: 0x00,
  ABS: 0x20,
  IND: 0x40,
  MSH: 0xa0,
  AND: 0x50,
  RSH: 0x70,
  JA: 0x00,
  JEQ: 0x10,
  JSET: 0x40,
  K: 0x00,
} as const;

/** Ancillary load of skb->pkt_type: SKF_AD_OFF (-4096) + SKF_AD_PKTTYPE (4). */
export const SKF_AD_PKTTYPE_K = 0xfffff004;
/** skb->pkt_type of a packet addressed to this host. */
export const PACKET_HOST = 0;
/** Bytes of each accepted packet the socket keeps: the largest IPv4 header (60) and TCP header (60). */
export const SYN_SNAP_LENGTH = 128;
/** A jump offset is one byte: keep the port list short enough to stay within reach. */
export const MAX_FILTER_PORTS = 64;

type Target = string | number;
type Step =
  | { op: "insn"; code: number; k: number }
  | { op: "jump"; code: number; k: number; jt: Target; jf: Target }
  | { op: "label"; name: string };

/** A tiny assembler: instructions with labelled forward jumps (the only kind cBPF has). */
export class BpfAssembler {
  private readonly steps: Step[] = [];

  insn(code: number, k = 0): this {
    this.steps.push({ op: "insn", code, k: k >>> 0 });
    return this;
  }

  /** A conditional jump; a target is a label or 0 for "the next instruction". */
  jump(code: number, k: number, jt: Target, jf: Target): this {
    this.steps.push({ op: "jump", code, k: k >>> 0, jt, jf });
    return this;
  }

  label(name: string): this {
    this.steps.push({ op: "label", name });
    return this;
  }

  assemble(): BpfInstruction[] {
    const at = new Map<string, number>();
    let n = 0;
    for (const s of this.steps) {
      if (s.op === "label") {
        if (at.has(s.name)) throw new Error(`bpf: label ${s.name} defined twice`);
        at.set(s.name, n);
      } else n++;
    }
    const out: BpfInstruction[] = [];
    for (const s of this.steps) {
      if (s.op === "label") continue;
      const pc = out.length;
      if (s.op === "insn") {
        out.push({ code: s.code, jt: 0, jf: 0, k: s.k });
        continue;
      }
      const offset = (t: Target): number => {
        if (typeof t === "number") return t;
        const to = at.get(t);
        if (to === undefined) throw new Error(`bpf: no label ${t}`);
        const d = to - pc - 1;
        if (d < 0 || d > 255) throw new Error(`bpf: jump to ${t} out of reach (${d})`);
        return d;
      };
      out.push({ code: s.code, jt: offset(s.jt), jf: offset(s.jf), k: s.k });
    }
    return out;
  }
}

/**
 * Accept IPv4 and IPv6 TCP segments addressed to this host with SYN set and ACK clear, to one
 * of `ports`; everything else (including the host's own outgoing packets, IPv4 fragments and
 * IPv6 packets with extension headers before TCP) is dropped in the kernel. Accepted packets
 * are cut to SYN_SNAP_LENGTH bytes.
 */
export function synFilter(ports: readonly number[]): BpfInstruction[] {
  const unique = [...new Set(ports)].sort((a, b) => a - b);
  if (unique.length === 0) throw new RangeError("bpf: no port to filter on");
  if (unique.length > MAX_FILTER_PORTS) {
    throw new RangeError(`bpf: at most ${MAX_FILTER_PORTS} listen ports`);
  }
  for (const p of unique) {
    if (!Number.isInteger(p) || p < 1 || p > 65535) throw new RangeError(`bpf: bad port ${p}`);
  }
  const { LD, LDX, ALU, JMP, RET, H, B, ABS, IND, MSH, AND, JA, JEQ, JSET, K } = BPF;
  const a = new BpfAssembler()
    .insn(LD | B | ABS, SKF_AD_PKTTYPE_K)
    .jump(JMP | JEQ | K, PACKET_HOST, 0, "drop")
    .insn(LD | B | ABS, 0)
    .insn(ALU | AND | K, 0xf0)
    .jump(JMP | JEQ | K, 0x40, "v4", 0)
    .jump(JMP | JEQ | K, 0x60, "v6", "drop")
    // IPv4: protocol TCP, not a fragment, X = header length.
    .label("v4")
    .insn(LD | B | ABS, 9)
    .jump(JMP | JEQ | K, 6, 0, "drop")
    .insn(LD | H | ABS, 6)
    .jump(JMP | JSET | K, 0x1fff, "drop", 0)
    .insn(LDX | B | MSH, 0)
    .insn(LD | B | IND, 13)
    .insn(ALU | AND | K, 0x12)
    .jump(JMP | JEQ | K, 0x02, 0, "drop")
    .insn(LD | H | IND, 2);
  for (const p of unique) a.jump(JMP | JEQ | K, p, "accept", 0);
  a.jump(JMP | JA, 0, "drop", "drop");
  // IPv6: next header TCP right after the fixed 40-byte header.
  a.label("v6")
    .insn(LD | B | ABS, 6)
    .jump(JMP | JEQ | K, 6, 0, "drop")
    .insn(LD | B | ABS, 40 + 13)
    .insn(ALU | AND | K, 0x12)
    .jump(JMP | JEQ | K, 0x02, 0, "drop")
    .insn(LD | H | ABS, 40 + 2);
  for (const p of unique) a.jump(JMP | JEQ | K, p, "accept", 0);
  a.label("drop")
    .insn(RET | K, 0)
    .label("accept")
    .insn(RET | K, SYN_SNAP_LENGTH);
  return fixJa(a.assemble());
}

/** BPF_JA jumps by k, not jt: move the resolved offset there. */
function fixJa(program: BpfInstruction[]): BpfInstruction[] {
  return program.map((i) =>
    i.code === (BPF.JMP | BPF.JA) ? { code: i.code, jt: 0, jf: 0, k: i.jt } : i,
  );
}

/** struct sock_filter[]: u16 code, u8 jt, u8 jf, u32 k, each 8 bytes, little endian. */
export function encodeBpf(program: readonly BpfInstruction[]): Uint8Array {
  const out = new Uint8Array(program.length * 8);
  const view = new DataView(out.buffer);
  program.forEach((i, n) => {
    view.setUint16(n * 8, i.code, true);
    out[n * 8 + 2] = i.jt;
    out[n * 8 + 3] = i.jf;
    view.setUint32(n * 8 + 4, i.k >>> 0, true);
  });
  return out;
}
