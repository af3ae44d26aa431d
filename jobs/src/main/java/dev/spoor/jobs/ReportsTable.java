// Writes a finished report as one row of the reports table, all of its cells in one Put, so a failed job leaves no partial row.
package dev.spoor.jobs;

import java.io.IOException;
import java.util.HashMap;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Put;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.util.Bytes;

/**
 * The reports table (docs/reports.md): family {@code r}, one row per report, window and parameters, one JSON cell per
 * section. The row key is made by the CLI (daemon/reports/reports.ts), which also reads the rows back; jobs only write.
 */
public final class ReportsTable {
  /** As native/src/schema.rs defines it (test/hbase-schema.test.ts checks). */
  static final byte[] FAMILY = Bytes.toBytes("r");

  private ReportsTable() {}

  /** A single-row Put is atomic in HBase: readers see all of these cells or none. */
  public static void store(Configuration hbase, String table, String row, Map<String, String> cells) throws IOException {
    Put put = new Put(Bytes.toBytes(row));
    for (Map.Entry<String, String> cell : cells.entrySet()) put.addColumn(FAMILY, Bytes.toBytes(cell.getKey()), Bytes.toBytes(cell.getValue()));
    try (Connection connection = ConnectionFactory.createConnection(hbase); Table t = connection.getTable(TableName.valueOf(table))) {
      t.put(put);
    }
  }

  /** {@code --name value} pairs and bare {@code --flag}s (value "true"); anything else is refused. */
  public static Map<String, String> options(String[] args) {
    Map<String, String> options = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      if (!args[i].startsWith("--")) throw new IllegalArgumentException("unexpected argument " + args[i]);
      String name = args[i].substring(2);
      boolean flag = i + 1 == args.length || args[i + 1].startsWith("--");
      options.put(name, flag ? "true" : args[++i]);
    }
    return options;
  }

  /** The option's value; a missing one stops the job with its name. */
  public static String required(Map<String, String> options, String name) {
    String value = options.get(name);
    if (value == null) throw new IllegalArgumentException("missing --" + name);
    return value;
  }
}
