// Erasures and the models served: `spoor erase` lists the erased person's ids in recommend.models_dir, and every
// server drops their vectors within recommend.reload_ms, from the generation it serves and from those it loads
// later that were trained before the erasure (docs/recommendations.md#erasure).

import { appendFileSync, closeSync, existsSync, openSync, readSync, statSync } from 'node:fs'
import { join } from 'node:path'

/** One line of the file per erasure: JSON `{"ids":[…],"at":ms}`. */
export const ERASURES_FILE = 'erasures.jsonl'

export interface ErasureNote {
  /** The model's ids of the person: `l:LOGIN` and `u:UID`. */
  ids: string[]
  /** When it was erased, ms since the epoch. */
  at: number
}

/**
 * Appends the erasure of `ids` to the models directory's list, when that directory exists (a model was ever
 * trained there); returns the file written, or undefined. Only login and uid ids can be a model's users.
 */
export function noteErasure (modelsDir: string, ids: string[], at: number): string | undefined {
  if (!existsSync(modelsDir)) return undefined
  const file = join(modelsDir, ERASURES_FILE)
  const users = [...new Set(ids.filter(id => id.startsWith('l:') || id.startsWith('u:')))].sort()
  appendFileSync(file, JSON.stringify({ ids: users, at }) + '\n')
  return file
}

/** The list as a server follows it: read again from where it stopped each time it grows. */
export class ErasureList {
  private offset = 0
  private partial = ''
  /** Each erased id, with the time of its latest erasure. */
  readonly erased = new Map<string, number>()

  constructor (private readonly file: string) {}

  /** The erasures added since the last call; a line that is not a whole erasure is skipped. */
  poll (): ErasureNote[] {
    let size: number
    try {
      size = statSync(this.file).size
    } catch {
      return []
    }
    if (size < this.offset) this.offset = 0
    if (size === this.offset) return []
    const buffer = Buffer.alloc(size - this.offset)
    const fd = openSync(this.file, 'r')
    try {
      readSync(fd, buffer, 0, buffer.length, this.offset)
    } finally {
      closeSync(fd)
    }
    this.offset = size
    const lines = (this.partial + buffer.toString('utf8')).split('\n')
    this.partial = lines.pop() ?? ''
    const notes: ErasureNote[] = []
    for (const line of lines) {
      try {
        const note = JSON.parse(line) as ErasureNote
        if (!Array.isArray(note.ids) || typeof note.at !== 'number') continue
        for (const id of note.ids) if (typeof id === 'string') this.erased.set(id, Math.max(note.at, this.erased.get(id) ?? 0))
        notes.push(note)
      } catch {
        // Not a line `spoor erase` wrote.
      }
    }
    return notes
  }
}
