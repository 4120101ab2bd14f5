// gomap-peer-java: Caffeine as a peer of gomap-bench's cache suite
// (docs/cache-bench.md). It speaks the Go peer's line protocol for the
// strategies matrix (bench/peers/go/README.md), for one contender:
//   <- ready java<version>
//   -> prep caffeine <stream file>
//   <- ok
//   -> strat caffeine <stream file> <threads> <per> <rounds>
//   <- ok ns=.. ops=.. checksum=..
// The stream is gomap-bench's (bench/strategies/opstream.h); the cache is
// bounded to the stream's prefill (maximumSize) and starts holding it.
// Before the first timed round of a stream, untimed rounds run on one
// filled cache until the JIT has settled: at least WARMUP_MIN rounds and
// WARMUP_OPS operations, then until two rounds in a row agree within 5 %
// (at most WARMUP_MAX rounds), so the JIT has compiled the loop and
// Caffeine's paths before anything is timed.
import com.github.benmanes.caffeine.cache.Cache;
import com.github.benmanes.caffeine.cache.Caffeine;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.file.Files;
import java.nio.file.Paths;
import java.util.HashSet;
import java.util.Set;
import java.util.concurrent.CyclicBarrier;

public final class CachePeer {
    static final int OP_GET = 0, OP_SET = 1, OP_SET_GET = 4;
    static final long READABLE = 1L << 24, REFUSED = 1L << 44;
    static final int WARMUP_MIN = 3, WARMUP_MAX = 50;
    static final long WARMUP_OPS = 1000000;

    static final class Stream {
        String path;
        long prefill, seed;
        byte[] ops;
        Long[] keys; // boxed once, outside the timed loop
    }

    static Stream last;
    static Cache<Long, Long> prepared;
    static String preparedPath;
    static final Set<String> warmed = new HashSet<>();

    static Stream read(String path) throws IOException {
        if (last != null && last.path.equals(path))
            return last;
        last = null;
        ByteBuffer b = ByteBuffer.wrap(Files.readAllBytes(Paths.get(path))).order(ByteOrder.LITTLE_ENDIAN);
        byte[] magic = new byte[8];
        b.get(magic);
        if (!new String(magic, "US-ASCII").equals("GOMAPOPS") || b.getInt(8) != 1 || b.getInt(12) != 48)
            throw new IOException(path + ": not a version 1 operation stream");
        long nops = b.getLong(16);
        Stream s = new Stream();
        s.path = path;
        s.prefill = b.getLong(24);
        s.seed = b.getLong(32);
        s.ops = new byte[(int) nops];
        b.position(48);
        b.get(s.ops);
        int keysAt = 48 + (int) ((nops + 7) / 8 * 8);
        s.keys = new Long[(int) nops];
        for (int i = 0; i < nops; i++)
            s.keys[i] = b.getLong(keysAt + 8 * i);
        last = s;
        return s;
    }

    // keystream.h's ks_key: splitmix64's finaliser over seed + (stream << 40 | i) * golden.
    static long key(long seed, long stream, long i) {
        long z = seed + ((stream << 40) | i) * 0x9E3779B97F4A7C15L;
        z ^= z >>> 30;
        z *= 0xBF58476D1CE4E5B9L;
        z ^= z >>> 27;
        z *= 0x94D049BB133111EBL;
        return z ^ (z >>> 31);
    }

    static Cache<Long, Long> filled(Stream s) {
        Cache<Long, Long> c = Caffeine.newBuilder().maximumSize(s.prefill).build();
        for (long i = 0; i < s.prefill; i++)
            c.put(key(s.seed, 0, i), i + 1);
        c.cleanUp();
        return c;
    }

