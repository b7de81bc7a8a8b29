// Child process (row 12): setup() and destroy() in a loop, a turn of the
// event loop between rounds, while a 1 ms timer keeps firing; and a loop
// that never yields, over large rings.
// argv: 'turns' rounds config | 'noYield' rounds nrEvents. Prints a JSON report.
import { setup } from '../../../src/index';
import { held, settle } from './lifecycle';
import { setupNamed } from './common';

/**
 * Each round's destroy returns, and its context finishes closing later:
 * count the timer's ticks between the two, summed over the rounds.
 */
async function turns(rounds: number, config: string): Promise<Record<string, unknown>> {
  const start = held();
  let ticks = 0;
  const timer = setInterval(() => ticks++, 1);
  let ticksWhileClosing = 0;
  const closing: Promise<void>[] = [];
  for (let i = 0; i < rounds; i++) {
    const ctx = setupNamed(config);
    ctx.destroy();
    const at = ticks;
    closing.push(Promise.resolve(ctx.closed).then(() => void (ticksWhileClosing += ticks - at)));
    await new Promise(setImmediate);
  }
  await Promise.all(closing);
  clearInterval(timer);
  const after = await settle(start, 250);
  return { rounds, ticks, ticksWhileClosing, start, after };
}

function noYield(rounds: number, nrEvents: number): Record<string, unknown> {
  const rss0 = process.memoryUsage().rss;
  for (let i = 0; i < rounds; i++) setup(nrEvents, { backend: 'threadpool', threads: 1 }).destroy();
  return { rounds, rssGrowth: process.memoryUsage().rss - rss0 };
}

async function main(): Promise<void> {
  const [mode, rounds, arg] = process.argv.slice(2);
  const report = mode === 'turns' ? await turns(Number(rounds), arg) : noYield(Number(rounds), Number(arg));
  process.stdout.write(JSON.stringify(report) + '\n');
}

void main();
