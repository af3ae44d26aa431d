// Reports the dashboard computes itself when dashboard.allow_runs is on: one Spark job at a time, as `spoor report run` runs it.

import { join } from 'node:path'
import type { Config } from '../config'
import { SpoorError } from '../errors'
import type { Logger } from '../log'
import { reportRowKey, runJob, type ReportParams } from '../reports/reports'

/** A report the dashboard was asked to compute, by its row key. */
export interface RunState {
  key: string
  user: string
  started: number
  /** Set once the job has ended. */
  finished?: number
  /** The error's code and message when the job failed. */
  error?: { code: string, message: string }
}

/** What a report's window and parameters are, as the report pages ask for them (reportQuery). */
export interface RunRequest { name: string, from: number, to: number, params: ReportParams }

/** How many ended runs are remembered. */
const ENDED_KEPT = 100

export class Runs {
  private running: RunState | undefined
  /** The last run of each report key, kept so that a page reloaded meanwhile learns how it ended. */
  private readonly ended = new Map<string, RunState>()

  constructor (private readonly config: Config, private readonly log: Logger) {}

  get allowed (): boolean {
    return this.config.dashboard.allowRuns
  }

  /** The run of this report: the one in progress, else the last that ended; undefined when there was none. */
  state (r: RunRequest): RunState | undefined {
    const key = reportRowKey(r.name, r.from, r.to, r.params)
    return this.running?.key === key ? this.running : this.ended.get(key)
  }

  /**
   * Starts computing a report; answers at once with its state, the job going on in the background. Refused when runs
   * are off, and while another report is being computed.
   */
  start (r: RunRequest, user: string): RunState {
    if (!this.allowed) throw new SpoorError('DASHBOARD_RUNS_OFF', 'set dashboard.allow_runs = true to compute reports from the dashboard')
    const key = reportRowKey(r.name, r.from, r.to, r.params)
    if (this.running !== undefined) {
      if (this.running.key === key) return this.running
      throw new SpoorError('DASHBOARD_RUN_BUSY', `${this.running.key} started ${Math.round((Date.now() - this.running.started) / 1000)} s ago; try again when it is done`)
    }
    const run: RunState = { key, user, started: Date.now() }
    this.running = run
    this.log.info({ report: key, user }, 'dashboard: computing a report')
    const logFile = join(this.config.dataDir, 'reports', `${r.name}.log`)
    runJob(this.config, { ...r, master: this.config.reports.master, logFile }).then(
      () => this.log.info({ report: key, ms: Date.now() - run.started }, 'dashboard: report computed'),
      (err: Error & { code?: string }) => {
        run.error = { code: err.code ?? 'SPOOR_E_REPORT_FAILED', message: err.message }
        this.log.warn({ report: key, err: err.message }, 'dashboard: the report failed')
      }
    ).finally(() => {
      run.finished = Date.now()
      this.running = undefined
      this.ended.delete(key)
      this.ended.set(key, run)
      if (this.ended.size > ENDED_KEPT) this.ended.delete(this.ended.keys().next().value as string)
    })
    return run
  }
}
