// The systemd units: they parse cleanly, the collector's hardening does not quietly get weaker, and the daily reports run over yesterday.

import t from 'tap'
import { spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { REPORTS } from '../daemon/reports/reports'

const UNIT = join(__dirname, '..', '..', 'systemd', 'spoor.service')
const EXEC_START = 'ExecStart=/usr/bin/node /opt/spoor/dist/daemon/cli.js '

/** Measured with systemd 252 (Debian 12); any loosening of the unit raises it. */
const MAX_EXPOSURE = 1.3

/** The checks the unit fails on purpose, by their `json_field`, and why. */
const ACCEPTED: Record<string, string> = {
  PrivateNetwork: 'a network service',
  IPAddressDeny: 'clients come from anywhere and HBase is wherever the config says',
  RestrictAddressFamilies_AF_INET_INET6: 'clients and HBase',
  RestrictAddressFamilies_AF_UNIX: 'sd_notify to systemd',
  MemoryDenyWriteExecute: "V8's JIT writes executable memory",
  RootDirectoryOrRootImage: 'spoor runs on the host\'s node from /opt/spoor',
  DeviceAllow: 'ProtectClock= itself allows reading the RTC',
  PrivateUsers: 'not yet tried on a systemd host'
}

interface Check { set: boolean, name: string, json_field: string, exposure: string | null }

function analyze (args: string[]): { stdout: string, stderr: string, status: number | null } {
  const r = spawnSync('systemd-analyze', args, { encoding: 'utf8' })
  if ((r.error as NodeJS.ErrnoException | undefined)?.code === 'ENOENT') {
    throw new Error('systemd-analyze is not installed; on Debian and Ubuntu it comes with the systemd package')
  }
  if (r.error != null) throw r.error
  return r
}

t.test('systemd-analyze verify finds nothing to say', async t => {
  const text = readFileSync(UNIT, 'utf8')
  t.ok(text.includes(`\n${EXEC_START}`), 'the unit still starts the installed cli.js')
  // verify checks that ExecStart's program exists, so point it at this node and this checkout.
  const dir = mkdtempSync(join(tmpdir(), 'spoor-unit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const unit = join(dir, 'spoor.service')
  const cli = join(__dirname, '..', 'daemon', 'cli.js')
  writeFileSync(unit, text.replace(EXEC_START, `ExecStart=${process.execPath} ${cli} `))
  const r = analyze(['verify', unit])
  // Unknown keys and bad values are only warnings with exit status 0, so the output must be empty too.
  t.equal(r.stderr + r.stdout, '')
  t.equal(r.status, 0)
})

t.test('systemd-analyze security rates the unit', async t => {
  const r = analyze(['security', '--offline=true', UNIT])
  t.equal(r.status, 0, 'systemd-analyze security succeeds', { stderr: r.stderr })
  const overall = /Overall exposure level for spoor\.service: (\d+\.\d) (\w+)/.exec(r.stdout)
  t.ok(overall, 'the overall exposure is reported', { stdout: r.stdout })
  t.ok(Number(overall?.[1]) <= MAX_EXPOSURE, `exposure ${overall?.[1]} ${overall?.[2]} is at most ${MAX_EXPOSURE}`)

  const checks = JSON.parse(analyze(['security', '--offline=true', '--json=short', UNIT]).stdout) as Check[]
  const exposed = checks.filter(c => !c.set && c.exposure != null && Number(c.exposure) > 0).map(c => c.json_field)
  t.same(exposed.filter(f => !(f in ACCEPTED)), [], 'every failed check is one the unit accepts on purpose')
})

for (const [name, command] of [['spoor-recommend-consume.service', 'recommend consume'], ['spoor-recommend.service', 'recommend serve']]) {
  t.test(`${name}: verify finds nothing to say, it runs \`spoor ${command}\`, and it is as tight as the collector's`, async t => {
    const file = join(__dirname, '..', '..', 'systemd', name)
    const text = readFileSync(file, 'utf8')
    t.ok(text.includes(`\n${EXEC_START}${command} --config /etc/spoor/spoor.toml\n`), `the unit runs \`spoor ${command}\` with the installed cli.js`)
    t.match(text, /\nType=notify\n/)
    t.match(text, /\nRestart=on-failure\n/)
    const dir = mkdtempSync(join(tmpdir(), 'spoor-unit-'))
    t.teardown(() => rmSync(dir, { recursive: true, force: true }))
    const unit = join(dir, name)
    writeFileSync(unit, text.replace(EXEC_START, `ExecStart=${process.execPath} ${join(__dirname, '..', 'daemon', 'cli.js')} `))
    const r = analyze(['verify', unit])
    t.equal(r.stderr + r.stdout, '')
    t.equal(r.status, 0)

    const overall = new RegExp(`Overall exposure level for ${name.replace(/\./g, '\\.')}: (\\d+\\.\\d) (\\w+)`).exec(analyze(['security', '--offline=true', file]).stdout)
    t.ok(Number(overall?.[1]) <= MAX_EXPOSURE, `exposure ${overall?.[1]} ${overall?.[2]} is at most ${MAX_EXPOSURE}`)
    const checks = JSON.parse(analyze(['security', '--offline=true', '--json=short', file]).stdout) as Check[]
    const exposed = checks.filter(c => !c.set && c.exposure != null && Number(c.exposure) > 0).map(c => c.json_field)
    t.same(exposed.filter(f => !(f in ACCEPTED)), [], 'every failed check is one the collector\'s unit accepts too')
  })
}

const REPORT_DIR = join(__dirname, '..', '..', 'systemd')
const REPORT_EXEC = 'ExecStart=/usr/bin/node /opt/spoor/dist/daemon/cli.js report run '

t.test('spoor-report.service and spoor-report.timer: verify finds nothing to say, and the service runs yesterday\'s reports', async t => {
  const service = readFileSync(join(REPORT_DIR, 'spoor-report.service'), 'utf8')
  const timer = readFileSync(join(REPORT_DIR, 'spoor-report.timer'), 'utf8')
  const runs = service.split('\n').filter(l => l.startsWith('ExecStart='))
  t.ok(runs.length >= 1 && runs.every(l => l.startsWith(REPORT_EXEC)), 'every ExecStart runs one report with the installed cli.js')
  const names = runs.map(l => l.slice(REPORT_EXEC.length).split(' ')[0])
  t.same(names.filter(n => !(n in REPORTS)), [], 'every report the unit runs exists')
  t.ok(names.includes('traffic') && names.includes('platforms'), 'yesterday\'s traffic and platforms')
  t.ok(runs.every(l => / --day yesterday( |$)/.test(l)), 'each runs over yesterday, UTC')
  t.match(service, /\nType=oneshot\n/)
  t.match(timer, /\nPersistent=true\n/)
  t.match(timer, /\nRandomizedDelaySec=\S+\n/)
  t.match(timer, /\nUnit=spoor-report\.service\n/)

  const dir = mkdtempSync(join(tmpdir(), 'spoor-unit-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const cli = join(__dirname, '..', 'daemon', 'cli.js')
  writeFileSync(join(dir, 'spoor-report.service'), service.replaceAll('ExecStart=/usr/bin/node /opt/spoor/dist/daemon/cli.js ', `ExecStart=${process.execPath} ${cli} `))
  writeFileSync(join(dir, 'spoor-report.timer'), timer)
  const r = analyze(['verify', join(dir, 'spoor-report.service'), join(dir, 'spoor-report.timer')])
  t.equal(r.stderr + r.stdout, '')
  t.equal(r.status, 0)

  // Once a day, after midnight UTC: the next elapse of the timer's calendar is at 00:30 UTC.
  const calendar = /\nOnCalendar=(.+)\n/.exec(timer)?.[1] as string
  const next = /(?:\(in UTC\)|Next elapse): \w+ (\d{4}-\d\d-\d\d \d\d:\d\d:\d\d) UTC/.exec(analyze(['calendar', calendar]).stdout)
  t.ok(next, 'systemd-analyze calendar reads OnCalendar')
  t.equal(next?.[1].slice(11), '00:30:00')
})
