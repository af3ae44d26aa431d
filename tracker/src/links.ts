// Links: a click on a link to another host becomes a click event, a link to one of linkDomains
// carries the visitor id as _spid, and a page reached by such a link reads and hides it.

import { isId } from './random'

const PARAM = '_spid'

function anchor (e: Event): HTMLAnchorElement | null {
  const target = e.target as Element | null
  const a = target && target.closest ? target.closest('a[href]') : null
  return a instanceof HTMLAnchorElement && /^https?:$/.test(a.protocol) ? a : null
}

/**
 * One delegated listener per event type, in the capture phase so that it runs before a page's own
 * handlers can stop the event. mousedown decorates before the browser reads the href, auxclick
 * covers the middle button.
 */
export function watchLinks (domains: string[], vid: () => string | undefined, outbound: (href: string) => void): void {
  const decorate = (e: Event): void => {
    const a = anchor(e)
    const id = vid()
    if (a === null || id === undefined || a.hostname === location.hostname || domains.indexOf(a.hostname) < 0) return
    const url = new URL(a.href)
    if (url.searchParams.get(PARAM) === id) return
    url.searchParams.set(PARAM, id)
    a.href = url.href
  }
  const click = (e: MouseEvent): void => {
    const a = anchor(e)
    if (a !== null && a.hostname !== location.hostname && (e.type === 'click' || e.button === 1)) outbound(a.href)
    decorate(e)
  }
  document.addEventListener('mousedown', decorate, true)
  document.addEventListener('click', click, true)
  document.addEventListener('auxclick', click, true)
}

/** The visitor id of the linking site, when this page was reached through a decorated link; removes it from the address bar. */
export function takeLinkId (): string | undefined {
  try {
    const url = new URL(location.href)
    const id = url.searchParams.get(PARAM)
    if (id === null) return undefined
    url.searchParams.delete(PARAM)
    history.replaceState(history.state, '', url.href)
    return isId(id) ? id : undefined
  } catch {
    return undefined
  }
}
