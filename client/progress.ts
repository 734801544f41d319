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

/** A fixed number of named steps (a build): advance once per step finished. */
export interface StepProgress {
  step(info: string): void;
  done(summary?: string): void;
}

/**
 * Steps of a long job (a build, an upload): a bar on a terminal; off a terminal (CI, a log file) no
 * progress, only the summary line at the end; nothing at all when quiet or with --json (where stdout
 * carries one JSON result). `log`, when given, receives every step as a line instead (a caller that
 * wants them in its own log).
 */
export function createStepProgress(label: string, total: number, mode: { quiet?: boolean; json?: boolean; stream?: NodeJS.WriteStream; log?: (line: string) => void }): StepProgress {
  if (mode.quiet || mode.json) return { step() {}, done() {} };
  const stream = mode.stream ?? process.stderr;
  if (stream.isTTY && !mode.log) {
    const p = createProgress({ json: false, stream });
    let n = 0;
    p.start(label, total);
    return {
      step(info) {
        p.update(++n, info);
      },
      done(summary) {
        p.stop(summary);
      },
    };
  }
  const log = mode.log ?? ((line: string) => stream.write(`${line}\n`));
  return {
    step(info) {
      if (mode.log) log(`${label}: ${info}`);
    },
    done(summary) {
      if (summary) log(`${label}: ${summary}`);
    },
  };
}
