// A limit that `spoor config check` accepts is never refused by the native module: every config key that feeds an
// integer option of the encoder or the sessions lies within the range native/src/options.rs defines for it.

import t from 'tap'
import { defaults, fromToml, keyDefs, type Config } from '../daemon/config'
import { Encoder, encoderOptions, OPTION_RANGES, Sessions, sessionOptions } from '../daemon/native'

/** The config key behind each integer option, and what the key's unit is multiplied by to give the option's. */
const FEEDS: Record<string, { key: string, scale: number }> = {
  saltBuckets: { key: 'hbase.salt_buckets', scale: 1 },
  maxQueryBytes: { key: 'limits.max_query_bytes', scale: 1 },
  maxFields: { key: 'limits.max_fields', scale: 1 },
  maxValueBytes: { key: 'limits.max_value_bytes', scale: 1 },
  maxDataBytes: { key: 'limits.max_data_bytes', scale: 1 },
  maxEventsPerPost: { key: 'limits.max_events_per_post', scale: 1 },
  maxJsonDepth: { key: 'limits.max_json_depth', scale: 1 },
  batchMaxBytes: { key: 'batch.max_bytes', scale: 1 },
  timeoutMs: { key: 'session.timeout_minutes', scale: 60_000 },
  maxUsers: { key: 'session.max_users', scale: 1 }
}

function keyRange (key: string): { min: number, max: number } {
  const kind = keyDefs.find(d => d.key === key)?.kind
  if (kind?.type !== 'int') throw new Error(`${key} is not an integer key`)
  return kind
}

/** A config from one key's TOML value, checked as `spoor config check` checks a file. */
function configWith (key: string, value: number): Config {
  const [section, name] = key.split('.')
  return fromToml({ [section]: { [name]: value } }, 'test.toml', `[${section}]\n${name} = ${value}\n`)
}

t.test('the native module gives a range for every integer option it takes from the config, and only those', async t => {
  const c = defaults()
  const numeric = Object.entries({ ...encoderOptions(c), ...sessionOptions(c) }).filter(([, v]) => typeof v === 'number').map(([k]) => k)
  t.same([...OPTION_RANGES.keys()].sort(), numeric.sort())
  t.same(Object.keys(FEEDS).sort(), numeric.sort(), 'each has its config key here')
})

t.test('each config key lies within the native range of the option it feeds', async t => {
  for (const [option, { key, scale }] of Object.entries(FEEDS)) {
    const native = OPTION_RANGES.get(option)
    const own = keyRange(key)
    t.ok(native !== undefined && own.min * scale >= native.min && own.max * scale <= native.max,
      `${key} ${own.min}–${own.max} (×${scale}) within ${option} ${native?.min}–${native?.max}`)
  }
  t.same(keyRange('hbase.salt_buckets'), { type: 'int', ...OPTION_RANGES.get('saltBuckets') }, 'the salt buckets are the native range itself')
  t.same(keyRange('limits.max_json_depth'), { type: 'int', ...OPTION_RANGES.get('maxJsonDepth') }, 'so is the JSON depth')
})

t.test('an encoder and sessions built from each key at both ends of its range are accepted', async t => {
  for (const { key } of Object.values(FEEDS)) {
    const { min, max } = keyRange(key)
    for (const value of [min, max]) {
      const config = configWith(key, value)
      t.doesNotThrow(() => new Encoder({ ...encoderOptions(config), geoipDatabases: [] }), `Encoder with ${key} = ${value}`)
      t.doesNotThrow(() => new Sessions(sessionOptions(config)), `Sessions with ${key} = ${value}`)
    }
    t.throws(() => configWith(key, max + 1), { code: 'SPOOR_E_CONFIG_INVALID' }, `config check refuses ${key} = ${max + 1}`)
  }
})
