// Config: defaults, TOML loading, and every error message naming file, line and key.

import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { defaults, keyDefs, loadConfig } from '../daemon/config'
import { SpoorError } from '../daemon/errors'
import { tempDir } from './fixtures/daemon'

const dir = tempDir('config')
let n = 0
function file (text: string): string {
  const path = join(dir, `c${n++}.toml`)
  writeFileSync(path, text)
  return path
}

function fails (t: Test, text: string, message: RegExp | string): void {
  const path = file(text)
  let err: unknown
  try {
    loadConfig(path)
  } catch (e) {
    err = e
  }
  t.type(err, SpoorError, `${message}: throws a SpoorError`)
  t.equal((err as SpoorError).code, 'SPOOR_E_CONFIG_INVALID')
  const msg = (err as Error).message.replace(path, 'FILE')
  if (typeof message === 'string') t.equal(msg, message)
  else t.match(msg, message)
}

t.test('no file gives the defaults', async t => {
  const c = loadConfig()
  t.same(c, defaults())
  t.equal(c.server.port, 8800)
  t.equal(c.hbase.saltBuckets, 16)
  t.equal(c.batch.intervalMs, 5)
  t.equal(c.buffer.sync, 'always', 'a POST is answered once its commit is on disk')
})

t.test('every key has a default that passes its own checks', async t => {
  const sections = new Map<string, string[]>()
  for (const d of keyDefs) {
    const [section, key] = d.key.includes('.') ? d.key.split('.') : ['', d.key]
    const value = d.default !== null && typeof d.default === 'object' && !Array.isArray(d.default)
      ? `{ ${Object.entries(d.default).map(([k, v]) => `${k} = ${JSON.stringify(v)}`).join(', ')} }`
      : JSON.stringify(d.default)
    sections.set(section, [...(sections.get(section) ?? []), `${key} = ${value}`])
  }
  const text = [...sections].map(([section, lines]) => `${section === '' ? '' : `[${section}]\n`}${lines.join('\n')}\n`).join('')
  t.same(loadConfig(file(text)), defaults())
})

t.test('values from TOML land in camelCase fields', async t => {
  const c = loadConfig(file('data_dir = "/var/lib/spoor"\n[server]\nport = 9000\ncors_origins = ["https://a.example"]\n[hbase]\nsalt_buckets = 32\nuser_table = "ns:u"\n'))
  t.equal(c.dataDir, '/var/lib/spoor')
  t.equal(c.server.port, 9000)
  t.same(c.server.corsOrigins, ['https://a.example'])
  t.equal(c.hbase.saltBuckets, 32)
  t.equal(c.hbase.userTable, 'ns:u')
  t.equal(c.hbase.timeTable, 'spoor_events_by_time')
})

t.test('errors name the file, line and key', async t => {
  fails(t, '[server]\nport = 8800\nprot = 1\n', 'the configuration is invalid: FILE:3: server.prot: unknown key')
  fails(t, '[nope]\nx = 1\n', 'the configuration is invalid: FILE:2: nope.x: unknown key')
  fails(t, '[server]\nport = "80"\n', 'the configuration is invalid: FILE:2: server.port: must be an integer')
  fails(t, '[server]\n\nport = 70000\n', 'the configuration is invalid: FILE:3: server.port: must be between 0 and 65535')
  fails(t, '[batch]\ninterval_ms = 1.5\n', 'the configuration is invalid: FILE:2: batch.interval_ms: must be an integer')
  fails(t, '[server]\ndemo = "yes"\n', 'the configuration is invalid: FILE:2: server.demo: must be true or false')
  fails(t, '[log]\nlevel = "loud"\n', 'the configuration is invalid: FILE:2: log.level: must be one of "fatal", "error", "warn", "info", "debug", "trace", "silent"')
  fails(t, '[buffer]\nsync = "sometimes"\n', 'the configuration is invalid: FILE:2: buffer.sync: must be one of "always", "never"')
  fails(t, '[server]\ncors_origins = "*"\n', 'the configuration is invalid: FILE:2: server.cors_origins: must be an array of strings')
  fails(t, '[cookie]\nname = "a b"\n', 'the configuration is invalid: FILE:2: cookie.name: must match /^[A-Za-z0-9_-]{1,64}$/')
  fails(t, '[server]\ntrusted_proxies = ["10.0.0.0/8", "10.0.0.300"]\n', 'the configuration is invalid: FILE:2: server.trusted_proxies: trusted proxy "10.0.0.300": "10.0.0.300" is not an IPv4 or IPv6 address')
  fails(t, '[admin]\nallow = ["127.0.0.1", "10.0.0.0/33"]\n', 'the configuration is invalid: FILE:2: admin.allow: admin.allow entry "10.0.0.0/33": prefix length 33 is more than 32, the most for IPv4')
  fails(t, '[admin]\nport = 8800\n', 'the configuration is invalid: FILE: admin.port must differ from server.port')
  fails(t, 'data_dir = 3\n', 'the configuration is invalid: FILE:1: data_dir: must be a string')
  fails(t, '[geoip]\ndatabases = ["/nonexistent/city.mmdb"]\n', 'the configuration is invalid: FILE:2: geoip.databases: "/nonexistent/city.mmdb" cannot be read (ENOENT)')
})

