// The buffer: an append-only LMDB store of batches waiting to be flushed to HBase, plus the dead-letter store.
//
// Invariants:
// - A batch is stored under a u64 big-endian sequence number. Sequence numbers only grow, across
//   restarts too: the next one is one past the highest key in either the buffer or the dead-letter
//   store, so a dead letter is never overwritten.
// - A batch is written once and never changed. It leaves the buffer in exactly two ways: removed
//   after HBase acknowledged both tables (`ack`), or moved, in one transaction, to the dead-letter
//   store with the reason HBase gave (`deadLetter`).
// - Whatever is in the buffer at start-up was not acknowledged and is flushed again. Replays are
//   harmless: every event carries its own rowkeys and cell timestamp, so a replay rewrites the same
//   cells.
// - `append` resolves only after the LMDB commit that holds the batch; POST /e answers 204 after it. With sync
//   "always" (the default) the commit is also on disk by then. lmdb-js commits with `overlappingSync`, which makes
//   a transaction visible before its fdatasync; lmdb-js 3.5 resolves a write's promise only after the commit call
//   returns, which is after that sync, but documents it as resolving at the commit, with `flushed` for the sync, so
//   `append` also waits for its own commit's `flushed` (`separateFlushed`; the environment's `flushed` would wait for
//   a later commit's sync too). With sync "never" (lmdb-js
//   `noSync`) nothing is synced, and a 204 survives a crash of the collector (the page cache keeps the commit) but not
//   a power cut (test/power-cut.test.ts). Acknowledgements and dead letters never wait for `flushed`: one lost to a
//   power cut leaves its batch in the buffer, to be flushed again.
// - The format version is in the path (`<dataDir>/buffer/v1`); a new batch format gets a new path.
// - An environment left empty (no batch, no dead letter) after a backlog is deleted and opened afresh (`reset`),
//   which gives back the disk and the memory its map held; sequence numbers go on from where they were, and
//   after a restart from 1 again, which overwrites nothing, as nothing is left.

import { mkdirSync, rmSync, statSync } from 'node:fs'
import { join } from 'node:path'
import { setTimeout as sleep } from 'node:timers/promises'
import { open, type Database, type RootDatabase } from 'lmdb'

export interface DeadLetter {
  seq: bigint
  reason: string
  at: number
  batch: Buffer
}

interface DeadLetterValue { reason: string, at: number, batch: Buffer }

/** Whether a commit is on disk when an append resolves (`buffer.sync`). */
export type BufferSync = 'always' | 'never'

export interface BufferOptions {
  /** Default "always". */
  sync?: BufferSync
}

/**
 * The error of a failed LMDB commit, with its cause. lmdb-js rejects each write of a failed commit with "Commit
 * failed" and the cause (a full disk: ENOSPC) in a second promise, `commitError`, which would end the process as an
 * unhandled rejection if nobody took it; this takes it, waiting at most a second for it.
 */
async function commitFailure (err: unknown): Promise<unknown> {
  const pending = (err as { commitError?: unknown } | null)?.commitError
  if (!(pending instanceof Promise)) return err
  const settled: Promise<unknown> = pending.then(() => undefined, (cause: unknown) => cause)
  const cause = await Promise.race([settled, sleep(1000, undefined, { ref: false })])
  if (cause === undefined) return err
  return new Error(`buffer commit failed: ${(cause as Error).message ?? String(cause)}`, { cause })
}

/** lmdb-js's message for each write of a failed commit. */
const COMMIT_FAILED = 'Commit failed (see commitError for details)'
let guarded = false

/**
 * A failed commit (a full disk) also rejects a promise of lmdb-js's own that no caller can hold
 * (kriszyp/lmdb-js#368), which would end the process as an unhandled rejection although every write's own promise
 * reports the failure to its caller (`append` answers it as SPOOR_E_BUFFER_WRITE_FAILED). Only that rejection is
 * dropped; any other unhandled rejection still ends the process, as Node's default does.
 */
function survivesFailedCommits (): void {
  if (guarded) return
  guarded = true
  process.on('unhandledRejection', reason => {
    if (reason instanceof Error && reason.message === COMMIT_FAILED) return
    throw reason
  })
}

