// The ids sent with every event: the visitor id and login id kept in localStorage, and the
// optional helper ids (sto, eti, fp), which events wait for at most WAIT_MS.

import type { Config } from './config'
import { etagId } from './etag'
import { fingerprint } from './fingerprint'
import type { SpoorEvent } from './queue'
import { hex, isId } from './random'
import { load, save } from './storage'
import { syncId } from './sync-frame'

const WAIT_MS = 1500
const helpers: Record<string, string> = {}
let visitor = ''

/** The first-party visitor id, created on first use; kept for this page only where storage fails. */
export function vid (): string {
  if (visitor === '') {
    const stored = load('spoor_vid')
    visitor = isId(stored) ? stored : hex(16)
    if (stored !== visitor) save('spoor_vid', visitor)
  }
  return visitor
}

/** Starts the helpers the config asks for; resolves once all answered, or after WAIT_MS. */
export function collect (c: Config): Promise<unknown> {
  const found = (key: string) => (id: string | undefined): void => {
    if (id) helpers[key] = id
  }
  const jobs: Array<Promise<unknown>> = []
  if (c.storage) jobs.push(syncId(c.collector).then(found('sto')))
  if (c.etag) jobs.push(etagId(c.collector).then(found('eti')))
  if (c.fingerprint) found('fp')(fingerprint())
  return Promise.race([Promise.all(jobs), new Promise(resolve => setTimeout(resolve, WAIT_MS))])
}

/** Adds the helper ids an event lacks: those that arrived after it was queued. */
export function fill (e: SpoorEvent): void {
  for (const key in helpers) if (!e[key]) e[key] = helpers[key]
}
