// The pipeline's words mean one thing each in the code, as docs/architecture.md defines them.

import { readdirSync, readFileSync, statSync } from 'node:fs'
import { join, relative } from 'node:path'
import t from 'tap'

const root = join(__dirname, '..', '..')

function sources (dir: string, ext: string): string[] {
  return readdirSync(dir).flatMap(name => {
    const path = join(dir, name)
    if (name === 'thrift-gen') return []
    if (statSync(path).isDirectory()) return sources(path, ext)
    return path.endsWith(ext) ? [path] : []
  })
}

const files = [...sources(join(root, 'daemon'), '.ts'), ...sources(join(root, 'native', 'src'), '.rs')]

t.test('"drain" names only the graceful stop; a batch is sealed, taken and handed over', async t => {
  t.ok(files.length > 40, `${files.length} source files read`)
  for (const file of files) {
    // Allowed: the stop's state and settings (draining, shutdown.drain_seconds, onDraining, the node "drains").
    const batchSense = readFileSync(file, 'utf8').split('\n')
      .map((line, i) => `${i + 1}: ${line.trim()}`)
      .filter(line => /\bdrain(_with)?\s*\(|drainSoon|\bdrained\b|drains? (a|the|its|each) (batch|encoder)/i.test(line))
    t.same(batchSense, [], relative(root, file))
  }
})
