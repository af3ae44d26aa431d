// The local RabbitMQ: `spoor rabbitmq start|stop` runs a node of its own on loopback, with its own ports and epmd,
// idempotently; it refuses ports that another instance holds, and says clearly what is wrong.

import { execFile } from 'node:child_process'
import { existsSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { join } from 'node:path'
import { promisify } from 'node:util'
import t from 'tap'
import { LocalRabbitMQ, localRabbitMQ } from '../daemon/dev/local-rabbitmq'
import { CLI, tempDir, toml } from './fixtures/daemon'
import { AMQP_PORT, suiteRabbitMQ } from './fixtures/rabbitmq'

const run = promisify(execFile)
const OFFSET = Number(process.env.SPOOR_TEST_PORT_OFFSET ?? 0)

async function listening (port: number): Promise<boolean> {
  return await new Promise(resolve => {
    const server = createServer()
    server.once('error', () => resolve(true))
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(false)))
  })
}

async function cli (configPath: string, ...args: string[]): Promise<{ code: number, stdout: string, stderr: string }> {
  return await run(process.execPath, [CLI, ...args, '--config', configPath]).then(
    ({ stdout, stderr }) => ({ code: 0, stdout, stderr }),
    (err: { code: number, stdout: string, stderr: string }) => err)
}

t.test('spoor rabbitmq start|stop: a node of its own on loopback, started once however often asked, and stopped with its epmd', async t => {
  const dir = tempDir('rabbitmq')
  const amqpPort = 5712 + OFFSET
  const configPath = join(dir, 'spoor.toml')
  writeFileSync(configPath, toml({ recommend: { amqp_url: `amqp://127.0.0.1:${amqpPort}` } }))
  const rabbitDir = join(dir, 'rabbitmq')
  const node = localRabbitMQ(`amqp://127.0.0.1:${amqpPort}`, rabbitDir)
  t.teardown(async () => { await node.stop() })
  t.same(node.ports, { amqp: amqpPort, dist: amqpPort + 20000, epmd: amqpPort + 20001 }, 'the distribution port is RabbitMQ\'s own offset from AMQP, and epmd is next to it')

  const started = await cli(configPath, 'rabbitmq', 'start', '--rabbitmq-dir', rabbitDir)
  t.equal(started.code, 0, started.stderr)
  t.equal(started.stdout, `RabbitMQ spoor-${amqpPort}@localhost on amqp://127.0.0.1:${amqpPort} (distribution ${amqpPort + 20000}, epmd ${amqpPort + 20001}), data and logs under ${rabbitDir}\n`)
  const { pid } = await node.status()
  t.ok((await node.status()).answering, 'it accepts AMQP connections')
  for (const port of Object.values(node.ports)) t.ok(await listening(port), `something listens on 127.0.0.1:${port}`)
  t.ok(existsSync(join(rabbitDir, 'logs', 'rabbitmq.log')), 'its log is in its own directory')
  t.ok(existsSync(join(rabbitDir, '.erlang.cookie')), 'and so is its Erlang cookie')

  const again = Date.now()
  t.equal((await cli(configPath, 'rabbitmq', 'start', '--rabbitmq-dir', rabbitDir)).code, 0)
  t.ok(Date.now() - again < 5000, 'a second start finds it running and returns at once')
  t.equal((await node.status()).pid, pid, 'the same node')

  const stopped = await cli(configPath, 'rabbitmq', 'stop', '--rabbitmq-dir', rabbitDir)
  t.equal(stopped.code, 0)
  t.equal(stopped.stdout, 'RabbitMQ stopped\n')
  t.same(await node.status(), { pid: undefined, answering: false })
  for (const port of Object.values(node.ports)) t.notOk(await listening(port), `nothing listens on 127.0.0.1:${port}, epmd included`)
  t.equal((await cli(configPath, 'rabbitmq', 'stop', '--rabbitmq-dir', rabbitDir)).code, 0, 'stopping a stopped node is no error')
})

t.test('the local RabbitMQ refuses ports in use, and says what is wrong', async t => {
  const running = suiteRabbitMQ()
  const again = Date.now()
  await running.start()
  t.ok(Date.now() - again < 5000, 'starting the suite node again returns at once')

  const clash = new LocalRabbitMQ({ dir: tempDir('clash'), amqpPort: AMQP_PORT, distPort: 5722 + OFFSET, epmdPort: 5723 + OFFSET })
  await t.rejects(clash.start(), { message: new RegExp(`^cannot start the local RabbitMQ in .*: port ${AMQP_PORT} on 127\\.0\\.0\\.1 is already in use \\(another RabbitMQ\\? stop it, or give this one other ports\\)$`) })
  t.ok((await running.status()).answering, 'and the running one is untouched')

  const squatter = createServer().listen(5733 + OFFSET, '127.0.0.1')
  t.teardown(() => squatter.close())
  const epmd = new LocalRabbitMQ({ dir: tempDir('epmd'), amqpPort: 5731 + OFFSET, distPort: 5732 + OFFSET, epmdPort: 5733 + OFFSET })
  await t.rejects(epmd.start(), { message: /port \d+ on 127\.0\.0\.1 is in use by something other than epmd$/ })

  const missing = new LocalRabbitMQ({ dir: tempDir('missing'), amqpPort: 5741 + OFFSET, serverScript: '/nonexistent/rabbitmq-server' })
  await t.rejects(missing.start(), { message: '/nonexistent/rabbitmq-server is missing: install Debian\'s rabbitmq-server (apt-get install rabbitmq-server; it is in debian-packages.txt)' })

  t.throws(() => new LocalRabbitMQ({ dir: 'x', amqpPort: 5672, distPort: 5672 }), new RangeError('options.amqpPort, distPort and epmdPort must all differ'))
  t.same(new LocalRabbitMQ({ dir: 'x', amqpPort: 50000 }).ports, { amqp: 50000, dist: 30000, epmd: 30001 }, 'an AMQP port too high for +20000 takes −20000')
})

t.test('spoor rabbitmq: a URL that is not on loopback, and an unknown command', async t => {
  const dir = tempDir('rabbitmq-usage')
  const remote = join(dir, 'remote.toml')
  writeFileSync(remote, toml({ recommend: { amqp_url: 'amqp://mq.example:5672' } }))
  t.match(await cli(remote, 'rabbitmq', 'start'), { code: 1, stderr: /SPOOR_E_CONFIG_INVALID: .*recommend\.amqp_url points at mq\.example, but the local RabbitMQ listens on 127\.0\.0\.1 only/ })
  t.match(await cli(remote, 'rabbitmq', 'restart'), { code: 1, stderr: /SPOOR_E_USAGE: .*unknown rabbitmq command "restart"/ })
})
