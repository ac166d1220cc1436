/**
 * A classic-BPF interpreter for the instructions native/bpf.ts emits, following the kernel's
 * semantics (out-of-bounds loads end the program with 0, jumps are relative to the next
 * instruction, ancillary loads at SKF_AD_OFF). Lets unit tests run the SYN filter on
 * hand-built packets without a kernel.
 */
import { BPF, type BpfInstruction, SKF_AD_PKTTYPE_K } from "../../native/bpf.ts";

export interface BpfContext {
  /** skb->pkt_type (PACKET_HOST 0, PACKET_OUTGOING 4 ...). */
  pktType: number;
}

function load(packet: Uint8Array, at: number, size: number): number | undefined {
  if (at < 0 || at + size > packet.byteLength) return undefined;
  let v = 0;
  for (let i = 0; i < size; i++) v = v * 256 + (packet[at + i] ?? 0);
  return v;
}

/** The program's return value: 0 = drop, else the number of bytes kept. */
export function runBpf(
  program: readonly BpfInstruction[],
  packet: Uint8Array,
  ctx: BpfContext,
): number {
  let a = 0;
  let x = 0;
  for (let pc = 0; pc < program.length; pc++) {
    const i = program[pc];
    if (!i) throw new Error(`bpf: pc ${pc} out of the program`);
    const cls = i.code & 0x07;
    const size = i.code & 0x18;
    const mode = i.code & 0xe0;
    const bytes = size === BPF.B ? 1 : size === BPF.H ? 2 : 4;
    switch (cls) {
      case BPF.LD: {
        if (mode === BPF.ABS && i.k === SKF_AD_PKTTYPE_K) {
          a = ctx.pktType;
          break;
        }
        const at = mode === BPF.ABS ? i.k : mode === BPF.IND ? x + i.k : -1;
        if (mode !== BPF.ABS && mode !== BPF.IND) throw new Error(`bpf: LD mode ${mode}`);
        const v = load(packet, at, bytes);
        if (v === undefined) return 0;
        a = v;
        break;
      }
      case BPF.LDX: {
        if (mode !== BPF.MSH) throw new Error(`bpf: LDX mode ${mode}`);
        const v = load(packet, i.k, 1);
        if (v === undefined) return 0;
        x = (v & 0x0f) * 4;
        break;
      }
      case BPF.ALU: {
        const op = i.code & 0xf0;
        if (op === BPF.AND) a = (a & i.k) >>> 0;
        else if (op === BPF.RSH) a = a >>> i.k;
        else throw new Error(`bpf: ALU op ${op}`);
        break;
      }
      case BPF.JMP: {
        const op = i.code & 0xf0;
        if (op === BPF.JA) {
          pc += i.k;
          break;
        }
        const taken = op === BPF.JEQ ? a === i.k : op === BPF.JSET ? (a & i.k) !== 0 : undefined;
        if (taken === undefined) throw new Error(`bpf: JMP op ${op}`);
        pc += taken ? i.jt : i.jf;
        break;
      }
      case BPF.RET:
        return i.k;
      default:
        throw new Error(`bpf: class ${cls}`);
    }
  }
  throw new Error("bpf: fell off the end of the program");
}
