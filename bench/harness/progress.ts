/**
 * Progress on stderr while the run goes (stdout carries the report). On a terminal the
 * current step overwrites one line; otherwise steps are printed at most every two seconds,
 * so a CI log shows that the run is alive without drowning in lines.
 */
import { performance } from "node:perf_hooks";

export class Progress {
  readonly #tty: boolean;
  readonly #out: NodeJS.WriteStream;
  #prefix = "";
  #lastPrint = 0;
  #lineOpen = false;
  readonly #t0 = performance.now();

  constructor(out: NodeJS.WriteStream = process.stderr) {
    this.#out = out;
    this.#tty = out.isTTY === true;
  }

  #elapsed(): string {
    return `${((performance.now() - this.#t0) / 1000).toFixed(1).padStart(6)} s`;
  }

  /** A new benchmark begins. */
  section(index: number, total: number, name: string, title: string): void {
    this.#prefix = `[${index}/${total}] ${name}`;
    this.line(`${this.#prefix}: ${title}`);
  }

  /** A step inside the current benchmark (throttled off a terminal). */
  step(text: string): void {
    const msg = `${this.#elapsed()} ${this.#prefix}: ${text}`;
    if (this.#tty) {
      const cols = this.#out.columns ?? 120;
      this.#out.write(`\r\x1b[2K${msg.slice(0, cols - 1)}`);
      this.#lineOpen = true;
      return;
    }
    const now = performance.now();
    if (now - this.#lastPrint < 2000) return;
    this.#lastPrint = now;
    this.#out.write(`${msg}\n`);
  }

  /** A line that stays (section starts, results, warnings). */
  line(text: string): void {
    if (this.#lineOpen) this.#out.write("\r\x1b[2K");
    this.#lineOpen = false;
    this.#out.write(`${this.#elapsed()} ${text}\n`);
    this.#lastPrint = performance.now();
  }

  end(): void {
    if (this.#lineOpen) this.#out.write("\r\x1b[2K");
    this.#lineOpen = false;
  }
}
