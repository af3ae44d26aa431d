// What every report job shares: its main's one-line failure, its Spark session, and one row per event and person.
package dev.spoor.jobs;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.lit;

import java.io.IOException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import java.util.NoSuchElementException;
import java.util.Objects;
import org.apache.hadoop.conf.Configuration;
import org.apache.spark.SparkConf;
import org.apache.spark.api.java.function.MapPartitionsFunction;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Encoders;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

public final class Jobs {
  private static final Logger LOG = LoggerFactory.getLogger(Jobs.class);

  private Jobs() {}

  /** What every job is given: the window [from, to) in ms, whether bots count, and how to reach HBase. */
  public record Window(long from, long to, boolean withBots, Configuration hbase) {
    static Window of(Map<String, String> o) {
      long from = Long.parseLong(ReportsTable.required(o, "from"));
      long to = Long.parseLong(ReportsTable.required(o, "to"));
      if (from >= to) throw new IllegalArgumentException("--from must be before --to");
      return new Window(from, to, o.containsKey("with-bots"), SpoorRows.hbaseConf(ReportsTable.required(o, "zk")));
    }
  }

  /** The window's rows of the by-time table, with these columns (SpoorRows.window). */
  public static Dataset<Row> rows(SparkSession spark, Window w, Map<String, String> o, List<String> columns) throws IOException {
    return SpoorRows.window(spark, w.hbase(), ReportsTable.required(o, "time-table"),
        Integer.parseInt(ReportsTable.required(o, "buckets")), w.from(), w.to(), columns);
  }

  /** A job's body, given its {@code --name value} options. */
  public interface Body {
    void run(Map<String, String> options) throws Exception;
  }

  /**
   * Runs a job and exits: 0 once its row is stored; 1 with one line {@code spoor-job: reason} on stderr, which the CLI
   * quotes (Spark's own log has the stack).
   */
  public static void main(String[] args, Body body) {
    try {
      body.run(ReportsTable.options(args));
    } catch (Throwable err) {
      Throwable root = err;
      while (root.getCause() != null && root.getCause() != root) root = root.getCause();
      System.err.println("spoor-job: " + root.getClass().getSimpleName() + ": " + String.valueOf(root.getMessage()).split("\n")[0]);
      System.exit(1);
    }
    System.exit(0);
  }

  /**
   * The job's one Spark session. Its master: {@code --master} when given (the CLI always gives it), else the one
   * spark-submit set ({@code spark.master}), else {@code local[*]}.
   */
  public static SparkSession session(String name, Map<String, String> o) {
    SparkSession.Builder builder = SparkSession.builder().appName("spoor " + name);
    if (o.containsKey("master")) builder = builder.master(o.get("master"));
    else if (!new SparkConf().contains("spark.master")) builder = builder.master("local[*]");
    return builder
        .config("spark.ui.enabled", "false")
        // Spark's default of 200 tasks per shuffle is all overhead at a report's size; adaptive execution merges
        // small partitions further.
        .config("spark.sql.shuffle.partitions", "8")
        .config("spark.sql.session.timeZone", "UTC")
        .getOrCreate();
  }

  /**
   * One row per event {@code id}, the earliest copy kept (a retried event is stored once per delivery), with the
   * given columns; bots ({@code bot = 1}) are left out unless {@code withBots}. Every copy of an event is in the same
   * partition of {@code rows} (SpoorRows.window reads one bucket per partition, and the bucket is a hash of the event
   * id), so each partition is sorted by id and time on its own and keeps the first row of each id: no shuffle.
   */
  public static Dataset<Row> unique(Dataset<Row> rows, boolean withBots, String... columns) {
    List<String> kept = new ArrayList<>(List.of("id", "ts"));
    for (String c : columns) if (!kept.contains(c)) kept.add(c);
    Dataset<Row> sorted = rows
        .filter(withBots ? lit(true) : coalesce(col("bot"), lit("")).notEqual("1"))
        .select(kept.stream().map(c -> col(c)).toArray(Column[]::new))
        .sortWithinPartitions("id", "ts");
    return sorted.mapPartitions(new FirstOfEachId(), Encoders.row(sorted.schema()))
        .select(Arrays.stream(columns).map(c -> col(c)).toArray(Column[]::new));
  }

