// The storage id (sto): a hidden iframe of {collector}/sync.html posts back the id it keeps in the collector origin's localStorage.

import { isId } from './random'

/** Resolves with the id, or never when the sync page refuses this origin or storage is blocked there. */
export function syncId (collector: string): Promise<string> {
  return new Promise(resolve => {
    const origin = new URL(collector).origin
    const frame = document.createElement('iframe')
    const done = (): void => {
      removeEventListener('message', onMessage)
      frame.remove()
    }
    const onMessage = (e: MessageEvent): void => {
      const data = e.data
      if (e.origin !== origin || data == null || data.spoor !== 'sto' || !isId(data.id)) return
      done()
      resolve(data.id)
    }
    addEventListener('message', onMessage)
    frame.style.display = 'none'
    frame.src = collector + '/sync.html'
    ;(document.body || document.documentElement).appendChild(frame)
    // A refusing sync page stays silent; its iframe should not stay in the page.
    setTimeout(done, 10000)
  })
}
