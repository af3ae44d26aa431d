// The channel report: the traffic of a channel's items (or every channel's), by country, countries in order of traffic.
package dev.spoor.jobs;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.collect_list;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.map_from_entries;
import static org.apache.spark.sql.functions.struct;
import static org.apache.spark.sql.functions.sum;
import static org.apache.spark.sql.functions.when;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Definitions (docs/reports.md): the report covers the events with a channel ({@code ch}), or with {@code --channel X}
 * the events of channel X; an item is an event's {@code it}. For each country ({@code co}, "(unknown)" when GeoIP
 * found none), and for each item in each country: page views (action {@code page}), events, events by action, and
 * distinct people ({@code users}: canonical users, Identity.java). Countries are ordered by events, most first, then by name; the
 * items of a country likewise. Bots are left out unless {@code --with-bots}; a retried event counts once.
 */
public final class Channel {
  static final List<String> COLUMNS = List.of("id", "uid", "a", "it", "ch", "co", "bot");
  static final String UNKNOWN = "(unknown)";

  private Channel() {}

  public static void main(String[] args) {
    Jobs.main(args, Channel::run);
  }

  static void run(Map<String, String> o) throws Exception {
    Jobs.Window w = Jobs.Window.of(o);
    String channel = o.get("channel");

    SparkSession spark = Jobs.session("channel", o);
    try {
      Dataset<Row> rows = Jobs.rows(spark, w, o, COLUMNS);
      Dataset<Row> events = Jobs.unique(rows, w.withBots(), "uid", "a", "it", "ch", "co")
          .filter(channel == null ? col("ch").isNotNull().and(col("ch").notEqual("")) : col("ch").equalTo(channel))
          .withColumn("country", coalesce(col("co"), lit(UNKNOWN)));
      Jobs.People people = Jobs.people(spark, w.hbase(), o, events.cache());
      Dataset<Row> traffic = Jobs.withPeople(events, people.canonical()).cache();

      Dataset<Row> countries = measure(traffic, "country")
          .orderBy(col("events").desc(), col("country").asc());
      Dataset<Row> items = measure(traffic.filter(col("it").isNotNull().and(col("it").notEqual(""))), "country", "ch", "it")
          .withColumnRenamed("ch", "channel").withColumnRenamed("it", "item");
      // Items follow their country's rank, then their own traffic.
      Dataset<Row> rank = countries.select(col("country"), col("events").as("countryEvents"));
      items = items.join(rank, "country")
          .orderBy(col("countryEvents").desc(), col("country").asc(), col("events").desc(), col("channel").asc(), col("item").asc())
          .drop("countryEvents");
      Dataset<Row> channels = measure(traffic, "ch").withColumnRenamed("ch", "channel")
          .orderBy(col("events").desc(), col("channel").asc());

      ObjectMapper json = new ObjectMapper();
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("report", "channel");
      meta.put("from", w.from());
      meta.put("to", w.to());
      Map<String, Object> params = new LinkedHashMap<>();
      params.put("channel", channel);
      params.put("withBots", w.withBots());
      meta.put("params", params);
      meta.put("identityRead", people.identityRead());
      meta.put("computedAt", Instant.now().toString());
      Map<String, String> cells = new LinkedHashMap<>();
      cells.put("meta", json.writeValueAsString(meta));
      cells.put("channels", rowsJson(channels));
      cells.put("countries", rowsJson(countries));
      cells.put("items", rowsJson(items));
      ReportsTable.store(w.hbase(), ReportsTable.required(o, "reports-table"), ReportsTable.required(o, "row"), cells);
    } finally {
      spark.stop();
    }
  }

  /** Page views, events, distinct people ({@code users}) and events by action ({@code actions}), per value of the keys. */
  private static Dataset<Row> measure(Dataset<Row> traffic, String... keys) {
    Column[] by = Arrays.stream(keys).map(k -> col(k)).toArray(Column[]::new);
    Column[] byAction = Arrays.copyOf(by, by.length + 1);
    byAction[by.length] = col("a");
    Dataset<Row> actions = traffic.filter(col("a").isNotNull())
        .groupBy(byAction).agg(count(lit(1)).as("n"))
        .groupBy(by).agg(map_from_entries(collect_list(struct(col("a"), col("n")))).as("actions"));
    return traffic.groupBy(by)
        .agg(coalesce(sum(when(col("a").equalTo("page"), 1).otherwise(0)), lit(0L)).as("pageViews"),
            count(lit(1)).as("events"),
            countDistinct("person").as("users"))
        .join(actions, keys, "left");
  }

  private static String rowsJson(Dataset<Row> rows) {
    return "[" + String.join(",", rows.toJSON().collectAsList()) + "]";
  }
}
