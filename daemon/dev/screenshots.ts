// `npm run dashboard:screenshots`: fresh demo data, the three reports, a collector and the dashboard, and a screenshot of every page into docs/dashboard/.
//
// It uses the HBase of the config (SPOOR_CONFIG, else the defaults: the local HBase of `npm start`, started here when
// it is not running) with tables of its own, named shots_<time>_*, so that no data of yours shows in the pictures.

import { execFile, spawn, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import { createInterface } from 'node:readline'
import { promisify } from 'node:util'
import { chromium } from 'playwright-core'
import { configPath, loadConfig } from '../config'
import { startDashboard } from '../dashboard/server'
import { HBaseClient } from '../hbase/client'
import { createLogger } from '../log'
import { freePort } from '../pipeline/collector'
import { LocalHBase } from './local-hbase'

const run = promisify(execFile)
const CLI = join(__dirname, '..', 'cli.js')
const OUT = resolve(__dirname, '..', '..', '..', 'docs', 'dashboard')
const CHROMIUM = process.env.SPOOR_CHROMIUM ?? '/usr/bin/chromium'
const DAY_MS = 86400000

async function spoor (config: string, ...args: string[]): Promise<string> {
  console.error(`spoor ${args.join(' ')}`)
  const { stdout } = await run(process.execPath, [CLI, ...args, '--config', config], { maxBuffer: 64 * 1024 * 1024 })
  return stdout
}

/** `spoor serve` with the config, resolved once it listens, with its port. */
async function serve (config: string): Promise<{ child: ChildProcess, port: number }> {
  const child = spawn(process.execPath, [CLI, 'serve', '--config', config], { stdio: ['ignore', 'pipe', 'inherit'] })
  const port = await new Promise<number>((resolve, reject) => {
    child.once('exit', code => reject(new Error(`spoor serve exited with ${String(code)}`)))
    createInterface({ input: child.stdout! }).on('line', line => {
      try {
        const entry = JSON.parse(line)
        if (entry.msg === 'listening') resolve(entry.port)
      } catch {}
    })
  })
  return { child, port }
}

async function main (): Promise<void> {
  const base = loadConfig(configPath(undefined))
  const h = base.hbase
  let hbase: LocalHBase | undefined
  const answering = await HBaseClient.using({ host: h.host, port: h.port, connectTimeoutMs: 3000 }, async c => await c.tableExists('spoor_none')).then(() => true, () => false)
  if (!answering) {
    console.error('starting the local HBase…')
    hbase = new LocalHBase({ dir: resolve('.spoor/hbase'), thriftPort: h.port })
    await hbase.start()
  }
  const dir = mkdtempSync(join(tmpdir(), 'spoor-shots-'))
  const stamp = `shots_${Date.now()}`
  const config = join(dir, 'spoor.toml')
  writeFileSync(config, `data_dir = ${JSON.stringify(dir)}
[server]
port = 0
[admin]
port = ${await freePort()}
[shutdown]
drain_seconds = 0
[hbase]
host = ${JSON.stringify(h.host)}
port = ${h.port}
zookeeper_quorum = ${JSON.stringify(h.zookeeperQuorum)}
salt_buckets = ${h.saltBuckets}
user_table = "${stamp}_user"
time_table = "${stamp}_time"
identity_table = "${stamp}_identity"
reports_table = "${stamp}_reports"
[reports]
master = ${JSON.stringify(base.reports.master)}
[dashboard]
port = 0
`)
  const collector = await serve(config)
  const stops: Array<() => Promise<void>> = [async () => { collector.child.kill('SIGTERM') }]
  try {
    await spoor(config, 'hbase', 'init')
    const written = await spoor(config, 'demo-data', '--events', '20000', '--days', '3')
    console.error(written.trim())
    const [fromText, toText] = /(\S+Z) to (\S+Z)/.exec(written)?.slice(1) ?? []
    const from = Math.floor(Date.parse(fromText) / DAY_MS) * DAY_MS
    const to = Math.ceil(Date.parse(toText) / DAY_MS) * DAY_MS
    const window = ['--from', new Date(from).toISOString(), '--to', new Date(to).toISOString()]
    await spoor(config, 'report', 'run', 'traffic', ...window)
    await spoor(config, 'report', 'run', 'platforms', ...window)
    const channels = JSON.parse(await spoor(config, 'report', 'run', 'channel', ...window, '--json')) as { channels: Array<{ channel: string }> }
    const channel = channels.channels[0].channel
    await spoor(config, 'report', 'run', 'channel', ...window, '--channel', channel)
    // A person who logged in on two platforms, for the User page.
    const rows = (await spoor(config, 'range', ...window, '--limit', '5000', '--json')).trim().split('\n').map(l => JSON.parse(l) as Record<string, string>)
    const uid = rows.find(r => r.lid !== undefined && r.p === 'web')?.uid ?? rows[0].uid

    const dashboard = await startDashboard(loadConfig(config), createLogger('warn'))
    stops.push(dashboard.close)
    // Traffic for the Live page: a few events a second through the running collector.
    const traffic = setInterval(() => {
      void fetch(`http://127.0.0.1:${collector.port}/e`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify([{ uid: 'live-demo', p: 'web', a: 'page', url: 'https://www.example.com/' }]) }).catch(() => {})
    }, 100)
    stops.push(async () => clearInterval(traffic))
    const browser = await chromium.launch({ executablePath: CHROMIUM, args: ['--no-sandbox', '--disable-gpu', '--no-first-run'] })
    stops.push(async () => await browser.close())
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 }, locale: 'en-US', timezoneId: 'UTC' })
    mkdirSync(OUT, { recursive: true })
    const q = new URLSearchParams({ from: new Date(from).toISOString(), to: new Date(to).toISOString() })
    const shots: Array<[string, string, string]> = [
      ['overview', `/?${q}`, '.chart canvas'],
      ['platforms', `/platforms?${q}`, 'table[data-section="matrix"]'],
      ['channels', `/channels?${q}&channel=${encodeURIComponent(channel)}`, '.chart canvas'],
      ['live', '/live', '.chart canvas'],
      ['user', `/user?id=${encodeURIComponent(uid)}&limit=15`, 'table[data-section="events"]']
    ]
    for (const [name, path, ready] of shots) {
      await page.goto(`${dashboard.url.replace(/\/$/, '')}${path}`)
      await page.waitForSelector(ready, { timeout: 60000 })
      // The Live page's rates need a few samples; the others are drawn once.
      if (name === 'live') await page.waitForTimeout(8000)
      await page.screenshot({ path: join(OUT, `${name}.png`), fullPage: true })
      console.error(`docs/dashboard/${name}.png`)
    }
    console.error(`the tables ${stamp}_* are left in HBase for a look; drop them with \`spoor hbase shell\` when done`)
  } finally {
    for (const stop of stops.reverse()) await stop()
    await hbase?.stop()
  }
}

main().then(() => process.exit(0), (err: Error) => {
  console.error(err)
  process.exit(1)
})
