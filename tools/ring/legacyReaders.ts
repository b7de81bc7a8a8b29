// What each known legacy ring reader does with the 32 legacy-shaped bytes
// at the start of a ring: the checks it makes before it reads events from
// the ring itself, modelled on each program's documented behaviour (the
// same models as test/fixtures/ring_readers.c runs against live rings).
import { AIO_RING_MAGIC, AioRing, IoEvent } from '../../src/index';

export type ReaderOutcome =
  /** reads the pending events from the ring */
  | 'reads'
  /** refuses the ring and takes events with io_getevents (safe) */
  | 'falls back'
  /** takes events with the io_getevents syscall, as it always does */
  | 'syscall'
  /** sees head == tail: no events in the ring (io_getevents still has them) */
  | 'sees empty'
  /** CRIU's dump checks pass / fail */
  | 'accepts'
  | 'refuses'
  /** would read slots that are not legacy events: the unsafe outcome */
  | 'misreads';

export interface ReaderView {
  reader: string;
  checks: string;
  outcome: ReaderOutcome;
  /** events it would take from the ring */
  events: number;
}

interface Words {
  nr: number;
  head: number;
  tail: number;
  magic: number;
  compat: number;
  incompat: number;
  headerLength: number;
}

function words(header: Uint8Array): Words {
  const v = new DataView(header.buffer, header.byteOffset, AioRing.size);
  const u = (off: number): number => v.getUint32(off, true);
  return {
    nr: u(AioRing.nr),
    head: u(AioRing.head),
    tail: u(AioRing.tail),
    magic: u(AioRing.magic),
    compat: u(AioRing.compat_features),
    incompat: u(AioRing.incompat_features),
    headerLength: u(AioRing.header_length),
  };
}

/** Events between head and tail as a reader that wraps with % nr counts them. */
function between(w: Words): number {
  if (w.head === w.tail || w.nr === 0) return 0;
  return ((w.tail % w.nr) + w.nr - (w.head % w.nr)) % w.nr;
}

/** A reader that took events from a ring that is not the legacy layout misread it. */
function taken(w: Words): { outcome: ReaderOutcome; events: number } {
  const n = between(w);
  if (n === 0) return { outcome: 'sees empty', events: 0 };
  return { outcome: w.magic === AIO_RING_MAGIC && w.incompat === 0 ? 'reads' : 'misreads', events: n };
}

/**
 * Each known reader's view of a ring whose first 32 bytes are header,
 * in a mapping of mappingBytes.
 */
export function legacyReaderViews(header: Uint8Array, mappingBytes: number): ReaderView[] {
  const w = words(header);
  const magicOk = w.magic === AIO_RING_MAGIC;
  const incompatOk = magicOk && w.incompat === 0;
  const criuOk =
    w.compat === 1 &&
    w.incompat === 0 &&
    w.headerLength === AioRing.size &&
    w.nr === Math.floor((mappingBytes - AioRing.size) / IoEvent.size) &&
    w.head < w.nr &&
    w.tail < w.nr;
  const checked = (ok: boolean): { outcome: ReaderOutcome; events: number } => (ok ? taken(w) : { outcome: 'falls back', events: 0 });
  return [
    {
      reader: 'libaio io_getevents',
      checks: 'magic (peeks head == tail, then the syscall)',
      ...(magicOk && between(w) === 0 ? { outcome: 'sees empty', events: 0 } : { outcome: 'syscall', events: 0 }),
    },
    { reader: 'fio userspace_reap', checks: 'magic', ...checked(magicOk) },
    { reader: 'Seastar', checks: 'magic, incompat_features', ...checked(incompatOk) },
    { reader: 'SPDK', checks: 'magic, incompat_features', ...checked(incompatOk) },
    { reader: 'xNVMe', checks: 'magic, incompat_features', ...checked(incompatOk) },
    { reader: 'QEMU', checks: 'nothing', ...taken(w) },
    {
      reader: 'CRIU dump',
      checks: 'compat 1, incompat 0, header_length 32, nr == (size - 32) / 32, head and tail < nr',
      outcome: criuOk ? 'accepts' : 'refuses',
      events: 0,
    },
  ];
}
