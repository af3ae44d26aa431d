// The practical limit for bench/flush.ts: the same rows written with HBase's own client, one BufferedMutator per table.
//
// Usage (bench/flush.ts runs it, in Java 17's single-file source mode):
//   java <JDK 17 flags> -cp <HBase classpath> bench/java/MutatorBench.java <zk port> <user table> <time table> <rows file>
// The rows file, written by bench/flush.ts from the buffer's batches, big-endian throughout:
//   file   = "SPR1" family:bytes8 nq:u8 qualifier:bytes8{nq} count:u32 event{count}
//   event  = ts:i64 userKey:bytes8 timeKey:bytes8 nf:u8 field{nf}
//   field  = q:u8 vlen:u16 value
//   bytes8 = len:u8 bytes
// Each event becomes one Put per table, its row and every cell at the event's timestamp, as daemon/flush-worker.ts
// writes it. The file is read into memory first; only the writes are timed: both mutators opened, every Put
// mutated, both flushed and closed. The mutators keep the client's defaults (a 2 MiB write buffer,
// hbase.client.write.buffer). Prints one JSON line: {"rows", "seconds", "eventsPerSecond", "writeBufferBytes"}.

import java.io.ByteArrayInputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Locale;
import org.apache.hadoop.conf.Configuration;
import org.apache.hadoop.hbase.HBaseConfiguration;
import org.apache.hadoop.hbase.TableName;
import org.apache.hadoop.hbase.client.BufferedMutator;
import org.apache.hadoop.hbase.client.Connection;
import org.apache.hadoop.hbase.client.ConnectionFactory;
import org.apache.hadoop.hbase.client.Put;

public class MutatorBench {
  record Event(long ts, byte[] userKey, byte[] timeKey, byte[] qualifierIds, byte[][] values) {}

  record Rows(byte[] family, byte[][] qualifiers, Event[] events) {}

  static byte[] bytes8(DataInputStream in) throws IOException {
    return in.readNBytes(in.readUnsignedByte());
  }

  static Rows load(Path file) throws IOException {
    try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(Files.readAllBytes(file)))) {
      if (in.readInt() != 0x53505231) throw new IOException(file + " is not a rows file (no SPR1 header)");
      byte[] family = bytes8(in);
      byte[][] qualifiers = new byte[in.readUnsignedByte()][];
      for (int q = 0; q < qualifiers.length; q++) qualifiers[q] = bytes8(in);
      Event[] events = new Event[in.readInt()];
      for (int i = 0; i < events.length; i++) {
        long ts = in.readLong();
        byte[] userKey = bytes8(in);
        byte[] timeKey = bytes8(in);
        int nf = in.readUnsignedByte();
        byte[] ids = new byte[nf];
        byte[][] values = new byte[nf][];
        for (int f = 0; f < nf; f++) {
          ids[f] = in.readByte();
          values[f] = in.readNBytes(in.readUnsignedShort());
        }
        events[i] = new Event(ts, userKey, timeKey, ids, values);
      }
      if (in.available() != 0) throw new IOException(file + " has bytes after its last event");
      return new Rows(family, qualifiers, events);
    }
  }

  static Put put(byte[] row, Event e, Rows rows) {
    Put put = new Put(row, e.ts());
    for (int f = 0; f < e.values().length; f++) put.addColumn(rows.family(), rows.qualifiers()[e.qualifierIds()[f]], e.ts(), e.values()[f]);
    return put;
  }

  public static void main(String[] args) throws Exception {
    if (args.length != 4) {
      System.err.println("usage: MutatorBench.java <zk port> <user table> <time table> <rows file>");
      System.exit(2);
    }
    Rows rows = load(Path.of(args[3]));
    Configuration conf = HBaseConfiguration.create();
    conf.set("hbase.zookeeper.quorum", "127.0.0.1");
    conf.setInt("hbase.zookeeper.property.clientPort", Integer.parseInt(args[0]));
    try (Connection connection = ConnectionFactory.createConnection(conf)) {
      long writeBuffer;
      long started = System.nanoTime();
      try (BufferedMutator user = connection.getBufferedMutator(TableName.valueOf(args[1]));
           BufferedMutator time = connection.getBufferedMutator(TableName.valueOf(args[2]))) {
        writeBuffer = user.getWriteBufferSize();
        // Alternating tables, as each spoor flush writes a slice to one and then the other.
        for (Event e : rows.events()) {
          user.mutate(put(e.userKey(), e, rows));
          time.mutate(put(e.timeKey(), e, rows));
        }
        user.flush();
        time.flush();
      }
      double seconds = (System.nanoTime() - started) / 1e9;
      int n = rows.events().length;
      System.out.printf(Locale.ROOT, "{\"rows\":%d,\"seconds\":%.3f,\"eventsPerSecond\":%d,\"writeBufferBytes\":%d}%n", n, seconds, Math.round(n / seconds), writeBuffer);
    }
  }
}
