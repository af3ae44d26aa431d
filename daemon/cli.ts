#!/usr/bin/env node
// The `spoor` command: reads the command line, loads the config and hands over to the command's module in daemon/cli/.

import { configPath, loadConfig } from './config'
import { SpoorError } from './errors'
import { bufferCommand } from './cli/buffer'
import { configCheckCommand } from './cli/config'
import { dashboardCommand } from './cli/dashboard'
import { demoDataCommand } from './cli/demo-data'
import { hbaseCommand } from './cli/hbase'
import { rabbitmqCommand } from './cli/rabbitmq'
import { eraseCommand, identityCommand, rangeCommand, userCommand } from './cli/reads'
import { recommendCommand } from './cli/recommend'
import { reportCommand } from './cli/report'
import { devCommand, serveCommand } from './cli/serve'
import { exitWhenWritten, parseCommandLine, type Command } from './cli/shared'
import { USAGE } from './cli/usage'

/** Every command that runs with a loaded config, by its name; each is described in cli/usage.ts. */
const COMMANDS: ReadonlyMap<string, Command> = new Map([
  ['serve', serveCommand],
  ['dev', devCommand],
  ['hbase', hbaseCommand],
  ['rabbitmq', rabbitmqCommand],
  ['recommend', recommendCommand],
  ['user', userCommand],
  ['identity', identityCommand],
  ['erase', eraseCommand],
  ['range', rangeCommand],
  ['report', reportCommand],
  ['demo-data', demoDataCommand],
  ['dashboard', dashboardCommand],
  ['buffer', bufferCommand]
])

const { values: opts, positionals } = parseCommandLine()

async function main (): Promise<void> {
  const [command, sub, arg] = positionals
  if (opts.help || command == null) {
    console.log(USAGE)
    return
  }
  if (command === 'config' && sub === 'check') {
    await configCheckCommand(arg)
    return
  }
  const path = configPath(opts.config)
  const config = loadConfig(path)
  const run = COMMANDS.get(command)
  if (run == null) throw new SpoorError('USAGE', `unknown command "${command}"; see spoor --help`)
  await run({ sub, arg, positionals, opts, config, configPath: path })
}

main().then(
  () => exitWhenWritten(Number(process.exitCode ?? 0)),
  (err: Error & { code?: string }) => {
    console.error(`spoor: ${err.code != null ? `${err.code}: ` : ''}${err.message}`)
    exitWhenWritten(1)
  }
)