t.test('the session section', async t => {
  const d = defaults().session
  t.same(d, { timeoutMinutes: 30, maxUsers: 500000, ownHosts: [] })
  const c = loadConfig(file('[session]\ntimeout_minutes = 1440\nmax_users = 1\nown_hosts = ["shop.example", "Pay.Example", "192.0.2.1", "[2001:db8::1]"]\n'))
  t.same(c.session, { timeoutMinutes: 1440, maxUsers: 1, ownHosts: ['shop.example', 'Pay.Example', '192.0.2.1', '[2001:db8::1]'] })
  fails(t, '[session]\ntimeout_minutes = 0\n', 'the configuration is invalid: FILE:2: session.timeout_minutes: must be between 1 and 1440')
  fails(t, '[session]\ntimeout_minutes = 1441\n', 'the configuration is invalid: FILE:2: session.timeout_minutes: must be between 1 and 1440')
  fails(t, '[session]\ntimeout_minutes = 0.5\n', 'the configuration is invalid: FILE:2: session.timeout_minutes: must be an integer')
  fails(t, '[session]\nmax_users = 0\n', 'the configuration is invalid: FILE:2: session.max_users: must be between 1 and 50000000')
  fails(t, '[session]\nmax_users = 50000001\n', 'the configuration is invalid: FILE:2: session.max_users: must be between 1 and 50000000')
  fails(t, '[session]\nown_hosts = "shop.example"\n', 'the configuration is invalid: FILE:2: session.own_hosts: must be an array of strings')
  for (const bad of ['', 'https://shop.example', 'shop.example:8443', 'shop.example/', 'a b', 'u@shop.example', '[::1', 'bücher.example']) {
    fails(t, `[session]\nown_hosts = ["shop.example", ${JSON.stringify(bad)}]\n`, `the configuration is invalid: FILE:2: session.own_hosts: ${JSON.stringify(bad)} is not a host name (no scheme, port or path)`)
  }
})

t.test('conflicting settings are errors', async t => {
  fails(t, '[buffer]\nhigh_water_bytes = 2097152\nmax_bytes = 1048576\n', 'the configuration is invalid: FILE: buffer.high_water_bytes must be below buffer.max_bytes')
  fails(t, '[flush]\nretry_min_ms = 500\nretry_max_ms = 100\n', 'the configuration is invalid: FILE: flush.retry_max_ms must be at least flush.retry_min_ms')
  fails(t, '[cookie]\nsame_site = "None"\n', 'the configuration is invalid: FILE: cookie.same_site = "None" needs cookie.secure = true')
  fails(t, '[hbase]\nuser_table = "x"\ntime_table = "x"\n', 'the configuration is invalid: FILE: hbase.user_table and hbase.time_table must differ')
  fails(t, '[hbase]\nidentity_table = "spoor_events_by_time"\n', 'the configuration is invalid: FILE: hbase.identity_table must differ from hbase.user_table and hbase.time_table')
  fails(t, '[hbase]\nreports_table = "spoor_identity"\n', 'the configuration is invalid: FILE: hbase.reports_table must differ from the event and identity tables')
  fails(t, '[identity]\ncookie = false\nbounce = true\n', 'the configuration is invalid: FILE: identity.bounce needs identity.cookie = true')
})

