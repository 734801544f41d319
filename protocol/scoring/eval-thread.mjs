// Entry of an evaluation thread (eval-threads.ts): registers the TypeScript loader, then runs the
// worker (a .ts entry does not load in a Node 20 thread, as for the blob checker's).
import { register } from 'tsx/esm/api';

register();
await import('./eval-worker.ts');
