/**
 * Progress for long work: a redrawn bar on a TTY, plain log lines (at most every few seconds) elsewhere,
 * nothing with `quiet`. Always writes to stderr so stdout stays clean for `--json` output.
 */
export interface ProgressOptions {
  /** What is being counted: 'bytes' formats as B/kB/MB/GB, anything else as a plain count with that unit. */
  unit: string;
  total?: number;
  quiet?: boolean;
  /** Defaults to process.stderr. */
  stream?: NodeJS.WriteStream;
  /** Minimum milliseconds between plain (non-TTY) lines. */
  logEveryMs?: number;
}

export interface Progress {
  /** Set the absolute amount done; `extra` is appended (e.g. "loss 0.31"). */
  update(done: number, extra?: string): void;
  add(delta: number, extra?: string): void;
  /** Print a final line. */
  finish(extra?: string): void;
  /** Print a message without breaking the bar. */
  log(message: string): void;
}

export function formatBytes(n: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let i = 0;
  let v = n;
  while (v >= 1000 && i < units.length - 1) {
    v /= 1000;
    i++;
  }
  return `${v.toFixed(i === 0 ? 0 : v < 10 ? 2 : 1)} ${units[i]}`;
}

export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(r).padStart(2, '0')}s` : `${r}s`;
}

export function createProgress(label: string, opts: ProgressOptions): Progress {
  const stream = opts.stream ?? process.stderr;
  const tty = Boolean(stream.isTTY);
  const start = Date.now();
  let done = 0;
  let lastDraw = 0;
  let lastExtra = '';
  const fmt = (n: number) => (opts.unit === 'bytes' ? formatBytes(n) : `${Math.round(n)} ${opts.unit}`);

  const line = (): string => {
    const elapsed = (Date.now() - start) / 1000;
    const rate = elapsed > 0 ? done / elapsed : 0;
    const rateText = opts.unit === 'bytes' ? `${formatBytes(rate)}/s` : `${rate.toFixed(1)} ${opts.unit}/s`;
    let text = `${label} ${fmt(done)}`;
    if (opts.total !== undefined && opts.total > 0) {
      const frac = Math.min(1, done / opts.total);
      const eta = rate > 0 ? (opts.total - done) / rate : NaN;
      text += `/${fmt(opts.total)} ${(frac * 100).toFixed(1)}% ${rateText} ETA ${formatDuration(eta)}`;
      if (tty) {
        const width = 24;
        const filled = Math.round(frac * width);
        text = `[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}`;
      }
    } else {
      text += ` ${rateText}`;
    }
    return lastExtra ? `${text} ${lastExtra}` : text;
  };

  const draw = (force: boolean) => {
    if (opts.quiet) return;
    const now = Date.now();
    if (tty) {
      if (!force && now - lastDraw < 100) return;
      stream.write(`\r\x1b[2K${line()}`);
    } else {
      if (!force && now - lastDraw < (opts.logEveryMs ?? 5000)) return;
      stream.write(`${line()}\n`);
    }
    lastDraw = now;
  };

  return {
    update(value, extra) {
      done = value;
      if (extra !== undefined) lastExtra = extra;
      draw(false);
    },
    add(delta, extra) {
      this.update(done + delta, extra);
    },
    finish(extra) {
      if (extra !== undefined) lastExtra = extra;
      if (opts.quiet) return;
      if (tty) stream.write(`\r\x1b[2K${line()}\n`);
      else stream.write(`${line()} (done in ${formatDuration((Date.now() - start) / 1000)})\n`);
    },
    log(message) {
      if (opts.quiet) return;
      if (tty) stream.write(`\r\x1b[2K${message}\n`);
      else stream.write(`${message}\n`);
      if (tty) draw(true);
    },
  };
}

/** A plain log line to stderr (suppressed by quiet). */
export function logLine(message: string, quiet = false): void {
  if (!quiet) process.stderr.write(`${message}\n`);
}