/** Runs one LMDB write, rethrowing a failed commit's error with its cause. */
async function committing<T> (write: () => Promise<T>): Promise<T> {
  try {
    return await write()
  } catch (err) {
    throw await commitFailure(err)
  }
}

function keyOf (seq: bigint): Buffer {
  const key = Buffer.allocUnsafe(8)
  key.writeBigUInt64BE(seq)
  return key
}

export class EventBuffer {
  private root!: RootDatabase
  private batches!: Database<Buffer, Buffer>
  private dead!: Database<DeadLetterValue, Buffer>
  private readonly path: string
  private readonly sync: BufferSync
  /** Set while an empty environment is being replaced; appends wait for it, reads see an empty buffer. */
  private resetting: Promise<void> | undefined
  private nextSeq: bigint
  private bytes = 0
  private count = 0
  /** When each unflushed batch was appended; batches from an earlier run count from this start. */
  private readonly appendedAt = new Map<bigint, number>()

  constructor (dataDir: string, options: BufferOptions = {}) {
    this.path = join(dataDir, 'buffer', 'v1')
    this.sync = options.sync ?? 'always'
    mkdirSync(this.path, { recursive: true })
    survivesFailedCommits()
    this.openEnvironment()
    const now = Date.now()
    for (const { key, value } of this.batches.getRange({})) {
      this.bytes += value.length
      this.count++
      this.appendedAt.set(key.readBigUInt64BE(0), now)
    }
    this.nextSeq = 1n + maxBig(lastKey(this.batches), lastKey(this.dead))
  }

  private openEnvironment (): void {
    this.root = open({ path: this.path, maxDbs: 4, noSync: this.sync === 'never', separateFlushed: true })
    this.batches = this.root.openDB<Buffer, Buffer>({ name: 'batches', keyEncoding: 'binary', encoding: 'binary' })
    this.dead = this.root.openDB<DeadLetterValue, Buffer>({ name: 'dead', keyEncoding: 'binary', encoding: 'msgpack' })
  }

  /** Size of the environment's data file on disk. */
  get fileBytes (): number {
    try {
      return statSync(join(this.path, 'data.mdb')).size
    } catch {
      return 0
    }
  }

  /**
   * Deletes the environment and opens an empty one, if it holds nothing (no batch, no dead letter) and its data
   * file has grown to at least `minFileBytes`: after a backlog, LMDB keeps the file at its largest and the pages
   * the flush read stay in the process's memory. Returns the size of the file it replaced, or 0 when it did not.
   */
  async reset (minFileBytes: number): Promise<number> {
    if (this.resetting !== undefined || this.count > 0) return 0
    const fileBytes = this.fileBytes
    if (fileBytes < minFileBytes) return 0
    for (const _ of this.dead.getKeys({ limit: 1 })) return 0
    this.resetting = (async () => {
      await this.root.close()
      rmSync(join(this.path, 'data.mdb'), { force: true })
      rmSync(join(this.path, 'lock.mdb'), { force: true })
      this.openEnvironment()
    })()
    try {
      await this.resetting
    } finally {
      this.resetting = undefined
    }
    return fileBytes
  }

  /** Unflushed bytes in the buffer. */
  get size (): number { return this.bytes }

  /** Unflushed batches in the buffer. */
  get batchCount (): number { return this.count }

  /** Age in ms of the oldest unflushed batch; 0 when the buffer is empty. */
  oldestAgeMs (now = Date.now()): number {
    // Entries go in in sequence order, with times that never decrease: the first is the oldest.
    for (const at of this.appendedAt.values()) return now - at
    return 0
  }

  /**
   * Appends a batch; resolves with its sequence number once LMDB has committed it and, with sync "always", synced it
   * to disk.
   */
  async append (batch: Buffer): Promise<bigint> {
    if (this.resetting !== undefined) await this.resetting
    const seq = this.nextSeq++
    this.bytes += batch.length
    this.count++
    this.appendedAt.set(seq, Date.now())
    try {
      await committing(async () => {
        const written: Promise<boolean> & { flushed?: PromiseLike<unknown> } = this.batches.put(keyOf(seq), batch)
        await written
        if (this.sync === 'always') await written.flushed
      })
    } catch (err) {
      this.bytes -= batch.length
      this.count--
      this.appendedAt.delete(seq)
      throw err
    }
    return seq
  }

