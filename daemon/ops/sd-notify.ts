// systemd's notify protocol for the daemon: readiness, reload, stopping, status text and watchdog pings.

/** What the daemon tells systemd; every call does nothing when not run by systemd with Type=notify. */
export interface Notifier {
  /** True when $NOTIFY_SOCKET is set, i.e. a service manager is listening. */
  readonly enabled: boolean
  /** READY=1: the listen socket is open. systemd holds back units ordered after spoor until then. */
  ready: () => void
  /** RELOADING=1 at the start of a SIGHUP reload; call ready() when it is done. */
  reloading: () => void
  /** STOPPING=1: shutdown began, so systemd shows "deactivating" instead of a failure to answer. */
  stopping: () => void
  /** STATUS=text: one line shown by `systemctl status`; newlines become spaces. */
  status: (text: string) => void
  /**
   * Sends WATCHDOG=1 now and every WATCHDOG_USEC/2 on an unref'd timer; returns the function that stops it.
   * Does nothing when systemd set no watchdog for this process. A failed ping goes to onError, or, without one,
   * is thrown from the timer: a daemon that cannot reach systemd will be killed by the watchdog anyway.
   */
  startWatchdog: (onError?: (err: Error) => void) => () => void
}

/**
 * `send` is the native sdNotify, which reads $NOTIFY_SOCKET itself; `env` decides whether to call it at all
 * and holds WATCHDOG_USEC and WATCHDOG_PID, as systemd sets them.
 */
export function createNotifier (send: (state: string) => boolean, env: NodeJS.ProcessEnv = process.env): Notifier {
  const enabled = env.NOTIFY_SOCKET != null && env.NOTIFY_SOCKET !== ''
  const notify = (state: string): void => {
    if (enabled) send(state)
  }
  return {
    enabled,
    ready: () => notify('READY=1'),
    // systemd 253+ matches a reload to the signal that asked for it by this timestamp; older ones ignore it.
    reloading: () => notify(`RELOADING=1\nMONOTONIC_USEC=${process.hrtime.bigint() / 1000n}`),
    stopping: () => notify('STOPPING=1'),
    status: text => notify(`STATUS=${text.replace(/[\r\n]+/g, ' ')}`),
    startWatchdog: onError => {
      const intervalMs = watchdogIntervalMs(env)
      if (!enabled || intervalMs == null) return () => {}
      const ping = (): void => {
        try {
          send('WATCHDOG=1')
        } catch (err) {
          if (onError == null) throw err
          onError(err as Error)
        }
      }
      ping()
      const timer = setInterval(ping, intervalMs)
      // The watchdog must not be what keeps a stopping daemon alive.
      timer.unref()
      return () => clearInterval(timer)
    }
  }
}

/** Half the watchdog timeout, as sd_watchdog_enabled(3) advises; null when there is no watchdog for this process. */
function watchdogIntervalMs (env: NodeJS.ProcessEnv): number | null {
  const usec = Number(env.WATCHDOG_USEC)
  if (!Number.isSafeInteger(usec) || usec <= 0) return null
  // A WATCHDOG_PID naming another process means the variables were inherited from a parent that systemd watches.
  if (env.WATCHDOG_PID != null && env.WATCHDOG_PID !== '' && Number(env.WATCHDOG_PID) !== process.pid) return null
  return Math.max(1, Math.floor(usec / 2000))
}
