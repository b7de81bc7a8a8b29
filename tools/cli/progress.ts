// A one-line progress bar on stderr, drawn only when stderr is a terminal:
// piped or redirected output (scripts, --json, tests) never sees it.

export interface Progress {
  /** done of total units (total 0: unknown, a counter is drawn) */
  update(done: number, total: number, label?: string): void;
  /** erase the bar */
  end(): void;
}

const WIDTH = 30;
const REDRAW_MS = 100;

export function progressBar(title: string, stream: NodeJS.WriteStream = process.stderr): Progress {
  if (!stream.isTTY) return { update: () => undefined, end: () => undefined };
  let last = 0;
  let drawn = false;
  return {
    update(done, total, label = '') {
      const now = Date.now();
      if (now - last < REDRAW_MS && done !== total) return;
      last = now;
      const bar =
        total > 0
          ? `[${'#'.repeat(Math.round((WIDTH * Math.min(done, total)) / total)).padEnd(WIDTH)}] ${done}/${total}`
          : `${done}`;
      const text = `${title} ${bar} ${label}`;
      stream.write(`\r\x1b[2K${text.slice(0, (stream.columns || 80) - 1)}`);
      drawn = true;
    },
    end() {
      if (drawn) stream.write('\r\x1b[2K');
      drawn = false;
    },
  };
}
