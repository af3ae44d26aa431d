// The recommendations' training job: ALS with implicit feedback over the stored signals and the tracked item views, written as a model generation.
package dev.spoor.jobs;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.concat;
import static org.apache.spark.sql.functions.countDistinct;
import static org.apache.spark.sql.functions.desc;
import static org.apache.spark.sql.functions.lit;
import static org.apache.spark.sql.functions.max;
import static org.apache.spark.sql.functions.row_number;
import static org.apache.spark.sql.functions.sum;

import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.Cell;
import org.apache.hadoop.hbase.client.Result;
import org.apache.hadoop.hbase.client.Scan;
import org.apache.hadoop.hbase.io.ImmutableBytesWritable;
import org.apache.hadoop.hbase.mapreduce.MultiTableInputFormat;
import org.apache.hadoop.hbase.mapreduce.TableMapReduceUtil;
import org.apache.hadoop.hbase.util.Bytes;
import org.apache.spark.api.java.JavaRDD;
import org.apache.spark.api.java.JavaSparkContext;
import org.apache.spark.ml.recommendation.ALS;
import org.apache.spark.ml.recommendation.ALSModel;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;
import org.apache.spark.sql.RowFactory;
import org.apache.spark.sql.SparkSession;
import org.apache.spark.sql.expressions.Window;
import org.apache.spark.sql.types.DataTypes;
import org.apache.spark.sql.types.StructType;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * Definitions (docs/recommendations.md#training): a signal of kind K counts its weight ({@code --weights K=W,…});
 * a tracked event inside the history window that names an item ({@code it}) counts {@code --track-weight}, a weak
 * view, once per distinct event. Signals belong to the login {@code l:user}; tracked events to the canonical user of
 * their uid (Identity.java), so a visitor who logged in once brings their anonymous history with them. Each user's
 * weights per item are summed into one preference strength, which Spark's implicit ALS (Hu, Koren and Volinsky) turns
 * into a confidence of 1 + alpha × strength.
 */
public final class Train {
  private static final Logger LOG = LoggerFactory.getLogger(Train.class);

  /** As native/src/schema.rs defines the signals table's family and daemon/hbase/signals.ts its qualifiers (test/hbase-schema.test.ts checks). */
  static final byte[] SIGNAL_FAMILY = Bytes.toBytes("s");
  static final byte[] USER = Bytes.toBytes("u");
  static final byte[] ITEM = Bytes.toBytes("it");
  static final byte[] KIND = Bytes.toBytes("k");

  static final StructType SIGNALS = new StructType()
      .add("user", DataTypes.StringType, false).add("item", DataTypes.StringType, false)
      .add("kind", DataTypes.StringType, false).add("ts", DataTypes.LongType, false);

  static final StructType STRENGTHS = new StructType()
      .add("person", DataTypes.StringType, false).add("item", DataTypes.StringType, false).add("w", DataTypes.DoubleType, false);

  /** The version of the generation's files, which the server checks before it loads one. */
  static final int FORMAT = 2;

  /** The uid of the events recorded anonymously, which training leaves out. */
  static final String ANONYMOUS_UID = "00000000000000000000000000000000";

  /** Items kept in each list of popular items. */
  static final int POPULAR_TOP = 100;

  private Train() {}

  public static void main(String[] args) {
    Jobs.main(args, Train::run);
  }

  static void run(Map<String, String> o) throws Exception {
    // The history window [from, to); an empty one (recommend.track_weight 0) reads no event.
    long from = Long.parseLong(ReportsTable.required(o, "from"));
    long to = Long.parseLong(ReportsTable.required(o, "to"));
    Jobs.Window history = new Jobs.Window(from, Math.max(to, from + 1), false, SpoorRows.hbaseConf(ReportsTable.required(o, "zk")));
    boolean withHistory = from < to;
    Map<String, Double> weights = weights(ReportsTable.required(o, "weights"));
    double trackWeight = Double.parseDouble(ReportsTable.required(o, "track-weight"));
    int rank = Integer.parseInt(ReportsTable.required(o, "rank"));
    int iterations = Integer.parseInt(ReportsTable.required(o, "iterations"));
    double reg = Double.parseDouble(ReportsTable.required(o, "reg"));
    double alpha = Double.parseDouble(ReportsTable.required(o, "alpha"));
    long seed = Long.parseLong(o.getOrDefault("seed", "1"));
    Path models = Path.of(ReportsTable.required(o, "models-dir"));

    SparkSession spark = Jobs.session("train", o);
    // ALS's lineage grows with each iteration; unless it is checkpointed, reading it back overflows the stack after
    // a dozen or so. A local master checkpoints into a temporary directory; a cluster needs a shared one.
    Path localCheckpoints = null;
    String checkpoints = o.getOrDefault("checkpoint-dir", "");
    if (checkpoints.isEmpty() && spark.sparkContext().isLocal()) {
      localCheckpoints = Files.createTempDirectory("spoor-train-checkpoints-");
      checkpoints = localCheckpoints.toString();
    }
    if (!checkpoints.isEmpty()) spark.sparkContext().setCheckpointDir(checkpoints);
    else LOG.warn("no --checkpoint-dir on a cluster: ALS does not checkpoint, and many iterations may overflow the stack");
    try {
      // --ratings FILE (spoor recommend eval): preferences given whole, as CSV lines person,item,strength, instead of
      // the stored signals and the tracked history.
      String ratingsFile = o.get("ratings");
      Dataset<Row> signals = ratingsFile != null
          ? spark.createDataFrame(List.of(), SIGNALS)
          : Jobs.cached(signals(spark, history.hbase(), ReportsTable.required(o, "signals-table"))
              .filter(col("kind").isin(weights.keySet().toArray())));
      List<Row> weightRows = new ArrayList<>();
      for (Map.Entry<String, Double> w : weights.entrySet()) weightRows.add(RowFactory.create(w.getKey(), w.getValue()));
      Dataset<Row> kindWeights = spark.createDataFrame(weightRows, new StructType().add("kind", DataTypes.StringType, false).add("w", DataTypes.DoubleType, false));
      Dataset<Row> fromSignals = ratingsFile != null
          ? spark.read().schema(STRENGTHS).csv(ratingsFile)
          : signals.join(kindWeights, "kind").select(concat(lit(Identity.LOGIN), col("user")).as("person"), col("item"), col("w"));
      if (ratingsFile != null) withHistory = false;

      Dataset<Row> fromEvents = spark.createDataFrame(List.of(), STRENGTHS);
      List<Map<String, Object>> popular = new ArrayList<>();
      long eventCount = 0;
      String identityRead = "none";
      if (withHistory) {
        Dataset<Row> tracked = Jobs.cached(Jobs.unique(Jobs.rows(spark, history, o, List.of("id", "uid", "it", "ch", "co", "bot")), false, "uid", "it", "ch", "co")
            .filter(col("it").isNotNull().and(col("it").notEqual("")))
            // Events recorded anonymously (DNT, GPC, a refused cookie: docs/privacy.md) belong to nobody.
            .filter(col("uid").notEqual(ANONYMOUS_UID)));
        Jobs.People people = Jobs.people(spark, history.hbase(), o, tracked);
        Dataset<Row> viewed = Jobs.cached(Jobs.withPeople(tracked, people.canonical())
            .select(col("person"), col("it").as("item"), coalesce(col("ch"), lit("")).as("channel"), coalesce(col("co"), lit("")).as("country")));
        fromEvents = viewed.select(col("person"), col("item"), lit(trackWeight).as("w"));
        popular.addAll(popular(viewed.filter(col("channel").notEqual("").and(col("country").notEqual(""))), "channel", "country"));
        popular.addAll(popular(viewed.filter(col("channel").notEqual("")), "channel"));
        popular.addAll(popular(viewed.filter(col("country").notEqual("")), "country"));
        eventCount = tracked.count();
        identityRead = people.identityRead();
      }

      Dataset<Row> strengths = Jobs.cached(fromSignals.unionByName(fromEvents)
          .groupBy("person", "item").agg(sum("w").as("strength"))
          .filter(col("strength").gt(0)));
      List<String> users = strengths.select("person").distinct().orderBy("person").as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
      List<String> items = strengths.select("item").distinct().orderBy("item").as(org.apache.spark.sql.Encoders.STRING()).collectAsList();
      if (users.isEmpty()) throw new IllegalStateException("there is nothing to train on: no signal of a weighted kind, and no tracked event naming an item in the history window");
      Dataset<Row> userIds = indexed(spark, users, "person", "u");
      Dataset<Row> itemIds = indexed(spark, items, "item", "i");
      Dataset<Row> ratings = strengths.join(userIds, "person").join(itemIds, "item").select("u", "i", "strength");

      popular.addAll(popular(strengths, new String[0]));

      ALSModel model = new ALS()
          .setImplicitPrefs(true).setRank(rank).setMaxIter(iterations).setRegParam(reg).setAlpha(alpha).setSeed(seed)
          .setCheckpointInterval(CHECKPOINT_INTERVAL)
          .setUserCol("u").setItemCol("i").setRatingCol("strength")
          .fit(ratings);

      Row last = signals.agg(max("ts")).first();
      long signalCount = signals.count();
      Map<String, Object> meta = new LinkedHashMap<>();
      meta.put("format", FORMAT);
      meta.put("trainedAt", Instant.now().toString());
      meta.put("rank", rank);
      meta.put("iterations", iterations);
      meta.put("regParam", reg);
      meta.put("alpha", alpha);
      meta.put("weights", weights);
      meta.put("trackWeight", trackWeight);
      meta.put("history", Map.of("from", from, "to", to));
      meta.put("users", users.size());
      meta.put("items", items.size());
      meta.put("signals", signalCount);
      meta.put("trackedEvents", eventCount);
      meta.put("lastSignalTs", last.isNullAt(0) ? null : last.getLong(0));
      meta.put("identityRead", identityRead);
      meta.put("popularTop", POPULAR_TOP);
      Path written = write(models, meta, users, factors(model.userFactors(), users.size(), rank), items, factors(model.itemFactors(), items.size(), rank),
          strengths(ratings), popular);
      LOG.info("model generation {}: {} users, {} items, rank {}", written, users.size(), items.size(), rank);
    } finally {
      spark.stop();
      if (localCheckpoints != null) deleteTree(localCheckpoints);
    }
  }

  /**
   * The POPULAR_TOP items with the most people, per value of the {@code keys} columns (none: one list over all), as
   * {@code {"channel": …, "country": …, "items": […], "people": […]}}, a key not grouped by being null. People are
   * counted once per item however often they viewed it.
   */
  static List<Map<String, Object>> popular(Dataset<Row> personItems, String... keys) {
    List<org.apache.spark.sql.Column> by = new ArrayList<>();
    for (String k : keys) by.add(col(k));
    List<org.apache.spark.sql.Column> groups = new ArrayList<>(by);
    groups.add(col("item"));
    Dataset<Row> counted = personItems.groupBy(groups.toArray(org.apache.spark.sql.Column[]::new)).agg(countDistinct("person").as("people"));
    org.apache.spark.sql.expressions.WindowSpec order = (by.isEmpty() ? Window.partitionBy() : Window.partitionBy(by.toArray(org.apache.spark.sql.Column[]::new)))
        .orderBy(desc("people"), col("item"));
    List<Row> rows = counted.withColumn("n", row_number().over(order)).filter(col("n").leq(POPULAR_TOP)).orderBy(col("n")).collectAsList();
    Map<List<String>, Map<String, Object>> lists = new LinkedHashMap<>();
    for (Row r : rows) {
      List<String> key = new ArrayList<>();
      for (String k : keys) key.add(r.getAs(k));
      Map<String, Object> list = lists.computeIfAbsent(key, x -> {
        Map<String, Object> l = new LinkedHashMap<>();
        l.put("channel", List.of(keys).contains("channel") ? r.getAs("channel") : null);
        l.put("country", List.of(keys).contains("country") ? r.getAs("country") : null);
        l.put("items", new ArrayList<String>());
        l.put("people", new ArrayList<Long>());
        return l;
      });
      ((List<String>) list.get("items")).add(r.getAs("item"));
      ((List<Long>) list.get("people")).add(r.getAs("people"));
    }
    return new ArrayList<>(lists.values());
  }

  /** The trained preferences as records of (user index, item index, strength): int, int, float, little-endian. */
  static byte[] strengths(Dataset<Row> ratings) {
    List<Row> rows = ratings.orderBy("u", "i").collectAsList();
    ByteBuffer buf = ByteBuffer.allocate(rows.size() * 12).order(ByteOrder.LITTLE_ENDIAN);
    for (Row r : rows) buf.putInt(r.getInt(0)).putInt(r.getInt(1)).putFloat((float) r.getDouble(2));
    return buf.array();
  }

  /** Iterations between two checkpoints of ALS's factors. */
  static final int CHECKPOINT_INTERVAL = 5;

  private static void deleteTree(Path dir) throws IOException {
    try (java.util.stream.Stream<Path> paths = Files.walk(dir)) {
      for (Path p : paths.sorted(java.util.Comparator.reverseOrder()).toList()) Files.deleteIfExists(p);
    }
  }

  /** {@code view=1,like=3}: each kind's weight. */
  static Map<String, Double> weights(String text) {
    Map<String, Double> weights = new HashMap<>();
    for (String pair : text.split(",")) {
      int eq = pair.indexOf('=');
      if (eq <= 0) throw new IllegalArgumentException("--weights takes kind=weight pairs separated by commas, not " + text);
      weights.put(pair.substring(0, eq), Double.parseDouble(pair.substring(eq + 1)));
    }
    return weights;
  }

  /** Every stored signal: the signals table read whole, one row per signal, its time the cells' timestamp. */
  static Dataset<Row> signals(SparkSession spark, Configuration hbase, String table) throws IOException {
    Scan scan = new Scan().addFamily(SIGNAL_FAMILY).setCaching(1000).setCacheBlocks(false);
    scan.setAttribute(Scan.SCAN_ATTRIBUTES_TABLE_NAME, Bytes.toBytes(table));
    Configuration conf = new Configuration(hbase);
    conf.setStrings(MultiTableInputFormat.SCANS, TableMapReduceUtil.convertScanToString(scan));
    JavaRDD<Row> rows = JavaSparkContext.fromSparkContext(spark.sparkContext())
        .newAPIHadoopRDD(conf, MultiTableInputFormat.class, ImmutableBytesWritable.class, Result.class)
        .flatMap(pair -> {
          Result r = pair._2();
          byte[] user = r.getValue(SIGNAL_FAMILY, USER);
          byte[] item = r.getValue(SIGNAL_FAMILY, ITEM);
          byte[] kind = r.getValue(SIGNAL_FAMILY, KIND);
          if (user == null || item == null || kind == null) return List.<Row>of().iterator();
          long ts = 0;
          for (Cell cell : r.rawCells()) ts = Math.max(ts, cell.getTimestamp());
          return List.of(RowFactory.create(Bytes.toString(user), Bytes.toString(item), Bytes.toString(kind), ts)).iterator();
        });
    return spark.createDataFrame(rows, SIGNALS);
  }

  /** The values, sorted, with their position as an int column for ALS. */
  private static Dataset<Row> indexed(SparkSession spark, List<String> values, String name, String index) {
    List<Row> rows = new ArrayList<>(values.size());
    for (int i = 0; i < values.size(); i++) rows.add(RowFactory.create(values.get(i), i));
    return spark.createDataFrame(rows, new StructType().add(name, DataTypes.StringType, false).add(index, DataTypes.IntegerType, false));
  }

  /** ALS's factors (id, features) as one row-major array in the order of the ids. */
  private static float[] factors(Dataset<Row> factors, int n, int rank) {
    float[] out = new float[n * rank];
    for (Row r : factors.collectAsList()) {
      int id = r.getInt(0);
      List<Float> features = r.getList(1);
      for (int k = 0; k < rank; k++) out[id * rank + k] = features.get(k);
    }
    return out;
  }

  /**
   * Writes the generation into a hidden directory and renames it into place, so a server never sees half of one:
   * {@code meta.json}, {@code users.json} and {@code items.json} (the ids in factor order), {@code user-factors.f32}
   * and {@code item-factors.f32} (little-endian float32, one row of {@code rank} per id), {@code strengths.bin} (the
   * preferences trained, {@link #strengths}) and {@code popular.json} (the lists of popular items, {@link #popular}).
   */
  static Path write(Path models, Map<String, Object> meta, List<String> users, float[] userFactors, List<String> items, float[] itemFactors,
      byte[] strengths, List<Map<String, Object>> popular) throws IOException {
    Files.createDirectories(models);
    String name = DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmssSSS'Z'").withZone(ZoneOffset.UTC).format(Instant.now());
    meta.put("generation", name);
    Path tmp = Files.createTempDirectory(models, "." + name + "-");
    ObjectMapper json = new ObjectMapper();
    json.writeValue(tmp.resolve("users.json").toFile(), users);
    json.writeValue(tmp.resolve("items.json").toFile(), items);
    floats(tmp.resolve("user-factors.f32"), userFactors);
    floats(tmp.resolve("item-factors.f32"), itemFactors);
    Files.write(tmp.resolve("strengths.bin"), strengths);
    json.writeValue(tmp.resolve("popular.json").toFile(), popular);
    json.writerWithDefaultPrettyPrinter().writeValue(tmp.resolve("meta.json").toFile(), meta);
    Path target = models.resolve(name);
    Files.move(tmp, target, StandardCopyOption.ATOMIC_MOVE);
    return target;
  }

  private static void floats(Path path, float[] values) throws IOException {
    ByteBuffer buf = ByteBuffer.allocate(values.length * 4).order(ByteOrder.LITTLE_ENDIAN);
    for (float v : values) buf.putFloat(v);
    Files.write(path, buf.array());
  }
}