  /** Over rows sorted by id (column 0): the first row of each id. */
  static final class FirstOfEachId implements MapPartitionsFunction<Row, Row> {
    @Override
    public Iterator<Row> call(Iterator<Row> sorted) {
      return new Iterator<>() {
        private Row next = sorted.hasNext() ? sorted.next() : null;

        @Override
        public boolean hasNext() {
          return next != null;
        }

        @Override
        public Row next() {
          if (next == null) throw new NoSuchElementException();
          Row first = next;
          next = null;
          while (sorted.hasNext()) {
            Row row = sorted.next();
            if (!Objects.equals(row.getString(0), first.getString(0))) {
              next = row;
              break;
            }
          }
          return first;
        }
      };
    }
  }

  /** {@code rows} cached and computed now, so that what it was computed from can be unpersisted. */
  public static Dataset<Row> cached(Dataset<Row> rows) {
    Dataset<Row> cached = rows.cache();
    cached.count();
    return cached;
  }

  /** The canonical users of a window's uids, and how the identity table was read for them. */
  public record People(Dataset<Row> canonical, String identityRead) {}

  /**
   * The canonical user of each uid of {@code events} (Identity.java), from the identity table read whole or by the
   * ids the window touched, whichever is smaller: the table's size is not known without reading it, so by id when
   * the window touched at most {@code --identity-ids-max} distinct uids (reports.identity_ids_max; 0 always reads
   * it whole). Both give the same people.
   */
  public static People people(SparkSession spark, Configuration hbase, Map<String, String> o, Dataset<Row> events) throws IOException {
    String table = ReportsTable.required(o, "identity-table");
    int max = Integer.parseInt(o.getOrDefault("identity-ids-max", "0"));
    List<String> ids = max == 0 ? List.of()
        : events.select(concat(lit("u:"), col("uid"))).distinct().limit(max + 1).as(Encoders.STRING()).collectAsList();
    boolean whole = max == 0 || ids.size() > max;
    Map<String, String> canonical = whole
        ? Identity.canonicalUsers(SpoorRows.identityLinks(spark, hbase, table))
        : Identity.canonicalUsers(SpoorRows.identityLinksOf(hbase, table, Integer.parseInt(ReportsTable.required(o, "buckets")), ids).iterator());
    LOG.info("identity table {} read {}: {} uids have a canonical user", table, whole ? "whole" : "by id", canonical.size());
    List<Row> rows = new ArrayList<>(canonical.size());
    for (Map.Entry<String, String> e : canonical.entrySet()) rows.add(RowFactory.create(e.getKey(), e.getValue()));
    return new People(spark.createDataFrame(rows, CANONICAL), whole ? "whole" : "by id (" + ids.size() + " ids)");
  }

  /** A uid, written {@code u:uid}, and its canonical user. */
  static final StructType CANONICAL = new StructType().add("id", DataTypes.StringType, false).add("person", DataTypes.StringType, false);

  /**
   * Adds {@code person}: the canonical user of the event's uid (Identity.java), or {@code u:uid} itself when the
   * uid has no links. {@code events} needs a {@code uid} column.
   */
  public static Dataset<Row> withPeople(Dataset<Row> events, Dataset<Row> people) {
    Dataset<Row> canonical = people.select(col("id").as("linkedId"), col("person").as("canonical"));
    return events
        .withColumn("device", concat(lit("u:"), col("uid")))
        .join(canonical, col("device").equalTo(col("linkedId")), "left")
        .withColumn("person", coalesce(col("canonical"), col("device")))
        .drop("device", "linkedId", "canonical");
  }
}
