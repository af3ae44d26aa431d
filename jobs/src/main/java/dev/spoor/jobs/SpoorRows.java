// The one reader of spoor's event rows: a time window of the by-time table as a DataFrame, read with one scan range per bucket.
package dev.spoor.jobs;

import java.io.IOException;
import java.util.ArrayList;
import java.util.List;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.io.ImmutableBytesWritable;
import org.apache.hadoop.hbase.mapreduce.MultiTableInputFormat;
import org.apache.hadoop.hbase.mapreduce.TableMapReduceUtil;
import org.apache.hadoop.hbase.util.Bytes;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;

/**
 * Reads events of the by-time table (docs/hbase-schema.md) whose server time is in [fromMs, toMs).
 *
 * <p>The rowkey is {@code bucket(1) ‖ Long.MAX_VALUE − ts_ms (8, big-endian) ‖ uid(16) ‖ event id(8)}, so the window
 * is one contiguous key range in each of the N buckets: N scans, never a full-table scan. MultiTableInputFormat makes
 * one split per region a range touches; the table is pre-split at the buckets, so about one Spark task per bucket.
 * The hbase-spark connector is not used: its pushed-down filters fail with NoSuchMethodError on Spark 3.5.
 */
public final class SpoorRows {
  /** The family of every event cell (daemon/record.ts). */
  static final byte[] FAMILY = Bytes.toBytes("e");

  private SpoorRows() {}

  /** The HBase client settings for a job: the quorum, and failures surfacing in seconds rather than minutes. */
  public static Configuration hbaseConf(String zkQuorum) {
    Configuration conf = HBaseConfiguration.create();
    int colon = zkQuorum.lastIndexOf(':');
    conf.set("hbase.zookeeper.quorum", colon < 0 ? zkQuorum : zkQuorum.substring(0, colon));
    if (colon >= 0) conf.set("hbase.zookeeper.property.clientPort", zkQuorum.substring(colon + 1));
    conf.setInt("hbase.client.retries.number", 3);
    conf.setInt("hbase.client.pause", 200);
    conf.setInt("hbase.client.operation.timeout", 60000);
    conf.setInt("hbase.client.scanner.timeout.period", 120000);
    conf.setInt("zookeeper.recovery.retry", 1);
    conf.setInt("zookeeper.session.timeout", 10000);
    return conf;
  }

  /** The first key of a bucket at an inverse timestamp. */
  static byte[] key(int bucket, long inverseTs) {
    return Bytes.add(new byte[] {(byte) bucket}, Bytes.toBytes(inverseTs));
  }

  /**
   * The window as a DataFrame: {@code ts} (long, ms) and one string column per qualifier, null where the event has
   * no such cell. Every stored row is one row here, so a retried event (same {@code id}) appears once per copy.
   */
  public static Dataset<Row> window(SparkSession spark, Configuration hbase, String table, int buckets,
                                    long fromMs, long toMs, List<String> qualifiers) throws IOException {
    List<String> scans = new ArrayList<>();
    for (int b = 0; b < buckets; b++) {
      // inv(ts) falls as ts rises: ts <= toMs − 1 starts at inv(toMs − 1); ts >= fromMs stops after inv(fromMs).
      // For fromMs = 0 the stop key wraps to 0x80…, which still sorts after every inv (keys compare as unsigned bytes).
      Scan scan = new Scan()
          .withStartRow(key(b, Long.MAX_VALUE - (toMs - 1)))
          .withStopRow(key(b, Long.MAX_VALUE - fromMs + 1))
          .setCaching(1000)
          .setCacheBlocks(false);
      for (String q : qualifiers) scan.addColumn(FAMILY, Bytes.toBytes(q));
      scan.setAttribute(Scan.SCAN_ATTRIBUTES_TABLE_NAME, Bytes.toBytes(table));
      scans.add(TableMapReduceUtil.convertScanToString(scan));
    }
    Configuration conf = new Configuration(hbase);
    conf.setStrings(MultiTableInputFormat.SCANS, scans.toArray(new String[0]));

    StructType schema = new StructType().add("ts", DataTypes.LongType, false);
    for (String q : qualifiers) schema = schema.add(new StructField(q, DataTypes.StringType, true, org.apache.spark.sql.types.Metadata.empty()));
    byte[][] names = qualifiers.stream().map(Bytes::toBytes).toArray(byte[][]::new);

    JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .newAPIHadoopRDD(conf, MultiTableInputFormat.class, ImmutableBytesWritable.class, Result.class)
        .map(pair -> toRow(pair._2(), names));
    return spark.createDataFrame(rows, schema);
  }

  /** The family of the identity table's links (daemon/hbase-schema.ts). */
  static final byte[] LINK_FAMILY = Bytes.toBytes("l");

  /**
   * Every link of the identity table (docs/identity.md): {@code a} and {@code b} are ids written {@code t:value},
   * {@code ts} when they were last seen together. The table is keyed by id, not time, so this is a full scan; it
   * holds one row per id, far fewer than events.
   */
  public static Dataset<Row> identityLinks(SparkSession spark, Configuration hbase, String table) throws IOException {
    Scan scan = new Scan().addFamily(LINK_FAMILY).setCaching(1000).setCacheBlocks(false);
    scan.setAttribute(Scan.SCAN_ATTRIBUTES_TABLE_NAME, Bytes.toBytes(table));
    Configuration conf = new Configuration(hbase);
    conf.setStrings(MultiTableInputFormat.SCANS, TableMapReduceUtil.convertScanToString(scan));
    StructType schema = new StructType().add("a", DataTypes.StringType, false).add("b", DataTypes.StringType, false).add("ts", DataTypes.LongType, false);
    JavaRDD<Row> links = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .newAPIHadoopRDD(conf, MultiTableInputFormat.class, ImmutableBytesWritable.class, Result.class)
        .flatMap(pair -> {
          // The row key is salt(1) ‖ t:value.
          byte[] row = pair._2().getRow();
          String a = Bytes.toString(row, 1, row.length - 1);
          List<Row> out = new ArrayList<>();
          for (org.apache.hadoop.hbase.Cell cell : pair._2().rawCells()) {
            out.add(RowFactory.create(a, Bytes.toString(cell.getQualifierArray(), cell.getQualifierOffset(), cell.getQualifierLength()), cell.getTimestamp()));
          }
          return out.iterator();
        });
    return spark.createDataFrame(links, schema);
  }

  private static Row toRow(Result result, byte[][] names) {
    Object[] values = new Object[names.length + 1];
    values[0] = Long.MAX_VALUE - Bytes.toLong(result.getRow(), 1);
    for (int i = 0; i < names.length; i++) {
      byte[] v = result.getValue(FAMILY, names[i]);
      values[i + 1] = v == null ? null : Bytes.toString(v);
    }
    return RowFactory.create(values);
  }
}
