// `aioring audit <binary>`: may this program be switched whole to v2 rings
// (AIORING_RING=v2 with the drop-in libaio)?
//
// It is safe when every ring reader in the program checks the magic (or
// incompat_features) and falls back to io_getevents, as libaio, fio,
// Seastar, SPDK and xNVMe do. A reader that checks nothing (QEMU's) sees an
// empty v2 ring and waits for events that only io_getevents would give it.
// A ring reader that checks the magic compares against 0xa10a10a1, so the
// constant appears in its code; a program without it either does not read
// the ring or reads it without checking: the audit cannot tell which, and
// says so.
import * as fs from 'node:fs';
import { invalid } from '../src/errors';
import { AIO_RING_MAGIC } from '../src/layout';

export type Verdict = 'no-aio' | 'safe' | 'unknown';

export interface AuditReport {
  file: string;
  /** the binary names libaio, or the drop-in library, as a needed library */
  linksLibaio: boolean;
  /** libaio calls it imports */
  imports: string[];
  /** places where the legacy ring magic appears as a 32-bit constant */
  magicConstants: number;
  verdict: Verdict;
  reason: string;
}

const CALLS = ['io_setup', 'io_submit', 'io_getevents', 'io_pgetevents', 'io_queue_init', 'io_destroy', 'io_cancel'];

function countU32(data: Buffer, value: number): number {
  const needle = Buffer.alloc(4);
  needle.writeUInt32LE(value >>> 0);
  let n = 0;
  for (let at = data.indexOf(needle); at >= 0; at = data.indexOf(needle, at + 1)) n++;
  return n;
}

/** A NUL-delimited name, as symbol and library names sit in .dynstr. */
function hasName(data: Buffer, name: string): boolean {
  return data.includes(Buffer.from(`\0${name}\0`, 'latin1'));
}

export function audit(file: string): AuditReport {
  const data = fs.readFileSync(file);
  if (data.length < 4 || data.readUInt32BE(0) !== 0x7f454c46) throw invalid(`${file} is not an ELF binary`, 'file', 'audit');
  const linksLibaio = hasName(data, 'libaio.so.1') || hasName(data, 'aioring-libaio.so');
  const imports = CALLS.filter((c) => hasName(data, c));
  const magicConstants = countU32(data, AIO_RING_MAGIC);
  let verdict: Verdict;
  let reason: string;
  if (!linksLibaio && imports.length === 0) {
    verdict = 'no-aio';
    reason = 'it neither links libaio nor imports its calls (a program making raw io_* syscalls is not detected)';
  } else if (magicConstants > 0) {
    verdict = 'safe';
    reason =
      'it compares against the ring magic 0xa10a10a1: its ring readers check it and fall back to io_getevents on a v2 ring';
  } else {
    verdict = 'unknown';
    reason =
      'it uses Linux AIO but never compares against the ring magic: either it only calls io_getevents (safe) or it reads ' +
      'the ring without checking, as QEMU does, and would wait forever on a v2 ring; keep the legacy ring unless you know which';
  }
  return { file, linksLibaio, imports, magicConstants, verdict, reason };
}

export function runAudit(file: string, json: boolean): void {
  const r = audit(file);
  if (json) {
    process.stdout.write(`${JSON.stringify(r)}\n`);
    return;
  }
  const lines = [
    `${r.file}`,
    `links libaio        ${r.linksLibaio ? 'yes' : 'no'}`,
    `imports             ${r.imports.join(', ') || 'none'}`,
    `ring magic checks   ${r.magicConstants}`,
    `AIORING_RING=v2     ${r.verdict === 'safe' ? 'safe' : r.verdict === 'no-aio' ? 'not relevant' : 'not known to be safe'}: ${r.reason}`,
  ];
  process.stdout.write(`${lines.join('\n')}\n`);
}
