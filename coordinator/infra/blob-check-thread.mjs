// Entry of a blob-checker thread: registers the TypeScript loader, then runs the worker, which
// calls the same checkBlob as the inline path. (A .ts worker entry fails to load in Node 20 even
// with --import tsx, because the entry is resolved before the loader is active in the thread.)
import { register } from 'tsx/esm/api';

register();
await import('./blob-check-worker.ts');
