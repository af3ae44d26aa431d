// Reference for the platforms report: plain counting over the events a test sent, with no Spark and no HBase.

/** One delivery of an event as stored: a retried event is two deliveries with one id. */
export interface PlatformDelivery {
  /** Server receive time, ms. */
  ts: number
  id: string
  /** The canonical user the uid resolves to (docs/identity.md), worked out by the test from the ids it sent. */
  person: string
  p?: string
  bot: boolean
}

/** The earliest delivery of each event id in [from, to), bots' left out unless withBots. */
export function uniqueEvents<T extends { ts: number, id: string, bot: boolean }> (deliveries: T[], from: number, to: number, withBots: boolean): T[] {
  const earliest = new Map<string, T>()
  for (const d of deliveries) {
    if (d.ts < from || d.ts >= to || (d.bot && !withBots)) continue
    const kept = earliest.get(d.id)
    if (kept === undefined || d.ts < kept.ts) earliest.set(d.id, d)
  }
  return [...earliest.values()]
}

const byName = (a: string, b: string): number => a < b ? -1 : a > b ? 1 : 0

/** The platforms report over [from, to) as docs/reports.md defines it. */
export function platformsReference (deliveries: PlatformDelivery[], from: number, to: number, params: { platforms: string[], withBots: boolean }): Record<string, unknown> {
  const onPlatform = new Map<string, Set<string>>()
  for (const e of uniqueEvents(deliveries, from, to, params.withBots)) {
    if (e.p === undefined || e.p === '' || (params.platforms.length > 0 && !params.platforms.includes(e.p))) continue
    const people = onPlatform.get(e.p) ?? new Set<string>()
    people.add(e.person)
    onPlatform.set(e.p, people)
  }
  const users = (p: string): number => onPlatform.get(p)?.size ?? 0
  const platforms = (params.platforms.length > 0 ? [...params.platforms] : [...onPlatform.keys()])
    .sort((a, b) => users(b) - users(a) || byName(a, b))
  const pairs = []
  for (let i = 0; i < platforms.length; i++) {
    for (let j = i + 1; j < platforms.length; j++) {
      const a = onPlatform.get(platforms[i]) ?? new Set()
      const b = onPlatform.get(platforms[j]) ?? new Set()
      pairs.push({ a: platforms[i], b: platforms[j], users: [...a].filter(person => b.has(person)).length })
    }
  }
  const everyone = new Set([...onPlatform.values()].flatMap(s => [...s]))
  const onAll = platforms.length === 0 ? 0 : [...everyone].filter(person => platforms.every(p => onPlatform.get(p)?.has(person) === true)).length
  return {
    platforms: platforms.map(p => ({ platform: p, users: users(p) })),
    pairs,
    all: { platforms, users: onAll }
  }
}
