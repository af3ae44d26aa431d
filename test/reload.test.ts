// SIGHUP: keys that can change at run time take effect without dropping a request; the others are logged as needing a restart.

import { readFileSync, writeFileSync } from 'node:fs'
import t from 'tap'
import { startDaemon, toml, until } from './fixtures/daemon'
import { freshTables } from './fixtures/hbase'

t.test('reload applies limits and the log level, and names what needs a restart', async t => {
  const hbase = await freshTables('reload')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  const long = `${daemon.url}/p.gif?uid=r&d=${'x'.repeat(3000)}`
  t.equal((await fetch(long)).status, 200, 'a 3 KB query passes the default 4 KB limit')

  // Load runs through the reload: no request may fail.
  let failures = 0
  let requests = 0
  let loading = true
  const load = (async () => {
    while (loading) {
      const res = await fetch(`${daemon.url}/p.gif?uid=r&a=load`)
      requests++
      if (res.status !== 200) failures++
    }
  })()

  const text = readFileSync(daemon.configPath, 'utf8')
  writeFileSync(daemon.configPath, text + toml({ limits: { max_query_bytes: 1024 } }) + toml({ log: { level: 'debug' } }))
  // Changing a key that needs a restart: the port.
  writeFileSync(daemon.configPath, readFileSync(daemon.configPath, 'utf8').replace(/port = 0/, 'port = 1'))
  daemon.child.kill('SIGHUP')
  await until('the reload to be logged', () => daemon.logs.some(l => l.msg === 'config reloaded'), 10000, 20)
  await until('a request after the reload', () => requests > 20, 10000, 20)
  loading = false
  await load
  t.equal(failures, 0, `none of ${requests} requests failed across the reload`)

  const reloaded = daemon.logs.find(l => l.msg === 'config reloaded')
  t.ok(reloaded?.applied.includes('limits.max_query_bytes'))
  t.ok(reloaded?.applied.includes('log.level'))
  const restart = daemon.logs.find(l => l.msg === 'these keys change only at the next restart')
  t.same(restart?.keys, ['server.port'])
  const res = await fetch(long)
  t.equal(res.status, 414, 'the new query limit holds')
  t.equal(((await res.json()) as { error: { code: string } }).error.code, 'SPOOR_E_QUERY_TOO_LONG')
  t.equal((await daemon.health()).status, 'ok', 'still serving on the old port')
})

t.test('a reload of a broken file keeps the running config', async t => {
  const hbase = await freshTables('reload2')
  const daemon = await startDaemon({ hbase })
  t.teardown(async () => { await daemon.stop() })
  writeFileSync(daemon.configPath, readFileSync(daemon.configPath, 'utf8') + '\n[limits]\nmax_query_bytes = "lots"\n')
  daemon.child.kill('SIGHUP')
  await until('the refusal to be logged', () => daemon.logs.some(l => l.msg === 'reload refused; the running config stays'), 10000, 20)
  const refused = daemon.logs.find(l => l.msg === 'reload refused; the running config stays')
  t.match(refused?.err?.message, /max_query_bytes: must be an integer/)
  t.equal((await fetch(`${daemon.url}/p.gif?uid=r&a=still`)).status, 200)
})
