// A minimal reader of 64-bit little-endian ELF files: the section table,
// the symbol tables, DT_NEEDED, the relocations that name imported
// symbols, and function bounds from .eh_frame (present even in stripped
// binaries). Every offset read from the file is bounds-checked: a
// truncated or hostile file gives an ElfError, never an out-of-range read.
// Why not an npm ELF parser: docs/DECISIONS.md.

export class ElfError extends Error {}

export const EM_X86_64 = 62;
const SHT_SYMTAB = 2;
const SHT_RELA = 4;
const SHT_DYNAMIC = 6;
const SHT_DYNSYM = 11;
const SHF_EXECINSTR = 0x4;
const DT_NEEDED = 1;
const STT_FUNC = 2;

export interface Section {
  name: string;
  type: number;
  flags: number;
  addr: number;
  offset: number;
  size: number;
  link: number;
  entsize: number;
  executable: boolean;
}

export interface ElfSymbol {
  name: string;
  value: number;
  size: number;
  isFunction: boolean;
  /** defined here (not an import) */
  defined: boolean;
}

export interface FunctionRange {
  start: number;
  end: number;
  name?: string;
}

export interface Elf {
  machine: number;
  sections: Section[];
  needed: string[];
  dynsym: ElfSymbol[];
  symtab: ElfSymbol[];
  /** GOT slot address -> the symbol it is relocated to (imports) */
  slots: Map<number, string>;
  /** function bounds: .symtab functions, else .eh_frame entries */
  functions: FunctionRange[];
  /** the file bytes of a section */
  bytes(s: Section): Uint8Array;
}

class Reader {
  private readonly view: DataView;
  constructor(readonly data: Uint8Array) {
    this.view = new DataView(data.buffer, data.byteOffset, data.byteLength);
  }
  check(offset: number, length: number): void {
    if (!Number.isSafeInteger(offset) || offset < 0 || length < 0 || offset + length > this.data.length) {
      throw new ElfError(`truncated: needs bytes ${offset}..${offset + length}, the file has ${this.data.length}`);
    }
  }
  u8(o: number): number {
    this.check(o, 1);
    return this.data[o];
  }
  u16(o: number): number {
    this.check(o, 2);
    return this.view.getUint16(o, true);
  }
  u32(o: number): number {
    this.check(o, 4);
    return this.view.getUint32(o, true);
  }
  i32(o: number): number {
    this.check(o, 4);
    return this.view.getInt32(o, true);
  }
  u64(o: number): number {
    this.check(o, 8);
    const v = this.view.getBigUint64(o, true);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ElfError(`value ${v} at ${o} is out of range`);
    return Number(v);
  }
  i64(o: number): number {
    this.check(o, 8);
    return Number(this.view.getBigInt64(o, true));
  }
  cstring(o: number, limit: number): string {
    let end = o;
    while (end < limit && end < this.data.length && this.data[end] !== 0) end++;
    return Buffer.from(this.data.buffer, this.data.byteOffset + o, Math.max(0, end - o)).toString('latin1');
  }
}

export function isElf(head: Uint8Array): boolean {
  return head.length >= 4 && head[0] === 0x7f && head[1] === 0x45 && head[2] === 0x4c && head[3] === 0x46;
}

function sectionTable(r: Reader): Section[] {
  const shoff = r.u64(0x28);
  const shentsize = r.u16(0x3a);
  const shnum = r.u16(0x3c);
  const shstrndx = r.u16(0x3e);
  if (shoff === 0 || shnum === 0) return [];
  if (shentsize < 64) throw new ElfError(`section header size ${shentsize} is too small`);
  r.check(shoff, shnum * shentsize);
  const raw = [];
  for (let i = 0; i < shnum; i++) {
    const at = shoff + i * shentsize;
    raw.push({
      nameOff: r.u32(at),
      type: r.u32(at + 4),
      flags: r.u64(at + 8),
      addr: r.u64(at + 16),
      offset: r.u64(at + 24),
      size: r.u64(at + 32),
      link: r.u32(at + 40),
      entsize: r.u64(at + 56),
    });
  }
  const names = raw[shstrndx];
  return raw.map((s) => ({
    name: names ? r.cstring(names.offset + s.nameOff, names.offset + names.size) : '',
    type: s.type,
    flags: s.flags,
    addr: s.addr,
    offset: s.offset,
    size: s.type === 8 ? 0 : s.size, // SHT_NOBITS has no bytes in the file
    link: s.link,
    entsize: s.entsize,
    executable: (s.flags & SHF_EXECINSTR) !== 0,
  }));
}

