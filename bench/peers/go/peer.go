// Command gomap-peer-go measures Go's built-in map for gomap-bench.
//
// gomap-bench starts this program once and drives it over a line protocol
// (see README.md): it prints "ready <go version>", then answers each
// "run <workload> <keys> <n> <seed> [<min_ops>]" line with one "ok ..." or "err ..."
// line until EOF or "quit". The key streams are bit-exact with the C side,
// so checksums can be compared across implementations. The concurrent suite's
// "sync <workload> <threads> <ops>" lines run Go's sync.Map benchmarks
// (syncbench.go), and the strategies matrix's "strat <contender> <file>
// <threads> <per> <rounds>" lines run a stream of operations from a file
// on sync.Map or a locked map (stratbench.go).
package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"os"
	"runtime"
	"sort"
	"strconv"
	"strings"
	"time"
)

const (
	golden   = 0x9E3779B97F4A7C15
	alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	maxN     = 20000000
	// Default for the optional min_ops field: lookups and churn steps are
	// max(n, min_ops); insert and iterate repeat max(1, min_ops/n) rounds.
	defaultMinOps = 1000000
	maxMinOps     = 1000000000
)

// Sinks for values the compiler must not see as unused. Storing a map in
// mapSink makes it escape, so it lives on the heap like a real long-lived
// map (a small map that does not escape would get its header and first
// bucket on the stack, which is not what the C peers are measured on).
var (
	sink    uint64
	mapSink any
)

func mix(z uint64) uint64 {
	z ^= z >> 30
	z *= 0xBF58476D1CE4E5B9
	z ^= z >> 27
	z *= 0x94D049BB133111EB
	z ^= z >> 31
	return z
}

// key returns key number i (i < 2^40) of the given stream.
func key(seed, stream, i uint64) uint64 {
	return mix(seed + ((stream<<40)|i)*golden)
}

// strLen is the length of the string key built from key number h.
func strLen(h uint64) int { return 16 + int(h%25) }

// appendStr appends the string key built from key number h.
func appendStr(b *strings.Builder, h uint64) {
	l := strLen(h)
	for j := 0; j < l; j++ {
		var c byte
		if j < 11 {
			c = alphabet[(h>>(6*uint(j)))&63]
		} else {
			c = alphabet[mix(h+uint64(j)*golden)&63]
		}
		b.WriteByte(c)
	}
}

// u64Keys converts key numbers to uint64 keys (the identity).
func u64Keys(nums []uint64) []uint64 {
	out := make([]uint64, len(nums))
	copy(out, nums)
	return out
}

// strKeys converts key numbers to string keys. All strings are substrings
// of one arena string, so building them costs one allocation.
func strKeys(nums []uint64) []string {
	total := 0
	for _, h := range nums {
		total += strLen(h)
	}
	var b strings.Builder
	b.Grow(total)
	for _, h := range nums {
		appendStr(&b, h)
	}
	arena := b.String()
	out := make([]string, len(nums))
	off := 0
	for i, h := range nums {
		l := strLen(h)
		out[i] = arena[off : off+l]
		off += l
	}
	return out
}

// stream returns key numbers start..start+count-1 of a stream.
func stream(seed, s uint64, start, count int) []uint64 {
	out := make([]uint64, count)
	for i := range out {
		out[i] = key(seed, s, uint64(start+i))
	}
	return out
}

type result struct {
	ns, ops                int64
	checksum               uint64
	bytes                  int64
	p50, p99, p999, maxLat int64
	// insert-latency: inserts slower than 20 us and 100 us, and the
	// histogram of bench/common/latbins.h (nil otherwise).
	over20us, over100us int64
	hist                []int64
}

// The histogram of bench/common/latbins.h: latBinsPerDecade bins a decade
// from latMinNs; the last bin holds everything slower.
const (
	latMinNs         = 10.0
	latBinsPerDecade = 10
	latBins          = 90
)

func latBin(ns int64) int {
	if float64(ns) < latMinNs {
		return 0
	}
	b := math.Floor(math.Log10(float64(ns)/latMinNs) * latBinsPerDecade)
	if b < latBins-1 {
		return int(b)
	}
	return latBins - 1
}

// histText is the reply's hist field: the bins joined by commas, or "-".
func histText(h []int64) string {
	if h == nil {
		return "-"
	}
	parts := make([]string, len(h))
	for i, c := range h {
		parts[i] = strconv.FormatInt(c, 10)
	}
	return strings.Join(parts, ",")
}

type keyKind interface{ uint64 | string }

func newMap[K keyKind](hint int) map[K]uint64 {
	var m map[K]uint64
	if hint > 0 {
		m = make(map[K]uint64, hint)
	} else {
		m = make(map[K]uint64)
	}
	mapSink = m
	return m
}

