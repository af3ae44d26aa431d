// The one reader of spoor's event rows: a time window of the by-time table as a DataFrame, read with one scan range per bucket.
package dev.spoor.jobs;

import java.io.IOException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import net.openhft.hashing.LongHashFunction;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Get;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Table;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.io.ImmutableBytesWritable;
import org.apache.hadoop.hbase.mapreduce.MultiTableInputFormat;
import org.apache.hadoop.hbase.mapreduce.TableMapReduceUtil;
import org.apache.hadoop.hbase.mapreduce.TableSplit;
import org.apache.hadoop.hbase.util.Bytes;
import org.apache.hadoop.mapreduce.InputSplit;
import org.apache.hadoop.mapreduce.JobContext;
import org.apache.hadoop.mapreduce.RecordReader;
import org.apache.hadoop.mapreduce.TaskAttemptContext;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructField;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Reads events of the by-time table (docs/hbase-schema.md) whose server time is in [fromMs, toMs).
 *
 * <p>The rowkey is {@code bucket(1) ‖ Long.MAX_VALUE − ts_ms (8, big-endian) ‖ uid(16) ‖ event id(8)}, so the window
 * is one contiguous key range in each of the N buckets: N scans, never a full-table scan, and one Spark task per
 * bucket ({@link OneSplitPerScan}). The hbase-spark connector is not used: its pushed-down filters fail with
 * NoSuchMethodError on Spark 3.5.
 */
public final class SpoorRows {
  private static final Logger LOG = LoggerFactory.getLogger(SpoorRows.class);
  /** The family of every event cell, as native/src/schema.rs defines it (test/hbase-schema.test.ts checks). */
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
   * MultiTableInputFormat with one split per scan instead of one per region the scan touches: a scan's rows, all of
   * one bucket, are read by one task, across region boundaries. The bucket is a hash of the event id, so every copy of
   * a retried event is in the same partition of the window, and Jobs.unique removes copies without a shuffle. On a
   * cluster a window is read by at most N tasks at once (hbase.salt_buckets).
   */
  public static final class OneSplitPerScan extends MultiTableInputFormat {
    private static final Logger LOG = LoggerFactory.getLogger(OneSplitPerScan.class);

    @Override
    public RecordReader<ImmutableBytesWritable, Result> createRecordReader(InputSplit split, TaskAttemptContext context) throws IOException, InterruptedException {
      TableSplit bucket = (TableSplit) split;
      LOG.info("reading bucket {} of {}", bucket.getStartRow().length == 0 ? 0 : bucket.getStartRow()[0] & 0xff, bucket.getTable());
      return super.createRecordReader(split, context);
    }

    @Override
    public List<InputSplit> getSplits(JobContext context) throws IOException {
      Map<String, TableSplit> byScan = new LinkedHashMap<>();
      for (InputSplit split : super.getSplits(context)) {
        TableSplit region = (TableSplit) split;
        TableSplit first = byScan.get(region.getScanAsString());
        Scan scan = region.getScan();
        // The scan's own range: the record reader's scanner crosses the regions of the bucket by itself.
        byScan.put(region.getScanAsString(), new TableSplit(region.getTable(), scan, scan.getStartRow(), scan.getStopRow(),
            first == null ? region.getRegionLocation() : first.getRegionLocation(),
            region.getLength() + (first == null ? 0 : first.getLength())));
      }
      return new ArrayList<>(byScan.values());
    }
  }

  /**
   * The window as a DataFrame, one partition per bucket: {@code ts} (long, ms) and one string column per qualifier,
   * null where the event has no such cell. Every stored row is one row here, so a retried event (same {@code id})
   * appears once per copy, always in the same partition.
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

    LOG.info("reading the window of {}: {} scans, [{}, {})", table, buckets, Instant.ofEpochMilli(fromMs), Instant.ofEpochMilli(toMs));
    JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .newAPIHadoopRDD(conf, OneSplitPerScan.class, ImmutableBytesWritable.class, Result.class)
        .map(pair -> toRow(pair._2(), names));
    return spark.createDataFrame(rows, schema);
  }

  /** The family of the identity table's links, as native/src/schema.rs defines it (test/hbase-schema.test.ts checks). */
  static final byte[] LINK_FAMILY = Bytes.toBytes("l");

