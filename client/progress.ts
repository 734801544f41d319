import cliProgress from 'cli-progress';

/** Progress for long steps: a bar on a terminal, one line per step otherwise, nothing with --json. */
export interface Progress {
  start(label: string, total: number): void;
  update(value: number, info?: string): void;
  stop(summary?: string): void;
}

export function createProgress(mode: { json: boolean; stream?: NodeJS.WriteStream }): Progress {
  const stream = mode.stream ?? process.stderr;
  if (mode.json) return { start() {}, update() {}, stop() {} };
  if (stream.isTTY) {
    let bar: cliProgress.SingleBar | null = null;
    return {
      start(label, total) {
        bar = new cliProgress.SingleBar({ format: `${label} [{bar}] {value}/{total} {info}`, stream, hideCursor: true }, cliProgress.Presets.shades_classic);
        bar.start(total, 0, { info: '' });
      },
      update(value, info = '') {
        bar?.update(value, { info });
      },
      stop(summary) {
        bar?.stop();
        bar = null;
        if (summary) stream.write(`${summary}\n`);
      },
    };
  }
  // Not a terminal (CI, a log file): a line at start and end keeps logs readable.
  let name = '';
  return {
    start(label) {
      name = label;
    },
    update() {},
    stop(summary) {
      stream.write(`${name}${summary ? `: ${summary}` : ''}\n`);
    },
  };
}