function symbols(r: Reader, sections: Section[], s: Section): ElfSymbol[] {
  const strtab = sections[s.link];
  if (!strtab || s.entsize < 24) return [];
  r.check(s.offset, s.size);
  const out: ElfSymbol[] = [];
  for (let at = s.offset; at + 24 <= s.offset + s.size; at += s.entsize) {
    const info = r.u8(at + 4);
    out.push({
      name: r.cstring(strtab.offset + r.u32(at), strtab.offset + strtab.size),
      value: r.u64(at + 8),
      size: r.u64(at + 16),
      isFunction: (info & 0xf) === STT_FUNC,
      defined: r.u16(at + 6) !== 0,
    });
  }
  return out;
}

function neededLibraries(r: Reader, sections: Section[]): string[] {
  const dyn = sections.find((s) => s.type === SHT_DYNAMIC);
  if (!dyn) return [];
  const strtab = sections[dyn.link];
  const out: string[] = [];
  for (let at = dyn.offset; at + 16 <= dyn.offset + dyn.size; at += 16) {
    const tag = r.u64(at);
    if (tag === 0) break;
    if (tag === DT_NEEDED && strtab) out.push(r.cstring(strtab.offset + r.u64(at + 8), strtab.offset + strtab.size));
  }
  return out;
}

/** GOT slots relocated to named symbols (JUMP_SLOT, GLOB_DAT...), from every SHT_RELA section. */
function relocatedSlots(r: Reader, sections: Section[], dynsym: ElfSymbol[], symtab: ElfSymbol[]): Map<number, string> {
  const slots = new Map<number, string>();
  for (const s of sections) {
    if (s.type !== SHT_RELA || s.entsize < 24) continue;
    const table = sections[s.link]?.type === SHT_SYMTAB ? symtab : dynsym;
    for (let at = s.offset; at + 24 <= s.offset + s.size; at += s.entsize) {
      const info = r.u64(at + 8);
      const sym = table[Math.floor(info / 0x1_0000_0000)];
      if (sym && sym.name) slots.set(r.u64(at), sym.name);
    }
  }
  return slots;
}

function uleb(r: Reader, o: { at: number }): number {
  let result = 0;
  let shift = 0;
  for (;;) {
    const b = r.u8(o.at++);
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
    if ((b & 0x80) === 0 || shift > 49) return result;
  }
}

function sleb(r: Reader, o: { at: number }): number {
  let result = 0;
  let shift = 0;
  let b: number;
  do {
    b = r.u8(o.at++);
    result += (b & 0x7f) * 2 ** shift;
    shift += 7;
  } while (b & 0x80 && shift <= 49);
  return b & 0x40 ? result - 2 ** shift : result;
}

/** A DW_EH_PE-encoded pointer at o.at in a section loaded at (addr - offset). */
function encoded(r: Reader, o: { at: number }, enc: number, loadBias: number): number {
  const fieldAddr = o.at + loadBias;
  let v: number;
  switch (enc & 0x0f) {
    case 0x00:
    case 0x04:
      v = enc & 0x08 ? r.i64(o.at) : r.u64(o.at);
      o.at += 8;
      break;
    case 0x02:
      v = r.u16(o.at);
      o.at += 2;
      break;
    case 0x03:
      v = r.u32(o.at);
      o.at += 4;
      break;
    case 0x0b:
      v = r.i32(o.at);
      o.at += 4;
      break;
    case 0x0c:
      v = r.i64(o.at);
      o.at += 8;
      break;
    case 0x01:
      v = uleb(r, o);
      break;
    case 0x09:
      v = sleb(r, o);
      break;
    default:
      throw new ElfError(`unsupported pointer encoding ${enc}`);
  }
  return (enc & 0x70) === 0x10 ? fieldAddr + v : v;
}

