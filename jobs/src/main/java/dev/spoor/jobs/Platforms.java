// The platforms report: the people active on each platform in a window, on every pair of platforms, and on all of them.
package dev.spoor.jobs;

import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.count;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.lit;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.SparkSession;

/**
 * Definitions (docs/reports.md): a person is a canonical user (Identity.java), so one person on the web under a
 * cookie and in an app under a login, linked by that login, counts once on each platform; a platform is an event's
 * {@code p}. Events without a platform, and bots' unless {@code --with-bots}, are left out; a retried event counts
 * once. {@code --platforms a,b} narrows the report to those platforms, and "all" then means all of them.
 */
public final class Platforms {
  static final List<String> COLUMNS = List.of("id", "uid", "p", "bot");

  private Platforms() {}

  public static void main(String[] args) {
    Jobs.main(args, Platforms::run);
  }

  static void run(Map<String, String> o) throws Exception {
    Jobs.Window w = Jobs.Window.of(o);
    List<String> wanted = o.containsKey("platforms") ? Arrays.asList(o.get("platforms").split(",")) : List.of();

    SparkSession spark = Jobs.session("platforms", o);
    try {
      Dataset<Row> rows = Jobs.rows(spark, w, o, COLUMNS);
      Dataset<Row> events = Jobs.unique(rows, w.withBots(), "uid", "p")
          .filter(col("p").isNotNull().and(col("p").notEqual("")));
      if (!wanted.isEmpty()) events = events.filter(col("p").isin(wanted.toArray()));
      Jobs.People people = Jobs.people(spark, w.hbase(), o, events.cache());
      Dataset<Row> active = Jobs.withPeople(events, people.canonical()).select("person", "p").distinct().cache();

      Map<String, Long> users = new HashMap<>();
      for (Row r : active.groupBy("p").agg(count(lit(1)).as("users")).collectAsList()) users.put(r.getString(0), r.getLong(1));
      List<String> platforms = new ArrayList<>(wanted.isEmpty() ? users.keySet() : wanted);
      // Most people first, then by name: the order the report lists platforms and pairs in.
      platforms.sort((a, b) -> {
        int byUsers = Long.compare(users.getOrDefault(b, 0L), users.getOrDefault(a, 0L));
        return byUsers != 0 ? byUsers : a.compareTo(b);
      });

      Map<String, Long> overlaps = new HashMap<>();
      Dataset<Row> x = active.toDF("person", "a");
      Dataset<Row> y = active.toDF("person", "b");
      for (Row r : x.join(y, "person").filter(col("a").lt(col("b"))).groupBy("a", "b").agg(count(lit(1)).as("users")).collectAsList()) {
        overlaps.put(r.getString(0) + "\u0000" + r.getString(1), r.getLong(2));
      }
      long onAll = platforms.isEmpty() ? 0 : active.groupBy("person").agg(countDistinct("p").as("n"))
          .filter(col("n").equalTo(platforms.size())).count();

      List<Map<String, Object>> perPlatform = new ArrayList<>();
      for (String p : platforms) perPlatform.add(entry("platform", p, "users", users.getOrDefault(p, 0L)));
      List<Map<String, Object>> pairs = new ArrayList<>();
      for (int i = 0; i < platforms.size(); i++) {
        for (int j = i + 1; j < platforms.size(); j++) {
          String a = platforms.get(i);
          String b = platforms.get(j);
          String key = a.compareTo(b) < 0 ? a + "\u0000" + b : b + "\u0000" + a;
          pairs.add(entry("a", a, "b", b, "users", overlaps.getOrDefault(key, 0L)));
        }
      }

      ObjectMapper json = new ObjectMapper();
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("report", "platforms");
      meta.put("from", w.from());
      meta.put("to", w.to());
      meta.put("params", Map.of("platforms", wanted, "withBots", w.withBots()));
      meta.put("identityRead", people.identityRead());
      meta.put("computedAt", Instant.now().toString());
      Map<String, String> cells = new LinkedHashMap<>();
      cells.put("meta", json.writeValueAsString(meta));
      cells.put("platforms", json.writeValueAsString(perPlatform));
      cells.put("pairs", json.writeValueAsString(pairs));
      cells.put("all", json.writeValueAsString(entry("platforms", platforms, "users", onAll)));
      ReportsTable.store(w.hbase(), ReportsTable.required(o, "reports-table"), ReportsTable.required(o, "row"), cells);
    } finally {
      spark.stop();
    }
  }

  private static Map<String, Object> entry(Object... keyValues) {
    Map<String, Object> m = new LinkedHashMap<>();
    for (int i = 0; i < keyValues.length; i += 2) m.put((String) keyValues[i], keyValues[i + 1]);
    return m;
  }
}