func buildMap[K keyKind](keys []K) map[K]uint64 {
	m := newMap[K](0)
	for i, k := range keys {
		m[k] = uint64(i + 1)
	}
	return m
}

func heapAlloc() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// insertRounds times R rounds of building a map from keys; the heap bytes
// held by the last round's map are measured around that round only.
func insertRounds[K keyKind](keys []K, rounds int, presize bool) result {
	n := len(keys)
	hint := 0
	if presize {
		hint = n
	}
	var total time.Duration
	if rounds > 1 {
		runtime.GC()
		t0 := time.Now()
		for r := 0; r < rounds-1; r++ {
			m := newMap[K](hint)
			for i := 0; i < n; i++ {
				m[keys[i]] = uint64(i + 1)
			}
			sink += uint64(len(m))
		}
		total += time.Since(t0)
	}
	mapSink = nil
	runtime.GC()
	before := heapAlloc()
	t1 := time.Now()
	m := newMap[K](hint)
	for i := 0; i < n; i++ {
		m[keys[i]] = uint64(i + 1)
	}
	total += time.Since(t1)
	runtime.GC()
	after := heapAlloc()
	runtime.KeepAlive(m)
	runtime.KeepAlive(keys)
	mapSink = nil
	return result{
		ns:       int64(total),
		ops:      int64(rounds) * int64(n),
		checksum: uint64(len(m)),
		bytes:    int64(after) - int64(before),
	}
}

func insertLatency[K keyKind](keys []K) result {
	n := len(keys)
	lat := make([]int64, n)
	m := newMap[K](0)
	runtime.GC()
	t0 := time.Now()
	for i := 0; i < n; i++ {
		s := time.Now()
		m[keys[i]] = uint64(i + 1)
		lat[i] = int64(time.Since(s))
	}
	total := time.Since(t0)
	hist := make([]int64, latBins)
	var over20, over100 int64
	for _, d := range lat {
		if d > 20000 {
			over20++
		}
		if d > 100000 {
			over100++
		}
		hist[latBin(d)]++
	}
	sort.Slice(lat, func(a, b int) bool { return lat[a] < lat[b] })
	// floor(p*n) in double precision, as gomap-bench's C runner does.
	pct := func(p float64) int64 {
		i := int(p * float64(n))
		if i > n-1 {
			i = n - 1
		}
		return lat[i]
	}
	return result{
		ns:       int64(total),
		ops:      int64(n),
		checksum: uint64(len(m)),
		p50:      pct(0.50),
		p99:      pct(0.99),
		p999:     pct(0.999),
		maxLat:    lat[n-1],
		over20us:  over20,
		over100us: over100,
		hist:      hist,
	}
}

func lookup[K keyKind](m map[K]uint64, queries []K) result {
	runtime.GC()
	var sum uint64
	t0 := time.Now()
	for _, k := range queries {
		v, ok := m[k]
		if ok {
			sum += v
		}
	}
	ns := time.Since(t0)
	return result{ns: int64(ns), ops: int64(len(queries)), checksum: sum}
}

// churn: keys holds set keys 0..n+q-1; the map starts with keys 0..n-1.
func churn[K keyKind](keys []K, n, q int) (result, error) {
	m := buildMap(keys[:n])
	runtime.GC()
	t0 := time.Now()
	for j := 0; j < q; j++ {
		delete(m, keys[j])
		m[keys[n+j]] = uint64(n + j + 1)
	}
	ns := time.Since(t0)
	if len(m) != n {
		return result{}, fmt.Errorf("churn: map holds %d keys after the run, want %d", len(m), n)
	}
	return result{ns: int64(ns), ops: int64(q), checksum: uint64(q) + uint64(len(m))}, nil
}

func iterate[K keyKind](m map[K]uint64, rounds int) result {
	runtime.GC()
	var sum uint64
	t0 := time.Now()
	for r := 0; r < rounds; r++ {
		sum = 0
		for _, v := range m {
			sum += v
		}
	}
	ns := time.Since(t0)
	return result{ns: int64(ns), ops: int64(rounds) * int64(len(m)), checksum: sum}
}

// queries builds the q query keys of a lookup workload. Every query is a
// fresh key (for strings: its own bytes, not the set's), as keys that come
// from input would be, so no string compare is saved by pointer equality.
func queries[K keyKind](n int, seed uint64, q int, mode string, conv func([]uint64) []K) []K {
	nums := make([]uint64, q)
	for j := 0; j < q; j++ {
		hit := true
		switch mode {
		case "lookup-miss":
			hit = false
		case "lookup-50", "lookup-batch":
			hit = key(seed, 3, uint64(j))&1 == 1
		}
		if hit {
			nums[j] = key(seed, 0, key(seed, 2, uint64(j))%uint64(n))
		} else {
			nums[j] = key(seed, 1, uint64(j))
		}
	}
	return conv(nums)
}

