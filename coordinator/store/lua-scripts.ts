import { readFileSync } from 'node:fs';
import type { RedisClient } from '../infra/redis-connection.ts';

/** Loads the Lua scripts next to this file; ioredis runs them by SHA and re-sends on NOSCRIPT. */
const SCRIPTS = {
  acceptUpdate: { file: 'accept-update.lua', keys: 5 },
  recordRejection: { file: 'record-rejection.lua', keys: 3 },
  openRound: { file: 'open-round.lua', keys: 3 },
  beginClose: { file: 'begin-close.lua', keys: 1 },
  finishRound: { file: 'finish-round.lua', keys: 4 },
  markCommitted: { file: 'mark-committed.lua', keys: 2 },
  admitMembers: { file: 'admit-members.lua', keys: 2 },
  secureSubmit: { file: 'secure-submit.lua', keys: 2 },
  secureAdvance: { file: 'secure-advance.lua', keys: 1 },
} as const;
export type ScriptName = keyof typeof SCRIPTS;

export interface ScriptRunner {
  run(name: ScriptName, keys: string[], args: (string | number)[]): Promise<unknown>;
}

const sources = new Map<ScriptName, string>();
function source(name: ScriptName): string {
  let s = sources.get(name);
  if (!s) {
    s = readFileSync(new URL(`./lua/${SCRIPTS[name].file}`, import.meta.url), 'utf8');
    sources.set(name, s);
  }
  return s;
}

export function scriptRunner(redis: RedisClient): ScriptRunner {
  for (const name of Object.keys(SCRIPTS) as ScriptName[]) {
    if (!(name in redis)) redis.defineCommand(name, { numberOfKeys: SCRIPTS[name].keys, lua: source(name) });
  }
  return {
    run(name, keys, args) {
      if (keys.length !== SCRIPTS[name].keys) throw new Error(`script ${name} takes ${SCRIPTS[name].keys} keys`);
      return (redis as unknown as Record<string, (...a: (string | number)[]) => Promise<unknown>>)[name]!(...keys, ...args);
    },
  };
}
