// The one realistic pixel request that both benchmarks send: ten params in about 250 bytes, and browser headers.

/** A returning visitor's page view: uid, session, platform, action, page, referrer, item, channel, client time, data. */
export const QUERY = 'uid=5f0c6a1e9b2d4c7f8a3e1b0d9c6f2a47&sid=7f3a9c21&p=web&a=page' +
  '&url=https%3A%2F%2Fshop.example.com%2Fshoes%2Frunning%3Fsize%3D42&ref=https%3A%2F%2Fwww.google.com%2F' +
  '&it=sku-48213&ch=shoes&ct=1764149400123&d=%7B%22w%22%3A1280%2C%22h%22%3A720%7D'

export const PATH = `/p.gif?${QUERY}`

// The encoder copies User-Agent and Referer into every event, so leaving them out would flatter it.
export const USER_AGENT = 'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0.0.0 Safari/537.36'
export const REFERER = 'https://shop.example.com/shoes/running?size=42'
// The same uid as the query, so no request mints a new one: every answer is the plain GIF, as for the bare server.
export const COOKIE = 'sp_uid=5f0c6a1e9b2d4c7f8a3e1b0d9c6f2a47'

export const HEADERS: Readonly<Record<string, string>> = { 'User-Agent': USER_AGENT, Referer: REFERER, Cookie: COOKIE }

/** The same page view as a JSON event for POST /e: the fields the pixel sends, by the same names. */
export const EVENT = {
  uid: '5f0c6a1e9b2d4c7f8a3e1b0d9c6f2a47',
  sid: '7f3a9c21',
  p: 'web',
  a: 'page',
  url: 'https://shop.example.com/shoes/running?size=42',
  ref: 'https://www.google.com/',
  it: 'sku-48213',
  ch: 'shoes',
  ct: '1764149400123',
  d: { w: 1280, h: 720 }
}

/** A POST /e body of `events` copies of EVENT; the collector gives each its own event id. */
export function postBody (events: number): string {
  return JSON.stringify(Array.from({ length: events }, () => EVENT))
}
