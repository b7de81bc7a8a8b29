// 33 getEvents waiters: several at once on one context. The rule: waiters
// are served in the order they called; the first fills first (up to its
// max) and resolves once it holds its min, the next then fills; a later
// call takes nothing while an earlier one still waits; a waiter whose
// timeout fires takes what is ready then. Every event goes to exactly one
// waiter (or stays for the next getEvents or reap), none is lost.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { AioContext, IocbInit, IoEventResult, setup, SetupOptions, SETUP_V2 } from '../../src/index';
import { removeTempDirs, rng, tempDir } from '../helpers';

afterAll(removeTempDirs);

const configs: [string, SetupOptions][] = [
  ['auto', {}],
  ['threadpool', { backend: 'threadpool', threads: 2 }],
  ['v2', { flags: SETUP_V2 }],
];

describe('33 getEvents waiters', () => {
  let fd: number;
  const contexts: AioContext[] = [];
  const ctxOf = (options: SetupOptions, n = 64): AioContext => {
    const c = setup(n, options);
    contexts.push(c);
    return c;
  };

  beforeAll(() => {
    fd = fs.openSync(path.join(tempDir(), 'f'), 'w+');
  });
  afterEach(() => {
    for (const c of contexts.splice(0)) c.destroy();
  });
  afterAll(() => fs.closeSync(fd));

  test.each(configs)('%s: the first waiter fills first; a later call takes nothing while it waits', async (_, options) => {
    const ctx = ctxOf(options);
    const first = ctx.getEvents(2, 2);
    const second = ctx.getEvents(1, 3);
    // the pool's workers may complete the noops in any order: the first two
    // events to arrive go to the first waiter, the third to the second
    expect(ctx.submit([1, 2, 3].map((data) => ({ opcode: 'noop', fd, data })))).toBe(3);
    const polled = await ctx.getEvents(0, 8, 0);
    expect(polled).toEqual([]);
    const a = (await first).map((e) => Number(e.data));
    const b = (await second).map((e) => Number(e.data));
    expect(a).toHaveLength(2);
    expect(b).toHaveLength(1);
    expect([...a, ...b].sort()).toEqual([1, 2, 3]);
  });

  test.each(configs)('%s: 40 waiters with random min, max and timeouts over 600 requests: every event reaches exactly one', async (_, options) => {
    const next = rng(13);
    const random = (): number => next() / 2 ** 32;
    const ctx = ctxOf(options);
    const total = 600;
    const got: IoEventResult[][] = [];
    let destroyed = false;
    const waiting: Promise<void>[] = [];
    const wait = (): void => {
      const max = 1 + Math.floor(random() * 8);
      const min = Math.floor(random() * (max + 1));
      const timeout = random() < 0.3 ? Math.floor(random() * 3) : undefined;
      waiting.push(
        ctx.getEvents(min, max, timeout).then((events) => {
          expect(events.length).toBeLessThanOrEqual(max);
          // min holds for a waiter without a timeout, unless destroy resolved it with what it had
          if (timeout === undefined && !destroyed) expect(events.length).toBeGreaterThanOrEqual(min);
          got.push(events);
        }),
      );
    };
    for (let i = 0; i < 40; i++) wait();
    let submitted = 0;
    while (submitted < total) {
      const n = Math.min(total - submitted, 1 + Math.floor(random() * 12));
      const batch: IocbInit[] = Array.from({ length: n }, (_, k) => ({ opcode: random() < 0.5 ? 'noop' : 'fdsync', fd, data: submitted + k }));
      try {
        submitted += ctx.submit(batch);
      } catch (e) {
        expect(e).toMatchObject({ code: 'EAGAIN' });
      }
      // new waiters keep coming as the old ones resolve
      if (random() < 0.5) wait();
      await new Promise((r) => setImmediate(r));
    }
    // the ones still waiting for more than arrives: destroy resolves them with what they hold
    const seen = () => got.flat().length;
    for (let turns = 0; seen() < total && turns < 2000; turns++) await new Promise((r) => setTimeout(r, 1));
    const rest = await ctx.getEvents(0, total, 0);
    // the waiters resolved so far have run their callbacks
    await new Promise((r) => setImmediate(r));
    destroyed = true;
    ctx.destroy();
    await Promise.all(waiting);
    const data = [...got.flat(), ...rest].map((e) => Number(e.data)).sort((a, b) => a - b);
    expect(data).toEqual(Array.from({ length: total }, (_, i) => i));
  });
});