t.test('the recommend section: weights add kinds to the default ones, and the queues and batches are checked', async t => {
  const d = defaults().recommend
  t.same(d.weights, { view: 1, like: 3, answer: 5, best: 8 })
  t.equal(d.exchange, 'spoor.signals')
  t.equal(d.signalsTable, 'spoor_signals')
  const c = loadConfig(file('[recommend]\nprefetch = 100\n\n[recommend.weights]\nupvote = 2\nview = 0.5\n'))
  t.same(c.recommend.weights, { view: 0.5, like: 3, answer: 5, best: 8, upvote: 2 }, 'merged over the defaults')
  t.equal(c.recommend.prefetch, 100)
  t.same(loadConfig(file('[recommend]\nweights = { downvote = 0.25 }\n')).recommend.weights, { view: 1, like: 3, answer: 5, best: 8, downvote: 0.25 }, 'or given inline')
  t.same(defaults().recommend.weights, { view: 1, like: 3, answer: 5, best: 8 }, 'the defaults stay as they were')
  fails(t, '[recommend]\nbatch_size = 5\n\n[recommend.weights]\nupvote = 0\n', 'the configuration is invalid: FILE:4: recommend.weights: upvote must be a number above 0 and at most 1000')
  fails(t, '[recommend.weights]\nbest = 1001\n', 'the configuration is invalid: FILE:1: recommend.weights: best must be a number above 0 and at most 1000')
  fails(t, '[recommend.weights]\n"Up Vote" = 1\n', 'the configuration is invalid: FILE:1: recommend.weights: "Up Vote" is not a kind name: it must match /^[a-z][a-z0-9_-]{0,31}$/')
  fails(t, '[recommend.weights]\nupvote = "2"\n', 'the configuration is invalid: FILE:1: recommend.weights: upvote must be a number above 0 and at most 1000')
  fails(t, '[recommend]\nweights = 3\n', 'the configuration is invalid: FILE:2: recommend.weights: must be a table of kind = weight')
  fails(t, '[recommend]\namqp_url = "http://mq:5672"\n', 'the configuration is invalid: FILE:2: recommend.amqp_url: must match /^amqps?:\\/\\/[^\\s]+$/')
  fails(t, '[recommend]\nqueue = "amq.signals"\n', /^the configuration is invalid: FILE:2: recommend\.queue: must match /)
  fails(t, '[recommend]\nretry_min_ms = 500\nretry_max_ms = 100\n', 'the configuration is invalid: FILE: recommend.retry_max_ms must be at least recommend.retry_min_ms')
  fails(t, '[recommend]\ndead_letter_queue = "spoor.signals.store"\n', 'the configuration is invalid: FILE: recommend.dead_letter_queue must differ from recommend.queue')
  fails(t, '[recommend]\ndead_letter_exchange = "spoor.signals"\n', 'the configuration is invalid: FILE: recommend.dead_letter_exchange must differ from recommend.exchange')
  fails(t, '[recommend]\nsignals_table = "spoor_identity"\n', 'the configuration is invalid: FILE: recommend.signals_table must differ from the [hbase] tables')
})

t.test('the dashboard section: access control off loopback, user entries, the proxy header', async t => {
  t.same(defaults().dashboard, { host: '127.0.0.1', port: 8810, users: [], proxyUserHeader: '', sessionMinutes: 720, allowRuns: false, secureCookie: false })
  const entry = 'alice:$scrypt$ln=17,r=8,p=1$9rBxpKQ0Jb1d0Qv2cY8Y1g$3C4FzqkH1mV6oH0m3Xc2cT0b7Qk1o3jv2rX9y8W7v6U'
  t.same(loadConfig(file(`[dashboard]\nhost = "0.0.0.0"\nusers = [${JSON.stringify(entry)}]\n`)).dashboard.users, [entry])
  t.equal(loadConfig(file('[dashboard]\nhost = "::1"\n')).dashboard.host, '::1', 'a loopback address needs no access control')
  fails(t, '[dashboard]\nhost = "0.0.0.0"\n', 'the configuration is invalid: FILE: dashboard.host "0.0.0.0" is not a loopback address, and no access control is set: add dashboard.users (`spoor dashboard hash-password NAME`) or dashboard.proxy_user_header, or bind it to 127.0.0.1')
  fails(t, '[dashboard]\nproxy_user_header = "X-Forwarded-User"\n', 'the configuration is invalid: FILE: dashboard.proxy_user_header needs server.trusted_proxies, the proxies whose header is believed')
  fails(t, '[dashboard]\nproxy_user_header = "X Forwarded"\n', 'the configuration is invalid: FILE:2: dashboard.proxy_user_header: must match /^([A-Za-z0-9-]{1,64})?$/')
  fails(t, '[dashboard]\nusers = ["alice:hunter2"]\n', 'the configuration is invalid: FILE:2: dashboard.users: the hash of user "alice" is not a scrypt hash as `spoor dashboard hash-password` prints it ($scrypt$ln=…,r=…,p=…$salt$key)')
  fails(t, `[dashboard]\nusers = [${JSON.stringify(entry.replace('ln=17', 'ln=40'))}]\n`, /dashboard\.users: the hash of user "alice" is not a scrypt hash/)
  fails(t, `[dashboard]\nusers = [${JSON.stringify(`a b${entry.slice(5)}`)}]\n`, /^the configuration is invalid: FILE:2: dashboard\.users: "a b:\$scrypt.*" is not NAME:HASH with a name of letters, digits and \._@- \(at most 64\)$/)
  fails(t, '[dashboard]\nport = 8800\n', 'the configuration is invalid: FILE: dashboard.port must differ from server.port and admin.port')
  fails(t, '[dashboard]\nsession_minutes = 0\n', 'the configuration is invalid: FILE:2: dashboard.session_minutes: must be between 1 and 43200')
})

t.test('unreadable or malformed files', async t => {
  t.throws(() => loadConfig(join(dir, 'missing.toml')), { code: 'SPOOR_E_CONFIG_INVALID', message: /^the configuration is invalid: .*missing\.toml: ENOENT/ })
  fails(t, '[server\nport = 1\n', /^the configuration is invalid: FILE:1: /)
})
