// The `spoor --help` text: every command and option, in the one place they are described.

export const USAGE = `usage: spoor <command> [options]

commands:
  serve                      run the collector (HBase must be reachable)
  dev                        start a local HBase, create the schema and run the collector with the demo page
  hbase start|stop           start or stop the local single-node HBase (data in .spoor/hbase)
  hbase init [--ttl S]       create the event tables, pre-split; idempotent; --ttl overrides hbase.ttl_seconds
  hbase shell [-- ARGS]      open an HBase shell (list, describe, scan) on the local HBase
  rabbitmq start|stop        start or stop a local RabbitMQ on 127.0.0.1, on the port of recommend.amqp_url
                             (data and logs in .spoor/rabbitmq; Debian's rabbitmq-server)
  recommend consume          store the signals of recommend.queue in recommend.signals_table before acknowledging
                             them; invalid ones go to recommend.dead_letter_queue with their reason; runs until
                             SIGTERM (docs/recommendations.md)
  recommend publish          publish each line of stdin, a JSON signal {"user","item","kind","ts","id"}, to
                             recommend.exchange with publisher confirms; exits non-zero unless all are confirmed
  recommend train [--master URL]
                             train an ALS model (Spark, implicit feedback) on the stored signals and the tracked
                             item views of recommend.history_days, and write it as a new generation in
                             recommend.models_dir; prints its directory
  recommend serve            answer GET /recommend/USER, /similar/ITEM and /because/USER/ITEM on
                             recommend.serve_host:serve_port from the newest generation, folding each new signal
                             in as it arrives; runs until SIGTERM (docs/recommendations.md#serving)
  recommend eval --data FILE [--python PY] [--master URL] [--json]
                             train on a ratings file (MovieLens 100K's ml-100k.inter) split by time, and print
                             precision, MAP and nDCG at 10 for users trained in and folded in; with --python, a
                             Python with the implicit library, its ALS beside spoor's
  user UID [--limit N]       one user's events, newest first
  identity ID [--probabilistic]
                             the ids linked to ID (written t:value, e.g. l:alice or u:<uid>) and the
                             canonical user they resolve to; --probabilistic walks fingerprints too
  erase --user ID [--dry-run]
                             delete every row of one user from every table: the ids linked to ID (t:value,
                             or a plain uid), their events and identity rows, and other ids' links to them;
                             prints the counts; --dry-run counts without deleting; safe to run again
  range --from T --to T [--limit N]
                             events between two times (ISO 8601 or ms since the epoch), newest first
  report run NAME (--from T --to T | --day D) [params] [--with-bots] [--force] [--master URL]
                             compute a report over [from, to) with Spark (jobs/) and store it in
                             hbase.reports_table; a stored window is recomputed only with --force.
                             --day D is the UTC day D: yesterday, today or YYYY-MM-DD. --master runs
                             the job on a cluster instead of reports.master: spark://HOST:7077, or
                             yarn and others through reports.spark_submit.
                             Reports (docs/reports.md) and their params:
                               traffic     [--top N] [--platform P]
                                                               visitors, sessions, pages, sources, clients;
                                                               only platform P's events with --platform
                               platforms   [--platforms a,b]   people on each platform, each pair, all
                               channel     [--channel X]       a channel's items by country (default: all)
  report show NAME (--from T --to T | --day D) [params] [--with-bots] [--json | --csv]
                             print a stored report; needs no Spark
  demo-data --events N --days D [--seed S]
                             write N synthetic events (web sites and apps, logins, bots, retries, countries)
                             spread over the last D days, through the collector's encoder, sessions, buffer
                             (<data_dir>/demo-data) and flush, so that reports have something to show; waits
                             until HBase has acknowledged them (docs/reports.md#demo-data)
  dashboard [hash-password NAME]
                             serve the web dashboard on dashboard.host:dashboard.port (docs/dashboard.md);
                             hash-password prints a dashboard.users entry for the password on standard input
  buffer                     unflushed batches and dead letters in the buffer
  buffer replay              move the dead letters back into the running collector's buffer, once
                             their cause is fixed (through the admin listener)
  config check FILE          check a config file and exit non-zero with the problem

options:
  --config FILE              TOML config (default: $SPOOR_CONFIG, else /etc/spoor/spoor.toml if it exists,
                             else the built-in defaults; see docs/configuration.md)
  --json                     print events as JSON lines (identity, erase and report: one JSON object)
  --csv                      report show: one CSV table (section, key, counts)
  --hbase-dir DIR            local HBase directory (default .spoor/hbase)
  --rabbitmq-dir DIR         local RabbitMQ directory (default .spoor/rabbitmq)
`
