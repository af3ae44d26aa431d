// Heartbeats: a ping every few seconds while the page is visible, with the whole seconds it has been visible so far.

export function heartbeat (seconds: number, ping: (visibleSeconds: number) => void): void {
  let shown = 0
  let since = 0
  let timer: ReturnType<typeof setInterval> | undefined
  const update = (): void => {
    if (since > 0) shown += Date.now() - since
    since = 0
    clearInterval(timer)
    if (document.visibilityState === 'visible') {
      since = Date.now()
      timer = setInterval(() => ping(Math.floor((shown + Date.now() - since) / 1000)), seconds * 1000)
    }
  }
  document.addEventListener('visibilitychange', update)
  update()
}
