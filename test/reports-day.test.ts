// `--day`: a report over one UTC day, yesterday's for the daily timer, computed the same whatever the host's time zone.

import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import t from 'tap'
import { SpoorError } from '../daemon/errors'
import { dayWindow } from '../daemon/reports/reports'
import { CLI, tempDir, toml } from './fixtures/daemon'
import { freshTables } from './fixtures/hbase'
import { reportsTable } from './fixtures/reports'

const iso = (w: { from: number, to: number }): string[] => [new Date(w.from).toISOString(), new Date(w.to).toISOString()]

t.test('dayWindow: yesterday and today in UTC, at the edges of a day, and a date', async t => {
  const at = (s: string): number => Date.parse(s)
  t.same(iso(dayWindow('yesterday', at('2026-11-29T09:30:00Z'))), ['2026-11-28T00:00:00.000Z', '2026-11-29T00:00:00.000Z'])
  t.same(iso(dayWindow('yesterday', at('2026-11-29T00:00:00.000Z'))), ['2026-11-28T00:00:00.000Z', '2026-11-29T00:00:00.000Z'], 'at midnight, yesterday is the day that just ended')
  t.same(iso(dayWindow('yesterday', at('2026-11-28T23:59:59.999Z'))), ['2026-11-27T00:00:00.000Z', '2026-11-28T00:00:00.000Z'])
  t.same(iso(dayWindow('yesterday', at('2026-03-01T00:30:00Z'))), ['2026-02-28T00:00:00.000Z', '2026-03-01T00:00:00.000Z'], 'across a month')
  t.same(iso(dayWindow('yesterday', at('2027-01-01T00:30:00Z'))), ['2026-12-31T00:00:00.000Z', '2027-01-01T00:00:00.000Z'], 'across a year')
  // 00:30 in Berlin on 29 November is still the 28th in UTC: the host's zone plays no part.
  t.same(iso(dayWindow('yesterday', at('2026-11-29T00:30:00+01:00'))), ['2026-11-27T00:00:00.000Z', '2026-11-28T00:00:00.000Z'])
  t.same(iso(dayWindow('today', at('2026-11-29T23:59:59.999Z'))), ['2026-11-29T00:00:00.000Z', '2026-11-30T00:00:00.000Z'])
  t.same(iso(dayWindow('2024-02-29', 0)), ['2024-02-29T00:00:00.000Z', '2024-03-01T00:00:00.000Z'])
  for (const bad of ['2026-02-29', '2026-13-01', '2026-1-1', 'tomorrow', '', '2026-11-29T00:00:00Z']) {
    t.throws(() => dayWindow(bad, 0), new SpoorError('USAGE', `--day must be yesterday, today or a date written YYYY-MM-DD, not "${bad}"`))
  }
})

async function spoor (args: string[], env: NodeJS.ProcessEnv = {}): Promise<{ code: number, stderr: string }> {
  const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'ignore', 'pipe'], env: { ...process.env, ...env } })
  let stderr = ''
  child.stderr.on('data', (b: Buffer) => { stderr += b.toString() })
  const [code] = await once(child, 'exit') as [number]
  return { code, stderr }
}

t.test('report run|show --day: the window the CLI takes, and its usage errors', async t => {
  const hbase = await freshTables('reports_day')
  const reports = await reportsTable('reports', hbase)
  const dir = tempDir('reports-day')
  const config = `${dir}/spoor.toml`
  writeFileSync(config, toml({ hbase: { ...hbase, reports_table: reports } }, { data_dir: `${dir}/data` }))

  const dated = await spoor(['report', 'show', 'traffic', '--day', '2026-11-28', '--config', config])
  t.equal(dated.code, 1)
  t.match(dated.stderr, /^spoor: SPOOR_E_REPORT_NOT_FOUND: .*traffic over \[2026-11-28T00:00:00\.000Z, 2026-11-29T00:00:00\.000Z\)/)

  // Far from UTC midnight in both directions: the CLI's yesterday is the UTC one. A run that straddles midnight UTC
  // may see either day.
  const before = dayWindow('yesterday', Date.now())
  for (const tz of ['Pacific/Kiritimati', 'Pacific/Pago_Pago']) {
    const shown = await spoor(['report', 'show', 'traffic', '--day', 'yesterday', '--config', config], { TZ: tz })
    const after = dayWindow('yesterday', Date.now())
    const windows = [before, after].map(w => `[${iso(w).join(', ')})`)
    t.ok(windows.some(w => shown.stderr.includes(w)), `TZ=${tz}: yesterday in UTC`, { stderr: shown.stderr, windows })
  }

  const usage = [
    [['--day', 'yesterday', '--from', '2026-11-28T00:00:00Z'], '--day is a window of its own'],
    [['--day', '2026-11-31'], '--day must be yesterday, today or a date written YYYY-MM-DD, not "2026-11-31"'],
    [['--day', 'yesterday', '--master', ''], '--master must be a Spark master URL'],
    [['--day', 'yesterday', '--master', 'yarn'], '--master yarn needs reports.spark_submit']
  ] as const
  for (const [args, message] of usage) {
    const r = await spoor(['report', 'run', 'traffic', ...args, '--config', config])
    t.equal(r.code, 1)
    t.ok(r.stderr.startsWith('spoor: SPOOR_E_USAGE: ') && r.stderr.split('\n')[0].includes(message), r.stderr)
  }
})
