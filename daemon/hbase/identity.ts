// Reads the identity table: the ids linked to one id, and the canonical user they resolve to (docs/identity.md).

import type { HBaseClient } from './client'
import { LINK_FAMILY } from './schema'
import { identityRow, uidText } from '../native'

/** What produced an id: the letter before the colon of `t:value`. */
export const ID_TYPES: Record<string, string> = {
  u: 'uid (given, or the collector cookie)',
  v: 'visitor id (tracker, first-party storage)',
  s: 'storage id (sync iframe)',
  e: 'ETag id',
  f: 'fingerprint (probabilistic)',
  l: 'login id'
}

/** One link of an id: the other id, when the two were last seen together, and on which platform. */
export interface Link {
  id: string
  lastSeen: number
  platform: string
}

export interface Resolution {
  /** The id asked about, as the identity table names it (`parseId`). */
  id: string
  /** The canonical user: a login id when one is linked, else the smallest id of the group. */
  canonical: string
  /** Every id of the group (the id asked about among them), sorted. */
  ids: string[]
  /**
   * Login ids linked to the group's devices (other than the id asked about), most recently seen first; more than one,
   * or any for a login id, means a device is shared.
   */
  logins: Link[]
  /** True when the walk stopped at `maxIds` ids. */
  truncated: boolean
}

export interface ResolveOptions {
  identityTable: string
  saltBuckets: number
  /** Also walk through fingerprints, which can link different people on like devices; default false. */
  probabilistic?: boolean
  /** Most ids to visit; default 1000. */
  maxIds?: number
}

const LINK_FAMILY_BYTES = Buffer.from(LINK_FAMILY)

/**
 * Checks an id written `t:value` with a known type letter, and gives it as the identity table names it: a `u:` id's
 * uid as the collector stores it (`uidText`: a hex uid in lower case, as in the rowkeys and the `uid` column), every
 * other as written. Whoever looks an id up takes `id` from here, so that `u:ABC…` and `u:abc…` are one user.
 */
export function parseId (id: string): { type: string, value: string, id: string } {
  const m = /^([a-z]):(.+)$/s.exec(id)
  if (m === null || !(m[1] in ID_TYPES)) throw new RangeError(`an id is written t:value, where t is one of ${Object.keys(ID_TYPES).join(', ')}; got ${JSON.stringify(id)}`)
  const value = m[1] === 'u' ? uidText(m[2]) : m[2]
  return { type: m[1], value, id: `${m[1]}:${value}` }
}

/** The ids linked directly to `id`, which is named as the identity table names it (`parseId`). */
export async function linksOf (client: HBaseClient, options: ResolveOptions, id: string): Promise<Link[]> {
  const result = await client.get(options.identityTable, identityRow(id, options.saltBuckets))
  return (result.columnValues ?? [])
    .filter(c => c.family.equals(LINK_FAMILY_BYTES))
    .map(c => ({ id: c.qualifier.toString('utf8'), lastSeen: c.timestamp?.toNumber(true) ?? 0, platform: c.value.toString('utf8') }))
}

/**
 * The group of `id` and its canonical user. The walk follows links between device ids (everything but logins),
 * so one person's browsers and apps join up; it never walks through a login id, so two people who logged in on
 * one shared device stay two users, and the device goes to the login it was seen with last. Fingerprints are
 * walked only with `probabilistic`.
 */
export async function resolveUser (client: HBaseClient, options: ResolveOptions, asked: string): Promise<Resolution> {
  const start = parseId(asked)
  const id = start.id
  const maxIds = options.maxIds ?? 1000
  const walkable = (other: string): boolean => !other.startsWith('l:') && (options.probabilistic === true || !other.startsWith('f:'))
  const seen = new Set<string>([id])
  const logins = new Map<string, Link>()
  let frontier = [id]
  let truncated = false
  while (frontier.length > 0) {
    const next: string[] = []
    const links = await Promise.all(frontier.map(async from => await linksOf(client, options, from)))
    for (const [i, list] of links.entries()) {
      // From a login id the walk takes its devices; it does not add the login's other logins (there are none).
      const from = frontier[i]
      for (const link of list) {
        if (link.id.startsWith('l:')) {
          const known = logins.get(link.id)
          if (!from.startsWith('l:') && (known === undefined || link.lastSeen > known.lastSeen)) logins.set(link.id, link)
          continue
        }
        if (!walkable(link.id) || seen.has(link.id)) continue
        if (seen.size >= maxIds) {
          truncated = true
          continue
        }
        seen.add(link.id)
        next.push(link.id)
      }
    }
    frontier = next
  }
  logins.delete(id)
  const ranked = [...logins.values()].sort((a, b) => b.lastSeen - a.lastSeen || (a.id < b.id ? -1 : 1))
  const ids = [...seen].sort()
  const canonical = start.type === 'l' ? id : ranked[0]?.id ?? ids[0]
  return { id, canonical, ids, logins: ranked, truncated }
}
