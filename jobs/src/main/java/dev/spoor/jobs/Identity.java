// Resolves each uid to its canonical user from the identity table's links, by the rules of daemon/identity.ts, for every uid at once.
package dev.spoor.jobs;

import static org.apache.spark.sql.functions.coalesce;
import static org.apache.spark.sql.functions.col;
import static org.apache.spark.sql.functions.least;
import static org.apache.spark.sql.functions.min;
import static org.apache.spark.sql.functions.struct;

import org.apache.spark.sql.Column;
import org.apache.spark.sql.Dataset;
import org.apache.spark.sql.Row;

/**
 * The rules (docs/identity.md#the-canonical-user): ids other than logins and fingerprints join into device groups
 * through their links; a group's canonical user is the login linked to it that was seen last (ties: the smaller
 * id), else the smallest id of the group. Fingerprints are not walked. {@code spoor identity} walks from one id with
 * a bound of 1000 ids; here every group is found at once, by propagating the smallest id along the links until
 * nothing changes, with the same bound on rounds.
 */
public final class Identity {
  static final int MAX_ROUNDS = 1000;

  private Identity() {}

  /** Logins and fingerprints: ids a walk never goes through. */
  static final String LOGIN = "l:";
  static final String FINGERPRINT = "f:";

  private static Column walkableColumn(String column) {
    return col(column).startsWith(LOGIN).or(col(column).startsWith(FINGERPRINT)).unary_$bang();
  }

  static boolean walkable(String id) {
    return !id.startsWith(LOGIN) && !id.startsWith(FINGERPRINT);
  }

  /** {@code id} (every walkable id that has a link) and {@code person}, its canonical user. */
  public static Dataset<Row> canonicalUsers(Dataset<Row> links) {
    Dataset<Row> both = links.union(links.select(col("b").as("a"), col("a").as("b"), col("ts")));
    Dataset<Row> edges = both.filter(walkableColumn("a").and(walkableColumn("b"))).select("a", "b").distinct().cache();
    Dataset<Row> group = both.filter(walkableColumn("a")).select(col("a").as("id")).distinct()
        .withColumn("group", col("id")).cache();
    for (int round = 0; round < MAX_ROUNDS; round++) {
      Dataset<Row> next = group
          .join(edges, group.col("id").equalTo(edges.col("b")))
          .groupBy(col("a").as("id")).agg(min("group").as("offered"))
          .join(group, "id", "right")
          .select(col("id"), least(col("group"), coalesce(col("offered"), col("group"))).as("group"))
          .cache();
      boolean changed = !next.join(group.withColumnRenamed("group", "before"), "id").filter(col("group").notEqual(col("before"))).isEmpty();
      group.unpersist();
      group = next;
      if (!changed) break;
    }
    Dataset<Row> logins = both.filter(walkableColumn("a").and(col("b").startsWith(LOGIN)))
        .join(group.withColumnRenamed("id", "a"), "a")
        .groupBy("group")
        // The most recent login: the smallest (−ts, login).
        .agg(min(struct(col("ts").unary_$minus().as("negTs"), col("b").as("login"))).getField("login").as("login"));
    return group.join(logins, "group", "left")
        .select(col("id"), coalesce(col("login"), col("group")).as("person"));
  }
}
