// The `Checking N/M files…` line on a terminal: rewritten in place with \r, erased at the end.
// Only for an interactive stderr; a pipe or a file never sees it.

/** Fewer files than this finish too quickly for a progress line to help. */
export const PROGRESS_MIN_FILES = 50;
const INTERVAL_MS = 100;

export interface ProgressStream {
  isTTY?: boolean;
  write(chunk: string): unknown;
}

export class Progress {
  private shown = false;
  private last = 0;

  private constructor(private readonly stream: ProgressStream | undefined, private readonly total: number) {}

  /** A progress line when `stream` is a terminal and the run is big enough; else one that prints nothing. */
  static create(stream: ProgressStream, total: number, wanted: boolean): Progress {
    return new Progress(wanted && stream.isTTY && total > PROGRESS_MIN_FILES ? stream : undefined, total);
  }

  /** Checking the `current`-th file of the total (throttled: at most every INTERVAL_MS, and always the last one). */
  update(current: number): void {
    if (!this.stream) return;
    const now = Date.now();
    if (this.shown && now - this.last < INTERVAL_MS && current < this.total) return;
    this.last = now;
    this.shown = true;
    this.stream.write(`\r\x1b[KChecking ${current}/${this.total} files…`);
  }

  /** Erases the line, so what is printed next starts at the left margin. */
  clear(): void {
    if (this.stream && this.shown) this.stream.write('\r\x1b[K');
    this.shown = false;
  }
}
