import { pino, type Logger } from 'pino';

export type { Logger };

/** JSON logs to stderr, so stdout stays free for command output. */
export function createLogger(level: string = process.env.LOG_LEVEL ?? 'info', name = 'coordinator'): Logger {
  return pino({ name, level }, pino.destination(2));
}
