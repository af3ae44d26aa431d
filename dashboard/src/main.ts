// The dashboard's browser code: draws the page the server's shell names (body[data-page]) from the JSON API.

import 'uplot/dist/uPlot.min.css'
import './style.css'
import { errorBox } from './api'
import { render } from './dom'
import { channels } from './pages/channels'
import { live } from './pages/live'
import { overview } from './pages/overview'
import { platforms } from './pages/platforms'
import { user } from './pages/user'

const PAGES: Record<string, () => Promise<void>> = { overview, platforms, channels, live, user }

function start (): void {
  const page = PAGES[document.body.dataset.page ?? '']
  if (page === undefined) return
  page().catch(err => render(errorBox(err)))
}

if (document.readyState === 'loading') document.addEventListener('DOMContentLoaded', start)
else start()
