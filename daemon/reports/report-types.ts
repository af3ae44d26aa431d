// The reports as stored, one JSON cell per field (docs/reports.md): types alone, shared by the CLI, the dashboard's
// server and its pages in the browser.

/** One row of a ranked section: a page, referrer host, country, browser, OS or device type. */
export interface Ranked { key: string, visitors: number, events: number }

/** The traffic report as stored: one JSON cell per field of this object. */
export interface TrafficReport {
  meta: { report: 'traffic', from: number, to: number, params: { top: number, platform?: string | null, withBots: boolean }, step: 'hour' | 'day', visitorsAre: string, identityRead: string, computedAt: string }
  totals: { visitors: number, sessions: number, pageViews: number, events: number, bounces: number, sessionMs: number }
  series: Array<{ start: number, visitors: number, sessions: number, pageViews: number, events: number }>
  pages: Ranked[]
  referrers: Ranked[]
  countries: Ranked[]
  browsers: Ranked[]
  oses: Ranked[]
  devices: Ranked[]
}

/** The platforms report as stored (docs/reports.md): people per platform, per pair of platforms, and on all. */
export interface PlatformsReport {
  meta: { report: 'platforms', from: number, to: number, params: { platforms: string[], withBots: boolean }, identityRead: string, computedAt: string }
  platforms: Array<{ platform: string, users: number }>
  pairs: Array<{ a: string, b: string, users: number }>
  all: { platforms: string[], users: number }
}

/** What the channel report counts for a channel, a country or an item in a country. */
export interface ChannelCounts { pageViews: number, events: number, users: number, actions?: Record<string, number> }

/** The channel report as stored (docs/reports.md): channels, countries in order of traffic, items by country. */
export interface ChannelReport {
  meta: { report: 'channel', from: number, to: number, params: { channel: string | null, withBots: boolean }, identityRead: string, computedAt: string }
  channels: Array<{ channel: string } & ChannelCounts>
  countries: Array<{ country: string } & ChannelCounts>
  items: Array<{ country: string, channel: string, item: string } & ChannelCounts>
}

export type Report = TrafficReport | PlatformsReport | ChannelReport
