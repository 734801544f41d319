/**
 * snarkjs (through fastfile) leaves some read-only file handles of zkey files to the garbage
 * collector, and Node prints a warning for each one it closes: harmless (nothing is written) but
 * they bury the CLI's output. This drops exactly those warnings and passes every other one on to
 * Node's own printer.
 */
const FILE_HANDLE_GC = /Closing (file descriptor \d+|a FileHandle object) on garbage collection/;

export function muteFileHandleGcWarnings(): void {
  const printers = process.listeners('warning');
  process.removeAllListeners('warning');
  process.on('warning', (w) => {
    if (FILE_HANDLE_GC.test(w.message)) return;
    for (const p of printers) p(w);
  });
}
