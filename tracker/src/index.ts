// The tracker's entry: window.spoor and its commands, and the replay of the calls the snippet queued before this script loaded.

import { type Config, type Options, configure } from './config'
import { heartbeat } from './heartbeat'
import { collect, fill, vid } from './identity'
import { takeLinkId, watchLinks } from './links'
import { type SpoorEvent, add, clear } from './queue'
import { hex } from './random'
import { forget, load, save } from './storage'
import { beacon, schedule, start } from './transport'

interface Spoor {
  (command: string, ...args: unknown[]): void
  q?: IArguments[]
  /** Set on the loaded tracker, so that a second copy of the script leaves it alone. */
  l?: 1
}

const w = window as unknown as { spoor?: Spoor }
// Only readable while this script runs for the first time.
const script = document.currentScript as HTMLScriptElement | null
const scriptUrl = (script && script.src) || location.href

let config: Config | undefined
let optedOut = false
let login = load('spoor_lid') || ''
let beating = false
const linkId = takeLinkId()

function off (): boolean {
  return optedOut || load('spoor_optout') === '1'
}

function init (options?: Options): Config {
  if (config !== undefined) return config
  const c = config = configure(options && typeof options === 'object' ? options : {}, scriptUrl)
  const ready = off() ? Promise.resolve() : collect(c)
  start({ url: c.collector + '/e', flushMs: c.flushMs, ready, fill, off })
  watchLinks(c.linkDomains, () => off() ? undefined : vid(), href => send('click', { d: { href } }))
  document.addEventListener('visibilitychange', () => {
    if (document.visibilityState === 'hidden') beacon(false)
  })
  addEventListener('pagehide', () => beacon(true))
  return c
}

/** Queues one event; empty fields are left out. */
function send (action: string, fields: Record<string, unknown>): void {
  const c = init()
  if (off()) return
  const e: SpoorEvent = { eid: hex(16), ct: Date.now(), a: action }
  const all: Record<string, unknown> = Object.assign({ url: location.href, p: c.site, vid: vid(), lid: login, lnk: linkId }, fields)
  for (const key in all) if (all[key] != null && all[key] !== '') e[key] = all[key]
  add(e, c.queueMax)
  schedule()
}

function page (): void {
  send('page', { ref: document.referrer })
  const seconds = init().heartbeatSeconds
  if (!beating && seconds > 0) {
    beating = true
    heartbeat(seconds, tp => send('ping', { d: { tp } }))
  }
}

/** `item` and `channel` of data become `it` and `ch`; its other keys go in `d`. */
function track (action: unknown, data?: Record<string, unknown>): void {
  if (typeof action !== 'string' || action === '') return
  const rest: Record<string, unknown> = Object.assign({}, data)
  const fields: Record<string, unknown> = { it: rest.item, ch: rest.channel }
  delete rest.item
  delete rest.channel
  for (const key in fields) if (fields[key] != null) fields[key] = String(fields[key])
  if (Object.keys(rest).length > 0) fields.d = rest
  send(action, fields)
}

/** Keeps the login id for this and later pages; an empty one forgets it. */
function identify (loginId: unknown): void {
  login = loginId == null ? '' : String(loginId)
  if (login === '') {
    forget('spoor_lid')
    return
  }
  save('spoor_lid', login)
  send('identify', {})
}

const spoor: Spoor = function (command: string, ...args: unknown[]): void {
  try {
    switch (command) {
      case 'init': init(args[0] as Options); break
      case 'page': page(); break
      case 'track': track(args[0], args[1] as Record<string, unknown>); break
      case 'identify': identify(args[0]); break
      case 'optOut':
        optedOut = true
        save('spoor_optout', '1')
        clear()
        break
      case 'optIn':
        optedOut = false
        forget('spoor_optout')
        break
    }
  } catch {}
}
spoor.l = 1

if (w.spoor === undefined || w.spoor.l !== 1) {
  const queued = (w.spoor && w.spoor.q) || []
  w.spoor = spoor
  for (const args of queued) spoor.apply(null, args as unknown as [string, ...unknown[]])
}
