// `spoor report run|show NAME`: compute a report with Spark and store it, or print a stored one.

import { join } from 'node:path'
import { SpoorError } from '../errors'
import { reportCsv, reportText } from '../reports/report-print'
import { checkMaster, checkReportsTable, checkWindow, dayWindow, readReport, reportDef, runJob, type Report, type ReportParams } from '../reports/reports'
import { parseInteger, parseTime, withClient, type Context } from './shared'

/** The checks that need no HBase come first, so bad input fails at once. */
export async function reportCommand ({ sub, arg: name, opts, config }: Context): Promise<void> {
  if (sub !== 'run' && sub !== 'show') throw new SpoorError('USAGE', `unknown report command "${sub ?? ''}"; see spoor --help`)
  if (name == null) throw new SpoorError('USAGE', `report ${sub} needs a report name`)
  reportDef(name)
  if (opts.day != null && (opts.from != null || opts.to != null)) throw new SpoorError('USAGE', '--day is a window of its own: give it or --from and --to, not both')
  const { from, to } = opts.day != null
    ? dayWindow(opts.day, Date.now())
    : { from: parseTime(opts.from, '--from', `report ${sub}`), to: parseTime(opts.to, '--to', `report ${sub}`) }
  checkWindow(from, to)
  // Only a run needs Spark: show reads a stored row whatever the master.
  const master = opts.master ?? config.reports.master
  if (sub === 'run') checkMaster(master, config.reports.sparkSubmit)
  const top = parseInteger(opts.top as string, '--top')
  if (top < 1) throw new SpoorError('USAGE', '--top must be at least 1')
  const platform = opts.platform as string | undefined
  if (platform === '') throw new SpoorError('USAGE', '--platform needs a platform name, such as web')
  const platforms = opts.platforms === undefined ? [] : (opts.platforms as string).split(',').map(p => p.trim())
  if (platforms.some(p => p === '')) throw new SpoorError('USAGE', '--platforms takes platform names separated by commas, such as web,android')
  const channel = opts.channel as string | undefined
  if (channel === '') throw new SpoorError('USAGE', '--channel needs a channel name')
  const params: ReportParams = { top, platform, withBots: opts['with-bots'] as boolean, platforms, channel }
  const table = config.hbase.reportsTable
  const stored = async (): Promise<Report | undefined> => await withClient(config, async c => {
    await checkReportsTable(c, table)
    return await readReport(c, table, name, from, to, params)
  })
  let found = await stored()
  if (sub === 'run') {
    if (found !== undefined && !(opts.force as boolean)) {
      console.error(`spoor: this window is already stored (computed ${found.meta.computedAt}); --force recomputes it`)
    } else {
      const started = Date.now()
      const logFile = join(config.dataDir, 'reports', `${name}.log`)
      await runJob(config, { name, from, to, params, master, logFile })
      found = await stored()
      if (found === undefined) throw new SpoorError('REPORT_FAILED', `the job exited 0 but no complete row is stored (log: ${logFile})`)
      console.error(`spoor: ${name} computed in ${((Date.now() - started) / 1000).toFixed(1)} s and stored in ${table}`)
    }
  }
  if (found === undefined) throw new SpoorError('REPORT_NOT_FOUND', `${name} over [${new Date(from).toISOString()}, ${new Date(to).toISOString()}); compute it with \`spoor report run\``)
  if (opts.json as boolean) console.log(JSON.stringify(found))
  else if (opts.csv as boolean) console.log(reportCsv(found))
  else console.log(reportText(found))
}