  /**
   * Every link of the identity table (docs/identity.md), read into the driver one region at a time: {@code a} and
   * {@code b} are ids written {@code t:value}, {@code ts} when they were last seen together. The table is keyed by id,
   * not time, so this is a full scan; it holds one row per id, far fewer than events.
   */
  public static Iterator<Row> identityLinks(SparkSession spark, Configuration hbase, String table) throws IOException {
    Scan scan = new Scan().addFamily(LINK_FAMILY).setCaching(1000).setCacheBlocks(false);
    scan.setAttribute(Scan.SCAN_ATTRIBUTES_TABLE_NAME, Bytes.toBytes(table));
    Configuration conf = new Configuration(hbase);
    conf.setStrings(MultiTableInputFormat.SCANS, TableMapReduceUtil.convertScanToString(scan));
    return JavaSparkContext.fromSparkContext(spark.sparkContext())
        .newAPIHadoopRDD(conf, MultiTableInputFormat.class, ImmutableBytesWritable.class, Result.class)
        .flatMap(pair -> {
          // The row key is salt(1) ‖ t:value.
          byte[] row = pair._2().getRow();
          String a = Bytes.toString(row, 1, row.length - 1);
          List<Row> out = new ArrayList<>();
          for (Cell cell : pair._2().rawCells()) {
            out.add(RowFactory.create(a, Bytes.toString(cell.getQualifierArray(), cell.getQualifierOffset(), cell.getQualifierLength()), cell.getTimestamp()));
          }
          return out.iterator();
        })
        .toLocalIterator();
  }

  /** The identity table's row key of an id {@code t:value}: the salt byte, XXH3-64 of the id mod N, then the id. */
  public static byte[] identityRow(String id, int buckets) {
    byte[] text = Bytes.toBytes(id);
    long hash = LongHashFunction.xx3().hashBytes(text);
    return Bytes.add(new byte[] {(byte) Long.remainderUnsigned(hash, buckets)}, text);
  }

  /** Gets per round trip when reading the identity table by id. */
  static final int GET_BATCH = 1000;

  /**
   * The links of {@code ids} and of every id linked to them through walkable ids, read with batched gets, breadth
   * first: for these ids' groups, the same links as {@link #identityLinks}, so Identity.canonicalUsers gives them the
   * same people. Cheaper than the whole table when the window touched few ids.
   */
  public static List<Row> identityLinksOf(Configuration hbase, String table, int buckets, List<String> ids) throws IOException {
    Set<String> seen = new HashSet<>(ids);
    List<String> frontier = new ArrayList<>(seen);
    List<Row> links = new ArrayList<>();
    try (Connection connection = ConnectionFactory.createConnection(hbase); Table t = connection.getTable(TableName.valueOf(table))) {
      while (!frontier.isEmpty()) {
        List<String> next = new ArrayList<>();
        for (int i = 0; i < frontier.size(); i += GET_BATCH) {
          List<Get> gets = new ArrayList<>();
          for (String id : frontier.subList(i, Math.min(i + GET_BATCH, frontier.size()))) gets.add(new Get(identityRow(id, buckets)).addFamily(LINK_FAMILY));
          for (Result r : t.get(gets)) {
            if (r.isEmpty()) continue;
            String a = Bytes.toString(r.getRow(), 1, r.getRow().length - 1);
            for (Cell cell : r.rawCells()) {
              String b = Bytes.toString(cell.getQualifierArray(), cell.getQualifierOffset(), cell.getQualifierLength());
              links.add(RowFactory.create(a, b, cell.getTimestamp()));
              if (Identity.walkable(b) && seen.add(b)) next.add(b);
            }
          }
        }
        frontier = next;
      }
    }
    return links;
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
