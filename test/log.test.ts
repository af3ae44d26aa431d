// The rate limit that keeps an HBase outage from flooding the journal.

import t from 'tap'
import { RateLimit } from '../daemon/log'

t.test('one message per interval, counting the ones held back', async t => {
  const limit = new RateLimit(10000)
  t.equal(limit.take(0), 0, 'the first goes through')
  t.equal(limit.take(1), -1)
  t.equal(limit.take(9999), -1)
  t.equal(limit.pending, 2)
  t.equal(limit.take(10000), 2, 'the next one after the interval carries the count held back')
  t.equal(limit.take(10001), -1)
  limit.reset()
  t.equal(limit.take(10002), 0, 'after a reset the next goes through at once')
})
