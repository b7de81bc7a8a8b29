// The vectored promise calls past IOV_MAX buffers, as node:fs (libuv) does
// them: readv reads into the first IOV_MAX and no more (a short read);
// writev writes IOV_MAX at a time, each piece going on from where the last
// one's bytes stopped, until everything is written or a piece writes
// nothing or fails (an error after the first piece ends the call with the
// bytes written so far).
import { addon } from '../native';

export const IOV_MAX = addon.systemInfo().iovMax;

/** The buffers past the first n bytes of buffers: the rest of a partly written one, then the others. */
function after(buffers: ArrayBufferView[], n: number): ArrayBufferView[] {
  let i = 0;
  for (; i < buffers.length && n >= buffers[i].byteLength; i++) n -= buffers[i].byteLength;
  if (i === buffers.length) return [];
  const b = buffers[i];
  const rest = n === 0 ? b : new Uint8Array(b.buffer, b.byteOffset + n, b.byteLength - n);
  return [rest, ...buffers.slice(i + 1)];
}

function advance(position: number | bigint, n: number): number | bigint {
  return typeof position === 'bigint' ? position + BigInt(n) : position + n;
}

/** writev through write(buffers, position) one IOV_MAX piece at a time; resolves with the bytes written. */
export async function writeInPieces(
  buffers: ArrayBufferView[],
  position: number | bigint,
  write: (piece: ArrayBufferView[], position: number | bigint) => Promise<number>,
): Promise<number> {
  let total = 0;
  for (let rest = buffers; rest.length > 0; ) {
    let n: number;
    try {
      n = await write(rest.slice(0, IOV_MAX), advance(position, total));
    } catch (e) {
      if (total === 0) throw e;
      return total;
    }
    if (n === 0) break;
    total += n;
    rest = after(rest, n);
  }
  return total;
}
