// The reports' floor: the Spark job that reads a report's columns of a window through SpoorRows, as the reports do, and only counts them.
package dev.spoor.bench;

import dev.spoor.jobs.Jobs;
import dev.spoor.jobs.ReportsTable;
import dev.spoor.jobs.SpoorRows;
import java.util.Arrays;
import java.util.Map;
import org.apache.spark.sql.SparkSession;

/**
 * {@code --from --to --zk --time-table --buckets --columns a,b,c [--master M]}: prints {@code ROWS=n}, the window's
 * stored rows. What a report costs beyond this is its own work: removing copies, resolving people and its sections.
 */
public final class ScanFloor {
  private ScanFloor() {}

  public static void main(String[] args) {
    Jobs.main(args, ScanFloor::run);
  }

  static void run(Map<String, String> o) throws Exception {
    long from = Long.parseLong(ReportsTable.required(o, "from"));
    long to = Long.parseLong(ReportsTable.required(o, "to"));
    SparkSession spark = Jobs.session("scan floor", o);
    try {
      long rows = SpoorRows.window(spark, SpoorRows.hbaseConf(ReportsTable.required(o, "zk")), ReportsTable.required(o, "time-table"),
          Integer.parseInt(ReportsTable.required(o, "buckets")), from, to, Arrays.asList(ReportsTable.required(o, "columns").split(","))).count();
      System.out.println("ROWS=" + rows);
    } finally {
      spark.stop();
    }
  }
}
