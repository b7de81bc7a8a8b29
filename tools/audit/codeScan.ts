// What the x86-64 code of an ELF file does with Linux AIO, decoded with
// iced-x86 function by function:
//   - raw aio syscalls: `mov eax, NR; syscall`, or `mov edi, NR` before a
//     call to libc's syscall();
//   - the ring magic 0xa10a10a1 as an immediate (a check of ring->magic),
//     and whether the same function reads incompat_features (offset 24)
//     from the same base register;
//   - ring-shaped access: one base register read at head (+8) and tail
//     (+12), a division by the nr loaded from +4, and head (+8) written:
//     the legacy consumer's steps (head = (head + n) % nr);
//   - direct calls, so a ring reader whose callers all check the magic
//     counts as checked.
import { Decoder, DecoderOptions, FlowControl, Instruction, InstructionInfoFactory, MemorySize, Mnemonic, OpAccess, OpKind, Register, RegisterExt } from 'iced-x86';
import { AIO_RING_MAGIC, AioRing } from '../../src/index';
import { Elf, FunctionRange, Section } from './elf';

/** x86-64 syscall numbers of the aio calls. */
export const AIO_SYSCALLS: Record<number, string> = {
  206: 'io_setup',
  207: 'io_destroy',
  208: 'io_getevents',
  209: 'io_submit',
  210: 'io_cancel',
  333: 'io_pgetevents',
};

const LOOKBACK = 16;
const WATCHED = new Set<number>([AioRing.nr, AioRing.head, AioRing.tail, AioRing.magic, AioRing.incompat_features]);

export interface FunctionFacts {
  start: number;
  name?: string;
  magicChecks: number;
  checksIncompat: boolean;
  ringShaped: boolean;
  calls: Set<number>;
}

export interface CodeFacts {
  rawSyscalls: string[];
  /** the same calls by how they are made: syscall instructions of the file's own, or libc's syscall() */
  rawVia: { inline: string[]; libc: string[] };
  functions: FunctionFacts[];
  instructions: number;
}

/**
 * Per base register (registers copied with mov r64, r64 count as one):
 * reads and writes of the watched dword offsets, and divisions by a value
 * loaded from +4 (the consumer's head % nr).
 */
class Accesses {
  private readonly seen = new Map<number, Set<string>>();
  private readonly alias = new Map<number, number>();
  /** register -> the base whose nr it holds */
  private readonly nrIn = new Map<number, number>();

  base(r: Register): number {
    const full = RegisterExt.fullRegister(r);
    return this.alias.get(full) ?? full;
  }
  copy(dst: Register, src: Register): void {
    const d = RegisterExt.fullRegister(dst);
    this.alias.set(d, this.base(src));
    const nr = this.nrIn.get(RegisterExt.fullRegister(src));
    if (nr !== undefined) this.nrIn.set(d, nr);
  }
  add(base: number, disp: number, kind: 'r' | 'w' | 'd'): void {
    let s = this.seen.get(base);
    if (!s) this.seen.set(base, (s = new Set()));
    s.add(`${kind}${disp}`);
  }
  /** register -> the base whose magic it holds */
  private readonly magicIn = new Map<number, number>();
  loaded(into: Register, base: number, disp: number): void {
    if (disp === AioRing.nr) this.nrIn.set(RegisterExt.fullRegister(into), base);
    if (disp === AioRing.magic) this.magicIn.set(RegisterExt.fullRegister(into), base);
  }
  /** The base a magic compare reads from: its memory operand, or where its register was loaded from. */
  magicBase(ins: Instruction): number | undefined {
    if (ins.op0Kind === OpKind.Memory || ins.op1Kind === OpKind.Memory) return this.base(ins.memoryBase);
    if (ins.op0Kind === OpKind.Register) return this.magicIn.get(RegisterExt.fullRegister(ins.op0Register));
    return undefined;
  }
  dividedBy(r: Register): void {
    const base = this.nrIn.get(RegisterExt.fullRegister(r));
    if (base !== undefined) this.add(base, AioRing.nr, 'd');
  }
  has(base: number, key: string): boolean {
    return this.seen.get(base)?.has(key) ?? false;
  }
  ringShaped(): boolean {
    for (const s of this.seen.values()) {
      if (s.has(`r${AioRing.head}`) && s.has(`r${AioRing.tail}`) && s.has(`w${AioRing.head}`) && s.has(`d${AioRing.nr}`)) return true;
    }
    return false;
  }
}

const DWORD = new Set<number>([MemorySize.UInt32, MemorySize.Int32]);
const NO_BASE = new Set<number>([Register.None, Register.RIP, Register.RSP, Register.EIP]);