  /** The sequence number of the first batch after `after`, or undefined when there is none. */
  next (after: bigint): bigint | undefined {
    return this.after(after, 1, Infinity).seqs[0]
  }

  /**
   * The batches after `after`, in order: at most `max` of them, and no more bytes than `maxBytes` unless the first
   * alone is larger. Their sizes are read without copying them. `full` when more are ready than were taken.
   */
  after (after: bigint, max: number, maxBytes: number): { seqs: bigint[], bytes: number, full: boolean } {
    const seqs: bigint[] = []
    let bytes = 0
    if (this.resetting !== undefined) return { seqs, bytes, full: false }
    // One more than asked for, to tell whether the group is full.
    for (const key of this.batches.getKeys({ start: keyOf(after + 1n), limit: max + 1 })) {
      const length = this.batches.getBinaryFast(key)?.length ?? 0
      if (seqs.length === max || (seqs.length > 0 && bytes + length > maxBytes)) return { seqs, bytes, full: true }
      seqs.push(key.readBigUInt64BE(0))
      bytes += length
    }
    return { seqs, bytes, full: bytes >= maxBytes }
  }

  /** How long ago a batch was appended (batches from an earlier run count from this start); 0 once it has left. */
  ageMs (seq: bigint, now = Date.now()): number {
    const at = this.appendedAt.get(seq)
    return at === undefined ? 0 : now - at
  }

  /** A fresh copy of one batch, or undefined once it has left the buffer. */
  get (seq: bigint): Buffer | undefined {
    if (this.resetting !== undefined) return undefined
    return this.batches.getBinary(keyOf(seq))
  }

  /** Removes acknowledged batches, in one transaction. */
  async ack (batches: Array<{ seq: bigint, length: number }>): Promise<void> {
    const removed = await committing(async () => await this.root.transaction(() => batches.map(({ seq }) => {
      const key = keyOf(seq)
      if (!this.batches.doesExist(key)) return false
      void this.batches.remove(key)
      return true
    })))
    batches.forEach(({ seq, length }, i) => {
      if (!removed[i]) return
      this.bytes -= length
      this.count--
      this.appendedAt.delete(seq)
    })
  }

  /** Moves a batch HBase rejected for good to the dead-letter store, in one transaction. */
  async deadLetter (seq: bigint, reason: string): Promise<void> {
    const key = keyOf(seq)
    let length = 0
    const moved = await committing(async () => await this.root.transaction(() => {
      const batch = this.batches.getBinary(key)
      if (batch == null) return false
      length = batch.length
      void this.dead.put(key, { reason, at: Date.now(), batch })
      void this.batches.remove(key)
      return true
    }))
    if (moved) {
      this.bytes -= length
      this.count--
      this.appendedAt.delete(seq)
    }
  }

  /**
   * Moves every dead letter back into the buffer under a new sequence number, each in one transaction,
   * once the cause has been fixed; the flush then writes them again. Returns how many moved.
   */
  async requeueDeadLetters (): Promise<number> {
    if (this.resetting !== undefined) await this.resetting
    let moved = 0
    for (const { key, value } of this.dead.getRange({})) {
      const seq = this.nextSeq++
      const batch = Buffer.from(value.batch)
      const done = await committing(async () => await this.root.transaction(() => {
        if (!this.dead.doesExist(key)) return false
        void this.batches.put(keyOf(seq), batch)
        void this.dead.remove(key)
        return true
      }))
      if (!done) continue
      this.bytes += batch.length
      this.count++
      this.appendedAt.set(seq, Date.now())
      moved++
    }
    return moved
  }

  /** Dead letters, oldest first. */
  * deadLetters (): Generator<DeadLetter> {
    for (const { key, value } of this.dead.getRange({})) {
      yield { seq: key.readBigUInt64BE(0), ...value }
    }
  }

  async close (): Promise<void> {
    if (this.resetting !== undefined) await this.resetting
    await this.root.close()
  }
}

function lastKey (db: Database<any, Buffer>): bigint {
  for (const key of db.getKeys({ reverse: true, limit: 1 })) return key.readBigUInt64BE(0)
  return 0n
}

function maxBig (a: bigint, b: bigint): bigint {
  return a > b ? a : b
}

