// The traffic report: visitors, sessions, page views and events over a window, by hour or day, with top pages, referrers, countries and clients.
package dev.spoor.jobs;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.expr;
import static org.apache.spark.sql.functions.floor;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.regexp_replace;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Definitions (docs/reports.md): an event is one distinct {@code id} (a retried event's copies count once, the
 * earliest copy kept); a visitor is one canonical user, the uid resolved through the identity table (Identity.java), or
 * the uid itself when it has no links; a session is one distinct {@code sid}; a page view is an
 * event whose action is {@code page}; a bounce is a session of exactly one event in the window; a session's length
 * is its last event's time minus its first's. Bots ({@code bot = 1}) are left out unless {@code --with-bots}. With
 * {@code --platform P} only the events whose platform ({@code p}) is P count; a visitor is still the canonical user,
 * so a person on P under several uids counts once.
 */
public final class Traffic {
  static final List<String> COLUMNS = List.of("id", "uid", "p", "sid", "url", "ref", "a", "co", "br", "os", "dt", "bot");
  static final long HOUR = 3_600_000L;
  static final long DAY = 24 * HOUR;
  static final String UNKNOWN = "(unknown)";

  private Traffic() {}

  public static void main(String[] args) {
    Jobs.main(args, Traffic::run);
  }

  static void run(Map<String, String> o) throws Exception {
    Jobs.Window w = Jobs.Window.of(o);
    int top = Integer.parseInt(o.getOrDefault("top", "10"));
    String platform = o.get("platform");
    long step = w.to() - w.from() < 2 * DAY ? HOUR : DAY;

    SparkSession spark = Jobs.session("traffic", o);
    try {
      Dataset<Row> rows = Jobs.rows(spark, w, o, COLUMNS);
      Dataset<Row> unique = Jobs.unique(rows, w.withBots(), "ts", "uid", "p", "sid", "url", "ref", "a", "co", "br", "os", "dt");
      if (platform != null) unique = unique.filter(col("p").equalTo(platform));
      unique = unique.cache();
      Jobs.People people = Jobs.people(spark, w.hbase(), o, unique);
      Dataset<Row> events = Jobs.cached(Jobs.withPeople(unique, people.canonical()).withColumnRenamed("person", "visitor"));
      unique.unpersist();

      Dataset<Row> sessions = events.filter(col("sid").isNotNull())
          .groupBy("sid")
          .agg(count(lit(1)).as("n"), max("ts").minus(min("ts")).as("ms"))
          .agg(count(lit(1)).as("sessions"),
              coalesce(sum(when(col("n").equalTo(1), 1).otherwise(0)), lit(0L)).as("bounces"),
              coalesce(sum("ms"), lit(0L)).as("sessionMs"));
      Dataset<Row> totals = events
          .agg(countDistinct("visitor").as("visitors"), pageViews().as("pageViews"), count(lit(1)).as("events"))
          .crossJoin(sessions)
          .select("visitors", "sessions", "pageViews", "events", "bounces", "sessionMs");

      Dataset<Row> series = events
          .withColumn("start", floor(col("ts").divide(step)).multiply(step))
          .groupBy("start")
          .agg(countDistinct("visitor").as("visitors"), countDistinct("sid").as("sessions"),
              pageViews().as("pageViews"), count(lit(1)).as("events"))
          .orderBy("start");

      Map<String, String> cells = new LinkedHashMap<>();
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("report", "traffic");
      meta.put("from", w.from());
      meta.put("to", w.to());
      Map<String, Object> params = new LinkedHashMap<>();
      params.put("top", top);
      params.put("platform", platform);
      params.put("withBots", w.withBots());
      meta.put("params", params);
      meta.put("step", step == HOUR ? "hour" : "day");
      meta.put("visitorsAre", "canonical user");
      meta.put("identityRead", people.identityRead());
      meta.put("computedAt", Instant.now().toString());
      cells.put("meta", new ObjectMapper().writeValueAsString(meta));
      cells.put("totals", totals.toJSON().first());
      cells.put("series", json(series));
      cells.put("pages", json(top(events.filter(col("a").equalTo("page")), regexp_replace(col("url"), "[?#].*$", ""), top)));
      cells.put("referrers", json(top(events, expr("parse_url(ref, 'HOST')"), top)));
      cells.put("countries", json(top(events, coalesce(col("co"), lit(UNKNOWN)), top)));
      cells.put("browsers", json(top(events, coalesce(col("br"), lit(UNKNOWN)), top)));
      cells.put("oses", json(top(events, coalesce(col("os"), lit(UNKNOWN)), top)));
      cells.put("devices", json(top(events, coalesce(col("dt"), lit(UNKNOWN)), top)));
      ReportsTable.store(w.hbase(), ReportsTable.required(o, "reports-table"), ReportsTable.required(o, "row"), cells);
    } finally {
      spark.stop();
    }
  }

  /** Events whose action is {@code page}; 0, not null, over no events. */
  private static Column pageViews() {
    return coalesce(sum(when(col("a").equalTo("page"), 1).otherwise(0)), lit(0L));
  }

  /** The n values of a key with the most events, ties by key; rows with no key are not listed. */
  private static Dataset<Row> top(Dataset<Row> events, Column key, int n) {
    return events.withColumn("key", key)
        .filter(col("key").isNotNull().and(col("key").notEqual("")))
        .groupBy("key")
        .agg(countDistinct("visitor").as("visitors"), count(lit(1)).as("events"))
        .orderBy(col("events").desc(), col("key").asc())
        .limit(n);
  }

  private static String json(Dataset<Row> rows) {
    return "[" + String.join(",", rows.toJSON().collectAsList()) + "]";
  }
}
