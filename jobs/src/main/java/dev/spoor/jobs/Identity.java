// Resolves each uid to its canonical user from the identity table's links, by the rules of daemon/hbase/identity.ts, for every uid at once.
package dev.spoor.jobs;

import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashMap;
import java.util.Iterator;
import java.util.List;
import java.util.Map;
import org.apache.spark.sql.Row;

/**
 * The rules (docs/identity.md#the-canonical-user): ids other than logins and fingerprints join into device groups
 * through their links; a group's canonical user is the login linked to it that was seen last (ties: the smaller
 * id), else the smallest id of the group. Fingerprints are not walked. {@code spoor identity} walks from one id;
 * here every group is found at once, with a union-find over all of the links in the job's driver. It holds each
 * linked id once (about 150 bytes of heap an id), far fewer than the window's events, and takes one pass over the
 * links where a join per round of propagation took a Spark job per round.
 */
public final class Identity {
  private Identity() {}

  /** Logins and fingerprints: ids a walk never goes through. */
  static final String LOGIN = "l:";
  static final String FINGERPRINT = "f:";
  /** Device ids of events: the events' uids, as the identity table names them. */
  static final String UID = "u:";

  static boolean walkable(String id) {
    return !id.startsWith(LOGIN) && !id.startsWith(FINGERPRINT);
  }

  /** Ids in the order Spark compares strings (their UTF-8 bytes, which is the order of code points). */
  static int compare(String a, String b) {
    int i = 0;
    int j = 0;
    while (i < a.length() && j < b.length()) {
      int x = a.codePointAt(i);
      int y = b.codePointAt(j);
      if (x != y) return Integer.compare(x, y);
      i += Character.charCount(x);
      j += Character.charCount(y);
    }
    return Integer.compare(a.length() - i, b.length() - j);
  }

  /**
   * The canonical user of every uid ({@code u:…}) that has a link, from the links {@code (a, b, ts)} of the groups
   * it is in (SpoorRows.LINKS, either direction). A uid with no link is its own canonical user and is not listed.
   */
  public static Map<String, String> canonicalUsers(Iterator<Row> links) {
    Groups groups = new Groups();
    while (links.hasNext()) {
      Row link = links.next();
      String a = link.getString(0);
      String b = link.getString(1);
      long ts = link.getLong(2);
      boolean walkA = walkable(a);
      boolean walkB = walkable(b);
      if (walkA && walkB) groups.union(groups.of(a), groups.of(b));
      else if (walkA && b.startsWith(LOGIN)) groups.offer(groups.of(a), b, ts);
      else if (walkB && a.startsWith(LOGIN)) groups.offer(groups.of(b), a, ts);
      else if (walkA) groups.of(a);
      else if (walkB) groups.of(b);
    }
    return groups.canonical();
  }

  /** Walkable ids by index, joined with union by size and path halving, with the best login offered to each. */
  private static final class Groups {
    private final Map<String, Integer> index = new HashMap<>();
    private final List<String> ids = new ArrayList<>();
    private int[] parent = new int[1024];
    private int[] size = new int[1024];
    private String[] login = new String[1024];
    private long[] loginTs = new long[1024];

    int of(String id) {
      Integer known = index.get(id);
      if (known != null) return known;
      int i = ids.size();
      if (i == parent.length) {
        parent = Arrays.copyOf(parent, 2 * i);
        size = Arrays.copyOf(size, 2 * i);
        login = Arrays.copyOf(login, 2 * i);
        loginTs = Arrays.copyOf(loginTs, 2 * i);
      }
      parent[i] = i;
      size[i] = 1;
      ids.add(id);
      index.put(id, i);
      return i;
    }

    int root(int i) {
      while (parent[i] != i) {
        parent[i] = parent[parent[i]];
        i = parent[i];
      }
      return i;
    }

    void union(int a, int b) {
      int x = root(a);
      int y = root(b);
      if (x == y) return;
      if (size[x] < size[y]) {
        int t = x;
        x = y;
        y = t;
      }
      parent[y] = x;
      size[x] += size[y];
    }

    /** Keeps the login seen last, ties to the smaller id. */
    void offer(int i, String id, long ts) {
      if (login[i] == null || ts > loginTs[i] || (ts == loginTs[i] && compare(id, login[i]) < 0)) {
        login[i] = id;
        loginTs[i] = ts;
      }
    }

    Map<String, String> canonical() {
      int n = ids.size();
      String[] smallest = new String[n];
      for (int i = 0; i < n; i++) {
        int r = root(i);
        if (smallest[r] == null || compare(ids.get(i), smallest[r]) < 0) smallest[r] = ids.get(i);
        if (r != i && login[i] != null) offer(r, login[i], loginTs[i]);
      }
      Map<String, String> canonical = new HashMap<>();
      for (int i = 0; i < n; i++) {
        String id = ids.get(i);
        if (!id.startsWith(UID)) continue;
        int r = root(i);
        canonical.put(id, login[r] != null ? login[r] : smallest[r]);
      }
      return canonical;
    }
  }
}
