// Numbers and times for people: 12.3K, 1.2M, 22.3%, 5m 57s, and dates in the viewer's own time zone and language.

const compact = new Intl.NumberFormat(undefined, { notation: 'compact', maximumFractionDigits: 1 })
const whole = new Intl.NumberFormat(undefined, { maximumFractionDigits: 0 })
const percentFormat = new Intl.NumberFormat(undefined, { style: 'percent', minimumFractionDigits: 1, maximumFractionDigits: 1 })
const dateTimeFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'short' })
const secondsFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium', timeStyle: 'medium' })
const dayFormat = new Intl.DateTimeFormat(undefined, { dateStyle: 'medium' })

/** A count as people read it at a glance: 1,212 is 1.2K. */
export const count = (n: number): string => compact.format(n)

/** A count in full, with the viewer's digit grouping: for tooltips. */
export const exact = (n: number): string => whole.format(n)

/** A share, 0.223 as 22.3%. */
export const percent = (x: number): string => percentFormat.format(x)

/** A time in the viewer's zone, to the minute; with seconds for single events. */
export const dateTime = (ms: number): string => dateTimeFormat.format(ms)
export const dateTimeSeconds = (ms: number): string => secondsFormat.format(ms)
export const day = (ms: number): string => dayFormat.format(ms)

/** A length of time: 950 ms, 42s, 5m 57s, 3h 2m. */
export function duration (ms: number): string {
  if (ms < 1000) return `${Math.round(ms)} ms`
  const s = Math.round(ms / 1000)
  if (s < 60) return `${s}s`
  if (s < 3600) return `${Math.floor(s / 60)}m ${s % 60}s`
  return `${Math.floor(s / 3600)}h ${Math.floor((s % 3600) / 60)}m`
}

/** A size in bytes: 734 B, 1.2 MiB. */
export function bytes (n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB']
  let i = 0
  let v = n
  while (v >= 1024 && i < units.length - 1) { v /= 1024; i++ }
  return i === 0 ? `${Math.round(v)} B` : `${v.toFixed(1)} ${units[i]}`
}

/** A rate per second: 0.4/s, 12/s, 1.2K/s. */
export const rate = (perSecond: number): string => `${perSecond < 10 ? (Math.round(perSecond * 10) / 10).toString() : compact.format(perSecond)}/s`