/** Function bounds from the FDEs of .eh_frame. */
function ehFrameFunctions(r: Reader, s: Section): FunctionRange[] {
  const out: FunctionRange[] = [];
  const cieEncoding = new Map<number, number>();
  const bias = s.addr - s.offset;
  const end = s.offset + s.size;
  r.check(s.offset, s.size);
  for (let at = s.offset; at + 4 <= end; ) {
    let length = r.u32(at);
    let body = at + 4;
    if (length === 0) break;
    if (length === 0xffffffff) {
      length = r.u64(at + 4);
      body = at + 12;
    }
    const next = body + length;
    if (next > end) break;
    const id = r.u32(body);
    if (id === 0) {
      // CIE: find the FDE pointer encoding in the 'z' augmentation
      const o = { at: body + 4 };
      const version = r.u8(o.at++);
      const aug = r.cstring(o.at, next);
      o.at += aug.length + 1;
      uleb(r, o);
      sleb(r, o);
      if (version === 1) o.at++;
      else uleb(r, o);
      let enc = 0;
      if (aug.startsWith('z')) {
        uleb(r, o);
        for (const c of aug.slice(1)) {
          if (c === 'R') enc = r.u8(o.at++);
          else if (c === 'L') o.at++;
          else if (c === 'P') o.at = skipEncoded(r, o.at);
          else if (c !== 'S' && c !== 'B') break;
        }
      }
      cieEncoding.set(at, enc);
    } else {
      const enc = cieEncoding.get(body - id);
      if (enc !== undefined) {
        const o = { at: body + 4 };
        const start = encoded(r, o, enc, bias);
        const range = encoded(r, o, enc & 0x0f, bias);
        if (range > 0) out.push({ start, end: start + range });
      }
    }
    at = next;
  }
  return out;
}

/** The offset after a personality pointer (its encoding byte first). */
function skipEncoded(r: Reader, at: number): number {
  const o = { at: at + 1 };
  encoded(r, o, r.u8(at), 0);
  return o.at;
}

export function parseElf(data: Uint8Array): Elf {
  const r = new Reader(data);
  if (!isElf(data)) throw new ElfError('not an ELF file');
  if (r.u8(4) !== 2 || r.u8(5) !== 1) throw new ElfError('only 64-bit little-endian ELF files are analysed');
  const machine = r.u16(0x12);
  const sections = sectionTable(r);
  const dynsymSec = sections.find((s) => s.type === SHT_DYNSYM);
  const symtabSec = sections.find((s) => s.type === SHT_SYMTAB);
  const dynsym = dynsymSec ? symbols(r, sections, dynsymSec) : [];
  const symtab = symtabSec ? symbols(r, sections, symtabSec) : [];
  let functions: FunctionRange[] = symtab
    .filter((s) => s.isFunction && s.defined && s.size > 0)
    .map((s) => ({ start: s.value, end: s.value + s.size, name: s.name }));
  if (functions.length === 0) {
    const eh = sections.find((s) => s.name === '.eh_frame');
    const named = new Map(dynsym.filter((s) => s.isFunction && s.defined).map((s) => [s.value, s.name]));
    functions = eh ? ehFrameFunctions(r, eh).map((f) => ({ ...f, name: named.get(f.start) })) : [];
  }
  functions.sort((a, b) => a.start - b.start);
  return {
    machine,
    sections,
    needed: neededLibraries(r, sections),
    dynsym,
    symtab,
    slots: relocatedSlots(r, sections, dynsym, symtab),
    functions,
    bytes(s: Section): Uint8Array {
      r.check(s.offset, s.size);
      return data.subarray(s.offset, s.offset + s.size);
    },
  };
}
