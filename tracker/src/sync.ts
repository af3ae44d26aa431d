// The collector's sync page, loaded by the tracker in a hidden iframe: it keeps an id in the
// collector origin's localStorage and posts it to the parent page, when the parent's origin is allowed.

import { hex, isId } from './random'

const origins = SPOOR_ORIGINS
let parent = ''
try {
  const ancestors = location.ancestorOrigins
  parent = ancestors && ancestors.length > 0 ? ancestors[0] : new URL(document.referrer).origin
} catch {}

// Without ["*"], an unknown parent (no referrer and no ancestorOrigins, as in Firefox under no-referrer) gets nothing.
const any = Array.isArray(origins) && origins.indexOf('*') >= 0
if (any || (parent !== '' && Array.isArray(origins) && origins.indexOf(parent) >= 0)) {
  try {
    let id = localStorage.getItem('spoor_sto')
    if (!isId(id)) {
      id = hex(16)
      localStorage.setItem('spoor_sto', id)
    }
    window.parent.postMessage({ spoor: 'sto', id }, parent || '*')
  } catch {}
}
