// systemd's notify protocol end to end: the native sdNotify and the daemon's notifier against a fake NOTIFY_SOCKET.

import t, { type Test } from 'tap'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { setTimeout as sleep } from 'node:timers/promises'
import { createNotifier } from '../daemon/sd-notify'
import type * as Binding from '../native/index'

// daemon/native.ts is the daemon's only importer of the binding; a test may load it directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sdNotify }: typeof Binding = require(join(__dirname, '..', '..', 'native'))

// Node cannot bind a Unix datagram socket, so python3 plays the service manager: one JSON line per datagram,
// as a datagram may hold several newline-separated assignments.
const MANAGER = `
import json, socket, sys
a = sys.argv[1]
s = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
s.bind('\\0' + a[1:] if a.startswith('@') else a)
print('bound', flush=True)
while True:
    print(json.dumps(s.recv(65536).decode()), flush=True)
`

interface Manager {
  /** The next datagram, failing after 5 s. */
  next: () => Promise<string>
  /** Datagrams that arrived within `ms`. */
  drain: (ms: number) => Promise<string[]>
}

const dir = mkdtempSync(join(tmpdir(), 'spoor-sd-notify-'))
t.teardown(() => {
  delete process.env.NOTIFY_SOCKET
  rmSync(dir, { recursive: true, force: true })
})

async function manager (t: Test, address: string): Promise<Manager> {
  const child = spawn('python3', ['-c', MANAGER, address], { stdio: ['ignore', 'pipe', 'inherit'] })
  t.teardown(() => { child.kill() })
  const queue: string[] = []
  let wake: (() => void) | null = null
  const lines = createInterface({ input: child.stdout })
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', code => reject(new Error(`the fake manager exited with ${code}`)))
    lines.once('line', () => resolve())
  })
  lines.on('line', line => {
    queue.push(JSON.parse(line) as string)
    wake?.()
  })
  const next = async (): Promise<string> => {
    const deadline = Date.now() + 5000
    while (queue.length === 0) {
      if (Date.now() > deadline) throw new Error('no datagram within 5 s')
      await new Promise<void>(resolve => {
        wake = resolve
        setTimeout(resolve, 50)
      })
    }
    return queue.shift() as string
  }
  const drain = async (ms: number): Promise<string[]> => {
    await sleep(ms)
    return queue.splice(0)
  }
  return { next, drain }
}

t.test('without NOTIFY_SOCKET nothing is sent', async t => {
  const path = join(dir, 'unset.sock')
  const m = await manager(t, path)
  delete process.env.NOTIFY_SOCKET
  t.equal(sdNotify('READY=1'), false)
  process.env.NOTIFY_SOCKET = ''
  t.equal(sdNotify('READY=1'), false, 'empty counts as unset')
  let calls = 0
  const notifier = createNotifier(() => { calls++; return true }, { WATCHDOG_USEC: '200000' })
  t.equal(notifier.enabled, false)
  notifier.ready()
  notifier.status('up')
  notifier.stopping()
  notifier.startWatchdog()()
  t.equal(calls, 0, 'the notifier does not call the binding')
  t.same(await m.drain(200), [])
})

t.test('states arrive at a socket path', async t => {
  const path = join(dir, 'notify.sock')
  const m = await manager(t, path)
  process.env.NOTIFY_SOCKET = path
  t.equal(sdNotify('READY=1\nSTATUS=raw'), true)
  t.equal(await m.next(), 'READY=1\nSTATUS=raw', 'one datagram, byte for byte')

  const notifier = createNotifier(sdNotify)
  t.equal(notifier.enabled, true)
  notifier.ready()
  t.equal(await m.next(), 'READY=1')
  notifier.status('buffering 3 MiB\nflushing')
  t.equal(await m.next(), 'STATUS=buffering 3 MiB flushing', 'a status stays one line')
  notifier.reloading()
  t.match(await m.next(), /^RELOADING=1\nMONOTONIC_USEC=\d+$/)
  notifier.stopping()
  t.equal(await m.next(), 'STOPPING=1')
})

t.test('an abstract socket name', async t => {
  const name = `@spoor-sd-notify-${process.pid}`
  const m = await manager(t, name)
  process.env.NOTIFY_SOCKET = name
  t.equal(sdNotify('READY=1'), true)
  t.equal(await m.next(), 'READY=1')
})

t.test('watchdog pings every WATCHDOG_USEC/2 until stopped', async t => {
  const path = join(dir, 'watchdog.sock')
  const m = await manager(t, path)
  process.env.NOTIFY_SOCKET = path
  const stop = createNotifier(sdNotify, { ...process.env, WATCHDOG_USEC: '200000' }).startWatchdog()
  for (let i = 0; i < 3; i++) t.equal(await m.next(), 'WATCHDOG=1', `ping ${i + 1}`)
  stop()
  await m.drain(50)
  t.same(await m.drain(300), [], 'no ping after stop')

  const own = createNotifier(sdNotify, { ...process.env, WATCHDOG_USEC: '200000', WATCHDOG_PID: String(process.pid) }).startWatchdog()
  t.equal(await m.next(), 'WATCHDOG=1', 'WATCHDOG_PID naming this process')
  own()
  await m.drain(50)

  for (const env of [{ WATCHDOG_PID: String(process.pid + 1), WATCHDOG_USEC: '200000' }, {}, { WATCHDOG_USEC: '0' }, { WATCHDOG_USEC: 'x' }]) {
    createNotifier(sdNotify, { ...process.env, ...env }).startWatchdog()()
    t.same(await m.drain(150), [], `no watchdog for ${JSON.stringify(env)}`)
  }
})

t.test('a failed send is an Error naming the socket', async t => {
  const path = join(dir, 'nobody.sock')
  process.env.NOTIFY_SOCKET = path
  t.throws(() => sdNotify('READY=1'), { message: `sd_notify: cannot send to NOTIFY_SOCKET=${path}: No such file or directory (os error 2)` })
  process.env.NOTIFY_SOCKET = 'run/notify'
  t.throws(() => sdNotify('READY=1'), { message: 'sd_notify: cannot send to NOTIFY_SOCKET=run/notify: not an absolute path or an @abstract name' })

  process.env.NOTIFY_SOCKET = path
  const errors: Error[] = []
  const stop = createNotifier(sdNotify, { ...process.env, WATCHDOG_USEC: '200000' }).startWatchdog(err => errors.push(err))
  stop()
  t.equal(errors.length, 1, 'the first ping fails at once')
  t.match(errors[0]?.message, /^sd_notify: cannot send to NOTIFY_SOCKET=/)
})