func run[K keyKind](workload string, n int, seed uint64, minOps int, conv func([]uint64) []K) (result, error) {
	q := n
	if q < minOps {
		q = minOps
	}
	rounds := minOps / n
	if rounds < 1 {
		rounds = 1
	}
	switch workload {
	case "insert", "insert-presized":
		keys := conv(stream(seed, 0, 0, n))
		return insertRounds(keys, rounds, workload == "insert-presized"), nil
	case "insert-latency":
		return insertLatency(conv(stream(seed, 0, 0, n))), nil
	case "lookup-hit", "lookup-50", "lookup-miss", "lookup-batch":
		set := conv(stream(seed, 0, 0, n))
		m := buildMap(set)
		qs := queries[K](n, seed, q, workload, conv)
		return lookup(m, qs), nil
	case "churn":
		return churn(conv(stream(seed, 0, 0, n+q)), n, q)
	case "iterate":
		return iterate(buildMap(conv(stream(seed, 0, 0, n))), rounds), nil
	}
	return result{}, fmt.Errorf("unknown workload %q", workload)
}

func command(fields []string) (result, error) {
	if len(fields) != 5 && len(fields) != 6 {
		return result{}, fmt.Errorf("usage: run <workload> <u64|str> <n> <seed> [<min_ops>]")
	}
	workload, keys := fields[1], fields[2]
	n, err := strconv.ParseInt(fields[3], 10, 64)
	if err != nil || n < 1 || n > maxN {
		return result{}, fmt.Errorf("bad n %q (want 1..%d)", fields[3], maxN)
	}
	seed, err := strconv.ParseUint(fields[4], 10, 64)
	if err != nil {
		return result{}, fmt.Errorf("bad seed %q", fields[4])
	}
	minOps := int64(defaultMinOps)
	if len(fields) == 6 {
		minOps, err = strconv.ParseInt(fields[5], 10, 64)
		if err != nil || minOps < 0 || minOps > maxMinOps {
			return result{}, fmt.Errorf("bad min_ops %q (want 0..%d)", fields[5], maxMinOps)
		}
	}
	// Drop the previous run's map so it does not weigh on this one.
	mapSink = nil
	defer func() { mapSink = nil }()
	switch keys {
	case "u64":
		return run(workload, int(n), seed, int(minOps), u64Keys)
	case "str":
		return run(workload, int(n), seed, int(minOps), strKeys)
	}
	return result{}, fmt.Errorf("unknown key type %q (want u64 or str)", keys)
}

func main() {
	in := bufio.NewReader(os.Stdin)
	out := bufio.NewWriter(os.Stdout)
	fmt.Fprintf(out, "ready %s\n", runtime.Version())
	out.Flush()
	for {
		line, err := in.ReadString('\n')
		if err != nil && err != io.EOF {
			fmt.Fprintf(os.Stderr, "gomap-peer-go: %v\n", err)
			os.Exit(1)
		}
		fields := strings.Fields(line)
		switch {
		case len(fields) == 0:
			// Blank line: not a command, no reply.
		case fields[0] == "quit" && len(fields) == 1:
			return
		case fields[0] == "prep":
			if cerr := prepCommand(fields); cerr != nil {
				fmt.Fprintf(out, "err %v\n", cerr)
			} else {
				fmt.Fprintf(out, "ok\n")
			}
		case fields[0] == "sync" || fields[0] == "strat":
			run := syncCommand
			if fields[0] == "strat" {
				run = stratCommand
			}
			r, cerr := run(fields)
			if cerr != nil {
				fmt.Fprintf(out, "err %v\n", cerr)
			} else {
				fmt.Fprintf(out, "ok ns=%d ops=%d checksum=%d%s\n", r.ns, r.ops, r.checksum, r.extra)
			}
		case fields[0] == "run":
			r, cerr := command(fields)
			if cerr != nil {
				fmt.Fprintf(out, "err %v\n", cerr)
			} else {
				fmt.Fprintf(out, "ok ns=%d ops=%d checksum=%d bytes=%d p50=%d p99=%d p999=%d max=%d "+
					"n20=%d n100=%d hist=%s\n", r.ns, r.ops, r.checksum, r.bytes, r.p50, r.p99,
					r.p999, r.maxLat, r.over20us, r.over100us, histText(r.hist))
			}
		default:
			fmt.Fprintf(out, "err unknown command %q\n", fields[0])
		}
		out.Flush()
		if err == io.EOF {
			return
		}
	}
}