    static long run(Cache<Long, Long> c, Stream s, int from, int n) {
        long sum = 0;
        byte[] ops = s.ops;
        Long[] keys = s.keys;
        for (int j = from; j < from + n; j++) {
            Long k = keys[j];
            switch (ops[j]) {
            case OP_GET: {
                Long v = c.getIfPresent(k);
                if (v != null)
                    sum += v + 1;
                break;
            }
            case OP_SET:
                c.put(k, (long) j);
                break;
            case OP_SET_GET: {
                c.put(k, (long) j);
                Long v = c.getIfPresent(k);
                if (v != null && v == j)
                    sum += READABLE;
                break;
            }
            default:
                break;
            }
        }
        return sum;
    }

    // One round on threads threads; returns {ns, checksum}.
    static long[] round(Cache<Long, Long> c, Stream s, int threads, int per) throws Exception {
        int slice = s.ops.length / threads;
        long[] starts = new long[threads], ends = new long[threads], sums = new long[threads];
        CyclicBarrier go = new CyclicBarrier(threads);
        Thread[] t = new Thread[threads];
        for (int g = 0; g < threads; g++) {
            final int id = g;
            t[g] = new Thread(() -> {
                try {
                    go.await();
                } catch (Exception e) {
                    throw new RuntimeException(e);
                }
                starts[id] = System.nanoTime();
                sums[id] = run(c, s, id * slice, per);
                ends[id] = System.nanoTime();
            });
            t[g].start();
        }
        for (Thread x : t)
            x.join();
        long first = starts[0], lastEnd = ends[0], sum = 0;
        for (int g = 0; g < threads; g++) {
            first = Math.min(first, starts[g]);
            lastEnd = Math.max(lastEnd, ends[g]);
            sum += sums[g];
        }
        c.cleanUp();
        return new long[] {lastEnd - first, sum + c.estimatedSize()};
    }

    static void warmUp(Stream s, int threads, int per) throws Exception {
        Cache<Long, Long> c = filled(s);
        long prev = 0, ops = 0;
        for (int i = 0; i < WARMUP_MAX; i++) {
            long ns = round(c, s, threads, per)[0];
            ops += (long) per * threads;
            if (i + 1 >= WARMUP_MIN && ops >= WARMUP_OPS && Math.abs(ns - prev) < 0.05 * prev)
                break;
            prev = ns;
        }
    }

    static String strat(String[] f) throws Exception {
        if (f.length != 6)
            return "err usage: strat caffeine <file> <threads> <per> <rounds>";
        Stream s = read(f[2]);
        int threads = Integer.parseInt(f[3]), rounds = Integer.parseInt(f[5]);
        int per = (int) Long.parseLong(f[4]);
        if (threads < 1 || threads > 256 || per < 1 || per > s.ops.length / threads || rounds < 1)
            return "err bad threads, per or rounds";
        if (warmed.add(f[2]))
            warmUp(s, threads, per);
        long ns = 0, sum = 0;
        for (int i = 0; i < rounds; i++) {
            Cache<Long, Long> c = prepared != null && f[2].equals(preparedPath) ? prepared : filled(s);
            prepared = null;
            System.gc();
            long[] r = round(c, s, threads, per);
            ns += r[0];
            sum += r[1];
        }
        return "ok ns=" + ns + " ops=" + ((long) per * threads * rounds) + " checksum=" + Long.toUnsignedString(sum);
    }

    public static void main(String[] args) throws Exception {
        BufferedReader in = new BufferedReader(new InputStreamReader(System.in));
        System.out.println("ready java" + System.getProperty("java.version"));
        System.out.flush();
        for (String line; (line = in.readLine()) != null;) {
            String[] f = line.trim().split("\\s+");
            String reply;
            if (f[0].isEmpty())
                continue;
            if (f[0].equals("quit"))
                break;
            try {
                if (f.length > 1 && !f[1].equals("caffeine"))
                    reply = "err unknown contender " + f[1];
                else if (f[0].equals("prep") && f.length == 3) {
                    prepared = filled(read(f[2]));
                    preparedPath = f[2];
                    reply = "ok";
                } else if (f[0].equals("strat"))
                    reply = strat(f);
                else
                    reply = "err unknown command " + f[0];
            } catch (Exception e) {
                reply = "err " + e;
            }
            System.out.println(reply);
            System.out.flush();
        }
    }
}
