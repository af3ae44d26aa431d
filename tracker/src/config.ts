// The init options: every field optional in Options, every field filled in Config, one set of defaults.

export interface Options {
  /** Base URL of the collector, without a trailing slash. Default: the origin of this script's own src. */
  collector?: string
  /** Site id, sent as `p` on every event. Default: none (the field is left out). */
  site?: string
  /** Seconds between heartbeat pings while the page is visible, counted from the first page view; 0 turns them off. Default 15. */
  heartbeatSeconds?: number
  /** Hostnames whose links get the visitor id as `_spid` when clicked (exact match, the current host is skipped). Default []. */
  linkDomains?: string[]
  /** Ask the collector's sync iframe for its id and send it as `sto`. Default false. */
  storage?: boolean
  /** Read the ETag id from `{collector}/id.gif` and send it as `eti`. Default false. */
  etag?: boolean
  /** Hash stable browser features and send the hash as `fp`. Default false. */
  fingerprint?: boolean
  /** Milliseconds an event waits for others to share its POST. Default 1000. */
  flushMs?: number
  /** Most unsent events kept in localStorage; the oldest go first. At least 1, default 200. */
  queueMax?: number
}

export type Config = Required<Options>

const defaults: Config = {
  collector: '',
  site: '',
  heartbeatSeconds: 15,
  linkDomains: [],
  storage: false,
  etag: false,
  fingerprint: false,
  flushMs: 1000,
  queueMax: 200
}

/** The collector's defaults, baked into the bundle it serves; {} when it served the placeholder as built. */
function served (): Options {
  const text = SPOOR_DEFAULTS
  try {
    return text.indexOf('__') === 0 ? {} : JSON.parse(text)
  } catch {
    return {}
  }
}

/** Built-in defaults, then the collector's, then the page's; `script` is the tracker's own URL. */
export function configure (options: Options, script: string): Config {
  const c: Config = Object.assign({}, defaults, served(), options)
  c.collector = (c.collector || new URL(script).origin).replace(/\/+$/, '')
  c.heartbeatSeconds = Math.max(0, Number(c.heartbeatSeconds) || 0)
  c.flushMs = Math.max(0, Number(c.flushMs) || 0)
  c.queueMax = Math.max(1, Number(c.queueMax) || 1)
  if (!Array.isArray(c.linkDomains)) c.linkDomains = []
  return c
}
