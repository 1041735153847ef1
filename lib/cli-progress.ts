/* Progress of a long CLI run: a bar redrawn in place on a terminal, plain lines otherwise. */

const REDRAW_MS = 100;
const BAR_WIDTH = 30;
const PLAIN_EVERY_ROWS = 100_000;

export interface ProgressStream {
  isTTY?: boolean;
  write(text: string): unknown;
}

export class Progress {
  readonly #out: ProgressStream;
  readonly #total: number | null;
  readonly #started = Date.now();
  #lastDraw = 0;
  #lastTenth = 0;
  #lastPlainRows = 0;
  #drawn = false;

  /** `total` is the size in bytes of what is read, when known. */
  constructor(out: ProgressStream, total: number | null) {
    this.#out = out;
    this.#total = total !== null && total > 0 ? total : null;
  }

  /** Reports `rows` rows done after `bytes` bytes read. */
  update(rows: number, bytes: number): void {
    if (this.#out.isTTY) {
      const now = Date.now();
      if (now - this.#lastDraw < REDRAW_MS) return;
      this.#lastDraw = now;
      this.#out.write(`\r${this.#bar(rows, bytes)}\x1b[K`);
      this.#drawn = true;
      return;
    }
    if (this.#total !== null) {
      const tenth = Math.floor((bytes / this.#total) * 10);
      if (tenth <= this.#lastTenth) return;
      this.#lastTenth = tenth;
      this.#out.write(`progress: ${rows} rows, ${tenth * 10}%\n`);
    } else if (rows - this.#lastPlainRows >= PLAIN_EVERY_ROWS) {
      this.#lastPlainRows = rows;
      this.#out.write(`progress: ${rows} rows\n`);
    }
  }

  /** Clears the bar, so that the summary starts on a clean line. */
  done(): void {
    if (this.#drawn) this.#out.write('\r\x1b[K');
  }

  #bar(rows: number, bytes: number): string {
    const seconds = (Date.now() - this.#started) / 1000;
    const rate = seconds > 0 ? Math.round(rows / seconds) : 0;
    if (this.#total === null) return `${rows} rows  ${rate} rows/s`;
    const share = Math.min(bytes / this.#total, 1);
    const filled = Math.round(share * BAR_WIDTH);
    const bar = '#'.repeat(filled) + '-'.repeat(BAR_WIDTH - filled);
    return `[${bar}] ${Math.floor(share * 100)}%  ${rows} rows  ${rate} rows/s`;
  }
}