/** The import a call target names: a PLT stub, or a GOT slot called through. */
function pltStubs(elf: Elf, decoder: (bytes: Uint8Array, ip: number) => Iterable<Instruction>): Map<number, string> {
  const stubs = new Map<number, string>();
  for (const s of elf.sections) {
    if (!s.name.startsWith('.plt')) continue;
    for (const ins of decoder(elf.bytes(s), s.addr)) {
      if (ins.memoryBase !== Register.RIP || ins.flowControl !== FlowControl.IndirectBranch) continue;
      const name = elf.slots.get(Number(ins.memoryDisplacement));
      if (name) stubs.set(s.addr + Math.floor((Number(ins.ip) - s.addr) / 16) * 16, name);
    }
  }
  return stubs;
}

function* decodeAll(bytes: Uint8Array, ip: number): Iterable<Instruction> {
  const d = new Decoder(64, bytes, DecoderOptions.None);
  d.ip = BigInt(ip);
  const ins = new Instruction();
  try {
    while (d.canDecode) {
      d.decodeOut(ins);
      yield ins;
    }
  } finally {
    ins.free();
    d.free();
  }
}

function immediateOf(ins: Instruction): number | null {
  for (let i = 0; i < ins.opCount; i++) {
    const k = ins.opKind(i);
    if (k === OpKind.Immediate32 || k === OpKind.Immediate32to64 || k === OpKind.Immediate64) return Number(ins.immediate(i) & 0xffff_ffffn);
  }
  return null;
}

/**
 * Addresses in the code where what scanCode looks for may be: the magic's
 * bytes (any imm32 encoding holds them), the syscall instruction, and
 * direct calls to libc's syscall() (e8 rel32 to its stub, ff 15 through its
 * GOT slot). Only functions holding one are decoded unless asked for all.
 */
function hotAddresses(elf: Elf, stubs: Map<number, string>): number[] {
  const magic = Buffer.alloc(4);
  magic.writeUInt32LE(AIO_RING_MAGIC >>> 0);
  const syscallStubs = new Set([...stubs].filter(([, n]) => n === 'syscall').map(([a]) => a));
  const hot: number[] = [];
  for (const s of elf.sections) {
    if (!s.executable || s.name.startsWith('.plt')) continue;
    const b = elf.bytes(s);
    const text = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    for (const needle of [magic, SYSCALL_INSN]) {
      for (let at = text.indexOf(needle); at >= 0; at = text.indexOf(needle, at + 1)) hot.push(s.addr + at);
    }
    if (syscallStubs.size === 0 && ![...elf.slots.values()].includes('syscall')) continue;
    for (let at = text.indexOf(0xe8); at >= 0 && at + 5 <= text.length; at = text.indexOf(0xe8, at + 1)) {
      if (syscallStubs.has(s.addr + at + 5 + text.readInt32LE(at + 1))) hot.push(s.addr + at);
    }
    for (let at = text.indexOf(CALL_RIP); at >= 0 && at + 6 <= text.length; at = text.indexOf(CALL_RIP, at + 1)) {
      if (elf.slots.get(s.addr + at + 6 + text.readInt32LE(at + 2)) === 'syscall') hot.push(s.addr + at);
    }
  }
  return hot.sort((a, b) => a - b);
}

const SYSCALL_INSN = Buffer.from([0x0f, 0x05]);
const CALL_RIP = Buffer.from([0xff, 0x15]);

/**
 * The ranges to decode: functions inside executable sections (whole
 * sections when none are known); with hot addresses, only the ranges that
 * hold one.
 */
function ranges(elf: Elf, hot: number[] | null): { section: Section; fn: FunctionRange }[] {
  const exec = elf.sections.filter((s) => s.executable && s.size > 0 && !s.name.startsWith('.plt'));
  const out: { section: Section; fn: FunctionRange }[] = [];
  const holdsHot = (f: FunctionRange): boolean => {
    if (hot === null) return true;
    let lo = 0;
    let hi = hot.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (hot[mid] < f.start) lo = mid + 1;
      else hi = mid;
    }
    return lo < hot.length && hot[lo] < f.end;
  };
  for (const section of exec) {
    const inside = elf.functions.filter((f) => f.start >= section.addr && f.end <= section.addr + section.size);
    if (inside.length === 0) inside.push({ start: section.addr, end: section.addr + section.size, name: section.name });
    for (const fn of inside) if (holdsHot(fn)) out.push({ section, fn });
  }
  return out;
}

