import { join } from 'node:path';
import { type StorageFs, writeFileAtomic } from '../../storage/fs.ts';
import { PRODUCER_ID_BLOCK_FILE } from '../../storage/names.ts';

/** Ids reserved per write of the block file (Kafka's ProducerIdManager block size). */
export const PRODUCER_ID_BLOCK_SIZE = 1000n;

/**
 * Hands out producer ids, never the same one twice, across restarts and crashes: before
 * the first id of a block is handed out, the end of the block is written (fdatasync'ed) to
 * `<dataDir>/producer-id-block`, and a restart starts after it. A crash wastes the rest of
 * a block, as in Kafka. The file holds the next unreserved id as decimal text.
 */
export class ProducerIdManager {
  readonly #fs: StorageFs;
  readonly #path: string;
  #next = 0n;
  #blockEnd = 0n;
  #reserving: Promise<void> | null = null;

  private constructor(fsys: StorageFs, path: string) {
    this.#fs = fsys;
    this.#path = path;
  }

  static async open(fsys: StorageFs, dataDir: string): Promise<ProducerIdManager> {
    const manager = new ProducerIdManager(fsys, join(dataDir, PRODUCER_ID_BLOCK_FILE));
    const bytes = await fsys.readFile(manager.#path);
    const text = bytes?.toString('utf8').trim() ?? '';
    if (bytes !== null && !/^[0-9]+$/.test(text)) {
      throw new Error(`Cannot read "${manager.#path}": expected the next producer id, got "${text.slice(0, 40)}"`);
    }
    const next = bytes === null ? 0n : BigInt(text);
    manager.#next = next;
    manager.#blockEnd = next;
    return manager;
  }

  /** The next producer id; reserves a new block on disk first when the current one is used up. */
  async next(): Promise<bigint> {
    while (this.#next >= this.#blockEnd) {
      this.#reserving ??= this.#reserve().finally(() => {
        this.#reserving = null;
      });
      await this.#reserving;
    }
    return this.#next++;
  }

  async #reserve(): Promise<void> {
    const end = this.#blockEnd + PRODUCER_ID_BLOCK_SIZE;
    await writeFileAtomic(this.#fs, this.#path, Buffer.from(`${end}\n`));
    this.#blockEnd = end;
  }
}
