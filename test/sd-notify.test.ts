// systemd's notify protocol end to end: the native sdNotify and the daemon's notifier against a fake NOTIFY_SOCKET.

import t from 'tap'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { createNotifier } from '../daemon/ops/sd-notify'
import { manager } from './fixtures/notify-socket'
import type * as Binding from '../native/index'

// daemon/native.ts is the daemon's only importer of the binding; a test may load it directly.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { sdNotify }: typeof Binding = require(join(__dirname, '..', '..', 'native'))

const dir = mkdtempSync(join(tmpdir(), 'spoor-sd-notify-'))
t.teardown(() => {
  delete process.env.NOTIFY_SOCKET
  rmSync(dir, { recursive: true, force: true })
})


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
