// Finds a folder of the repository (hbase/, hbase/shell/, jobs/) from the running file, built or not.

import { existsSync } from 'node:fs'
import { dirname, join } from 'node:path'

/** A folder of the repository with a pom.xml (such as `hbase`, `hbase/shell` or `jobs`), found upwards from this file, which runs from daemon/ or dist/daemon/. */
export function repoDir (relative: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, relative, 'pom.xml'))) return join(dir, relative)
    if (dirname(dir) === dir) return join(__dirname, '..', relative)
  }
}

/** A file of the repository's source tree (such as a script beside the TypeScript), found upwards from this file. */
export function repoFile (relative: string): string {
  for (let dir = __dirname; ; dir = dirname(dir)) {
    if (existsSync(join(dir, relative))) return join(dir, relative)
    if (dirname(dir) === dir) return join(__dirname, '..', relative)
  }
}
