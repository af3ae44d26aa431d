// The spoor command's own errors: usage, config check, an unknown command, and an HBase that does not answer.

import { execFile, spawn } from 'node:child_process'
import { once } from 'node:events'
import { writeFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { CLI, tempDir } from './fixtures/daemon'

const exec = promisify(execFile)

async function spoor (...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  try {
    const { stdout, stderr } = await exec(process.execPath, [CLI, ...args])
    return { code: 0, stdout, stderr }
  } catch (err) {
    const e = err as { code: number, stdout: string, stderr: string }
    return { code: e.code, stdout: e.stdout, stderr: e.stderr }
  }
}

const dir = tempDir('cli')
const good = join(dir, 'good.toml')
const bad = join(dir, 'bad.toml')
const nowhere = join(dir, 'nowhere.toml')
writeFileSync(good, '[server]\nport = 9000\n')
writeFileSync(bad, '[server]\nport = 9000\nprot = 1\n')
writeFileSync(nowhere, '[hbase]\nport = 1\n')

t.test('--help prints the usage', async t => {
  const r = await spoor('--help')
  t.equal(r.code, 0)
  t.match(r.stdout, /^usage: spoor <command>/)
})

t.test('config check', async t => {
  t.same(await spoor('config', 'check', good), { code: 0, stdout: `${good}: ok\n`, stderr: '' })
  const r = await spoor('config', 'check', bad)
  t.equal(r.code, 1)
  t.equal(r.stderr, `spoor: SPOOR_E_CONFIG_INVALID: the configuration is invalid: ${bad}:3: server.prot: unknown key\n`)
})

t.test('the config shipped for systemd is valid', async t => {
  const shipped = join(__dirname, '..', '..', 'systemd', 'spoor.toml')
  t.same(await spoor('config', 'check', shipped), { code: 0, stdout: `${shipped}: ok\n`, stderr: '' })
})

t.test('an unknown command', async t => {
  const r = await spoor('frobnicate')
  t.equal(r.code, 1)
  t.equal(r.stderr, 'spoor: SPOOR_E_USAGE: the command line is invalid: unknown command "frobnicate"; see spoor --help\n')
})

t.test('an HBase that does not answer', async t => {
  const r = await spoor('user', 'alice', '--config', nowhere)
  t.equal(r.code, 1)
  t.match(r.stderr, /^spoor: SPOOR_E_HBASE_UNAVAILABLE: HBase did not answer: no Thrift2 gateway at 127\.0\.0\.1:1 .*; start one with `spoor hbase start`\n$/)
})

t.test('bad arguments', async t => {
  t.match((await spoor('user', 'alice', '--limit', 'many', '--config', nowhere)).stderr, /--limit must be a non-negative integer, not "many"/)
  t.match((await spoor('range', '--from', 'yesterday', '--to', '1', '--config', nowhere)).stderr, /--from is not a time: "yesterday"/)
  t.match((await spoor('range', '--config', nowhere)).stderr, /range needs --from/)
})

/**
 * Starts a node process that writes 1 MiB to stdout, says so on stderr and then ends with `exit`; reads stdout only
 * after that, as a busy reader would, and counts what arrives.
 */
async function slowlyRead (exit: string): Promise<{ bytes: number, code: number }> {
  const script = `const line = 'x'.repeat(1023) + '\\n'; for (let i = 0; i < 1024; i++) process.stdout.write(line); process.stderr.write('written\\n'); ${exit}`
  const child = spawn(process.execPath, ['-e', script], { cwd: dirname(CLI), stdio: ['ignore', 'pipe', 'pipe'] })
  child.stdout.pause()
  let stderr = ''
  child.stderr.setEncoding('utf8')
  await new Promise<void>(resolve => child.stderr.on('data', (d: string) => { stderr += d; if (stderr.includes('written')) resolve() }))
  let bytes = 0
  child.stdout.on('data', (d: Buffer) => { bytes += d.length })
  child.stdout.resume()
  const [code] = await once(child, 'close') as [number]
  return { bytes, code }
}

t.test('spoor ends only once a slow reader has all its output', async t => {
  // What the command did before: process.exit drops what the pipe (64 KiB) could not take yet.
  const dropped = await slowlyRead('process.exit(0)')
  t.ok(dropped.bytes < 1 << 20, `process.exit alone hands over ${dropped.bytes} of 1 MiB`)
  const whole = await slowlyRead("require('./cli/shared.js').exitWhenWritten(3)")
  t.same(whole, { bytes: 1 << 20, code: 3 }, 'every byte, then the exit code')
})
