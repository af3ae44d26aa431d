// `spoor hbase start|stop|init|shell`: the local single-node HBase of development, and the event tables' schema.

import { join, resolve } from 'node:path'
import type { Config } from '../config'
import type { LocalHBase } from '../dev/local-hbase'
import { SpoorError } from '../errors'
import { ensureSchema } from '../hbase/schema'
import { parseInteger, withClient, type Context } from './shared'

/**
 * The local HBase of the development commands, every port from the config: its Thrift gateway on hbase.port, its
 * ZooKeeper on the port of hbase.zookeeper_quorum (which must then be one loopback host:port, as the report jobs
 * reach the same ZooKeeper), its master and region server on hbase.local_base_port and + 20. daemon/dev/ is loaded
 * only by these commands, never by `serve`.
 */
export function localHBase (ctx: Context): LocalHBase {
  const { LocalHBase } = require('../dev/local-hbase') as typeof import('../dev/local-hbase')
  const { hbase } = ctx.config
  return new LocalHBase({ dir: resolve(ctx.opts['hbase-dir'] as string), thriftPort: hbase.port, zkPort: localZooKeeperPort(hbase.zookeeperQuorum), basePort: hbase.localBasePort })
}

/** The ZooKeeper port of a local HBase: hbase.zookeeper_quorum must be one 127.0.0.1 or localhost host:port. */
export function localZooKeeperPort (quorum: string): number {
  const m = /^(127\.0\.0\.1|localhost):(\d{1,5})$/.exec(quorum)
  const port = m === null ? NaN : Number(m[2])
  if (!(port >= 1 && port <= 65535)) {
    throw new SpoorError('USAGE', `the local HBase runs its ZooKeeper on the port of hbase.zookeeper_quorum, which must be one 127.0.0.1:PORT or localhost:PORT, not "${quorum}"`)
  }
  return port
}

/** Creates the tables, pre-split, and prints what became of each; `ttl` (the --ttl option) overrides hbase.ttl_seconds. */
export async function init (config: Config, ttl?: string): Promise<void> {
  const ttlSeconds = ttl != null ? parseInteger(ttl, '--ttl') : config.hbase.ttlSeconds
  const outcome = await withClient(config, async c => await ensureSchema(c, {
    userTable: config.hbase.userTable,
    timeTable: config.hbase.timeTable,
    identityTable: config.hbase.identityTable,
    reportsTable: config.hbase.reportsTable,
    signalsTable: config.recommend.signalsTable,
    signalsTtlSeconds: config.recommend.ttlSeconds > 0 ? config.recommend.ttlSeconds : undefined,
    saltBuckets: config.hbase.saltBuckets,
    ttlSeconds: ttlSeconds > 0 ? ttlSeconds : undefined,
    reportsTtlSeconds: config.reports.ttlSeconds > 0 ? config.reports.ttlSeconds : undefined
  }))
  for (const [table, what] of Object.entries(outcome)) console.log(`${table}: ${what}`)
}

export async function hbaseCommand (ctx: Context): Promise<void> {
  const { sub, config } = ctx
  if (sub === 'start') {
    await localHBase(ctx).start()
    console.log(`HBase Thrift2 gateway on 127.0.0.1:${config.hbase.port}`)
  } else if (sub === 'stop') {
    await localHBase(ctx).stop()
    console.log('HBase stopped')
  } else if (sub === 'init') {
    await init(config, ctx.opts.ttl)
  } else if (sub === 'shell') {
    const hbase = localHBase(ctx)
    const { openShell } = require('../dev/hbase-shell') as typeof import('../dev/hbase-shell')
    process.exitCode = await openShell({ dir: join(resolve(ctx.opts['hbase-dir'] as string), 'shell'), zkPort: hbase.ports.zk, args: ctx.positionals.slice(2) })
      .catch((err: Error) => { throw new SpoorError('HBASE_UNAVAILABLE', err.message) })
  } else {
    throw new SpoorError('USAGE', `unknown hbase command "${sub ?? ''}"; see spoor --help`)
  }
}
