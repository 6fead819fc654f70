// Progress for long runs: a bar on a terminal (cli-progress), plain lines elsewhere (CI, pipes),
// so logs stay readable and terminals stay informative.
import cliProgress from 'cli-progress';

export interface Progress {
  advance(by?: number): void;
  finish(summary?: string): void;
}

export interface ProgressOptions {
  label: string;
  total: number;
  unit?: string;
  /** Where plain lines go; stderr by default so stdout stays machine-readable. */
  stream?: NodeJS.WriteStream;
  /** Force plain lines (or silence with 'none'), e.g. for --json. */
  mode?: 'auto' | 'plain' | 'none';
}

export function startProgress(options: ProgressOptions): Progress {
  const stream = options.stream ?? process.stderr;
  const mode = options.mode ?? 'auto';
  const unit = options.unit ?? 'items';
  const started = Date.now();
  let done = 0;
  if (mode === 'none') return { advance: (by = 1) => { done += by; }, finish: () => undefined };
  if (mode === 'auto' && stream.isTTY && !process.env.CI) {
    const bar = new cliProgress.SingleBar({
      format: `${options.label} [{bar}] {percentage}% {value}/{total} ${unit} | {rate}/s | eta {eta_formatted}`,
      stream, hideCursor: true, etaBuffer: 50,
    }, cliProgress.Presets.shades_classic);
    bar.start(options.total, 0, { rate: 0 });
    return {
      advance(by = 1) {
        done += by;
        bar.update(done, { rate: Math.round(done / Math.max((Date.now() - started) / 1000, 0.001)) });
      },
      finish(summary) {
        bar.stop();
        if (summary) stream.write(summary + '\n');
      },
    };
  }
  // Plain lines: one at most every 2 seconds and at each 25%, never one per item.
  let lastLine = 0;
  let lastQuarter = 0;
  return {
    advance(by = 1) {
      done += by;
      const quarter = options.total ? Math.floor((done / options.total) * 4) : 0;
      if (Date.now() - lastLine >= 2000 || (quarter > lastQuarter && quarter < 4)) {
        lastLine = Date.now();
        lastQuarter = quarter;
        stream.write(`${options.label}: ${done}/${options.total} ${unit}\n`);
      }
    },
    finish(summary) {
      const seconds = (Date.now() - started) / 1000;
      stream.write(`${options.label}: ${done}/${options.total} ${unit} in ${seconds.toFixed(1)} s${summary ? ` — ${summary}` : ''}\n`);
    },
  };
}