/**
 * Scan the code: every function when all is set (a program that uses
 * libaio may read the ring anywhere), otherwise only those holding a hot
 * address.
 */
export function scanCode(elf: Elf, all: boolean): CodeFacts {
  const stubs = pltStubs(elf, decodeAll);
  const infoFactory = new InstructionInfoFactory();
  const inline = new Set<string>();
  const libc = new Set<string>();
  const functions: FunctionFacts[] = [];
  let instructions = 0;
  try {
    for (const { section, fn } of ranges(elf, all ? null : hotAddresses(elf, stubs))) {
      const bytes = elf.bytes(section).subarray(fn.start - section.addr, fn.end - section.addr);
      const acc = new Accesses();
      const magicBases: number[] = [];
      const facts: FunctionFacts = { start: fn.start, name: fn.name, magicChecks: 0, checksIncompat: false, ringShaped: false, calls: new Set() };
      // the last immediate moved into eax and edi, and how many instructions ago
      let eax = { value: -1, age: LOOKBACK };
      let edi = { value: -1, age: LOOKBACK };
      for (const ins of decodeAll(bytes, fn.start)) {
        instructions++;
        eax.age++;
        edi.age++;
        const imm = immediateOf(ins);
        if (imm === AIO_RING_MAGIC) {
          facts.magicChecks++;
          const base = acc.magicBase(ins);
          if (base !== undefined) magicBases.push(base);
        }
        if (ins.mnemonic === Mnemonic.Mov && ins.op0Kind === OpKind.Register && imm !== null) {
          const r = ins.op0Register;
          if (r === Register.EAX || r === Register.RAX) eax = { value: imm, age: 0 };
          if (r === Register.EDI || r === Register.RDI) edi = { value: imm, age: 0 };
        }
        if (ins.mnemonic === Mnemonic.Syscall && eax.age < LOOKBACK && AIO_SYSCALLS[eax.value]) inline.add(AIO_SYSCALLS[eax.value]);
        if (ins.isCallNear) {
          const target = Number(ins.nearBranchTarget);
          facts.calls.add(target);
          if (stubs.get(target) === 'syscall' && edi.age < LOOKBACK && AIO_SYSCALLS[edi.value]) libc.add(AIO_SYSCALLS[edi.value]);
        } else if (ins.isCallNearIndirect && ins.memoryBase === Register.RIP) {
          if (elf.slots.get(Number(ins.memoryDisplacement)) === 'syscall' && edi.age < LOOKBACK && AIO_SYSCALLS[edi.value]) {
            libc.add(AIO_SYSCALLS[edi.value]);
          }
        }
        const m = ins.mnemonic;
        if (m === Mnemonic.Mov && ins.op0Kind === OpKind.Register && ins.op1Kind === OpKind.Register && RegisterExt.isGPR64(ins.op0Register)) {
          acc.copy(ins.op0Register, ins.op1Register);
        }
        if ((m === Mnemonic.Div || m === Mnemonic.Idiv) && ins.op0Kind === OpKind.Register) acc.dividedBy(ins.op0Register);
        const disp = Number(ins.memoryDisplacement);
        if (WATCHED.has(disp) && DWORD.has(ins.memorySize) && !NO_BASE.has(ins.memoryBase) && ins.memoryIndex === Register.None) {
          const base = acc.base(ins.memoryBase);
          if ((m === Mnemonic.Div || m === Mnemonic.Idiv) && disp === AioRing.nr) acc.add(base, disp, 'd');
          if (m === Mnemonic.Mov && ins.op0Kind === OpKind.Register) acc.loaded(ins.op0Register, base, disp);
          const info = infoFactory.info(ins);
          for (let i = 0; i < ins.opCount; i++) {
            if (ins.opKind(i) !== OpKind.Memory) continue;
            const a = info.opAccess(i);
            if (a === OpAccess.Read || a === OpAccess.ReadWrite || a === OpAccess.CondRead || a === OpAccess.ReadCondWrite) acc.add(base, disp, 'r');
            if (a === OpAccess.Write || a === OpAccess.ReadWrite || a === OpAccess.CondWrite || a === OpAccess.ReadCondWrite) acc.add(base, disp, 'w');
          }
          info.free();
        }
      }
      facts.ringShaped = acc.ringShaped();
      facts.checksIncompat = magicBases.some((b) => acc.has(b, `r${AioRing.incompat_features}`));
      functions.push(facts);
    }
  } finally {
    infoFactory.free();
  }
  return { rawSyscalls: [...new Set([...inline, ...libc])].sort(), rawVia: { inline: [...inline].sort(), libc: [...libc].sort() }, functions, instructions };
}
