// The strategies matrix of gomap-bench (docs/bench.md): the operation
// stream gomap-bench generated and wrote to a file, run on Go's sync.Map
// (go-sync), on a Go map behind a sync.RWMutex (go-rwmutex) and on maps
// owned by a pool of goroutines served over channels (go-chanpool,
// chanpool.go), with GOMAXPROCS = threads and one goroutine per thread;
// with each run's sampled latency, bytes and collections (latency.go). The C side
// (bench/strategies/strat_workloads.h) runs the same loop on its contenders.
// The cache suite (docs/cache-bench.md) runs its streams through the same
// commands on the caches that cachebench.go registers in cacheContenders,
// when it is built in.
package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"sync/atomic"
)

// Operation codes of the stream (bench/strategies/opstream.h).
const (
	opGet    = 0 // a hit adds value+1 to the goroutine's sum
	opSet    = 1 // insert or overwrite with the operation's index
	opDelete = 2
	opUpdate = 3 // value+1, an absent key counting as 0
	opSetGet = 4 // set to j, then get: +readable if read back as j, +refused if the set failed
	readable = 1 << 24
	refused  = 1 << 44

	streamHeaderBytes = 48
	maxRounds         = 1000000
)

// opStream is a stream file as bench/strategies/opstream.h describes it.
type opStream struct {
	path          string
	prefill, seed uint64
	ops           []byte
	keys          []uint64
}

// The last stream read: gomap-bench runs one stream many times (every
// contender, thread count and repetition) before it moves on to the next.
var lastStream *opStream

func readStream(path string) (*opStream, error) {
	if lastStream != nil && lastStream.path == path {
		return lastStream, nil
	}
	lastStream = nil
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	le := binary.LittleEndian
	if len(data) < streamHeaderBytes || !bytes.Equal(data[:8], []byte("GOMAPOPS")) ||
		le.Uint32(data[8:]) != 1 || le.Uint32(data[12:]) != streamHeaderBytes {
		return nil, fmt.Errorf("%s: not a version 1 operation stream", path)
	}
	nops := le.Uint64(data[16:])
	keysAt := streamHeaderBytes + (nops+7)/8*8
	if nops == 0 || uint64(len(data)) != keysAt+8*nops {
		return nil, fmt.Errorf("%s: %d bytes for %d operations", path, len(data), nops)
	}
	s := &opStream{path: path, prefill: le.Uint64(data[24:]), seed: le.Uint64(data[32:]),
		ops: data[streamHeaderBytes : streamHeaderBytes+nops], keys: make([]uint64, nops)}
	for i := range s.keys {
		s.keys[i] = le.Uint64(data[keysAt+8*uint64(i):])
	}
	lastStream = s
	return s, nil
}

// counter is go-sync's value: a set stores a new one, an update adds to it
// in place (sync.Map has no CompareAndSwap before Go 1.20).
func counter(v uint64) *atomic.Uint64 {
	c := new(atomic.Uint64)
	c.Store(v)
	return c
}

// syncMapRun runs operations [from, from+n) of s on m.
func syncMapRun(m *sync.Map, s *opStream, from, n uint64) (sum uint64) {
	for j := from; j < from+n; j++ {
		k := s.keys[j]
		switch s.ops[j] {
		case opGet:
			if v, ok := m.Load(k); ok {
				sum += v.(*atomic.Uint64).Load() + 1
			}
		case opSet:
			m.Store(k, counter(j))
		case opDelete:
			m.Delete(k)
		case opSetGet:
			m.Store(k, counter(j))
			if v, ok := m.Load(k); ok && v.(*atomic.Uint64).Load() == j {
				sum += readable
			}
		default:
			if v, ok := m.Load(k); ok {
				v.(*atomic.Uint64).Add(1)
			} else if v, loaded := m.LoadOrStore(k, counter(1)); loaded {
				v.(*atomic.Uint64).Add(1)
			}
		}
	}
	return
}

// lockedMap is go-rwmutex: Go's map behind a sync.RWMutex, gets under the
// read lock.
type lockedMap struct {
	mu sync.RWMutex
	m  map[uint64]uint64
}

// lockedMapRun runs operations [from, from+n) of s on l.
func lockedMapRun(l *lockedMap, s *opStream, from, n uint64) (sum uint64) {
	for j := from; j < from+n; j++ {
		k := s.keys[j]
		switch s.ops[j] {
		case opGet:
			l.mu.RLock()
			v, ok := l.m[k]
			l.mu.RUnlock()
			if ok {
				sum += v + 1
			}
		case opSet:
			l.mu.Lock()
			l.m[k] = j
			l.mu.Unlock()
		case opDelete:
			l.mu.Lock()
			delete(l.m, k)
			l.mu.Unlock()
		case opSetGet:
			l.mu.Lock()
			l.m[k] = j
			l.mu.Unlock()
			l.mu.RLock()
			if l.m[k] == j {
				sum += readable
			}
			l.mu.RUnlock()
		default:
			l.mu.Lock()
			l.m[k]++
			l.mu.Unlock()
		}
	}
	return
}

// cacheMap is a cache of the cache suite, bounded to the stream's prefill:
// set returns false if the cache refused the write; settle waits until
// the writes so far are applied (after the untimed prefill).
type cacheMap interface {
	get(k uint64) (uint64, bool)
	set(k, v uint64) bool
	len() int
	settle()
}

// cacheContenders makes each cache contender's cache (cachebench.go).
var cacheContenders = map[string]func(bound uint64) cacheMap{}

// cacheRun runs operations [from, from+n) of s on c.
func cacheRun(c cacheMap, s *opStream, from, n uint64) (sum uint64) {
	for j := from; j < from+n; j++ {
		k := s.keys[j]
		switch s.ops[j] {
		case opGet:
			if v, ok := c.get(k); ok {
				sum += v + 1
			}
		case opSet:
			c.set(k, j)
		case opSetGet:
			if !c.set(k, j) {
				sum += refused
			} else if v, ok := c.get(k); ok && v == j {
				sum += readable
			}
		}
	}
	return
}

// stratMap is a contender's map holding a stream's prefill: go-sync's m,
// go-rwmutex's l, go-chanpool's p or a cache contender's c.
type stratMap struct {
	path string
	m    *sync.Map
	l    *lockedMap
	p    *chanPool
	c    cacheMap
}

// len is the keys in go-sync's, go-rwmutex's or go-chanpool's map (stopped).
func (sm *stratMap) len() (n int) {
	switch {
	case sm.m != nil:
		sm.m.Range(func(_, _ any) bool {
			n++
			return true
		})
	case sm.p != nil:
		n = sm.p.len()
	default:
		n = len(sm.l.m)
	}
	return
}

// prepared holds the maps "prep" filled ahead, one per contender, for the
// next "strat" round on the same stream.
var prepared = map[string]*stratMap{}

// fillStratMap builds a contender's map holding the stream's prefill, with
// the collector off (a million-key sync.Map is three million objects):
// parallel() collects once before the clock starts and turns it back on.
func fillStratMap(contender string, s *opStream) *stratMap {
	debug.SetGCPercent(-1)
	sm := &stratMap{path: s.path}
	if mk := cacheContenders[contender]; mk != nil {
		sm.c = mk(s.prefill)
		// Sets again what a cache did not keep (Ristretto drops writes
		// when its buffers are full), a few passes at most.
		for pass := 0; pass < 4; pass++ {
			for i := uint64(0); i < s.prefill; i++ {
				if _, ok := sm.c.get(key(s.seed, 0, i)); pass == 0 || !ok {
					sm.c.set(key(s.seed, 0, i), i+1)
				}
			}
			sm.c.settle()
		}
	} else if contender == "go-sync" {
		sm.m = new(sync.Map)
		for i := uint64(0); i < s.prefill; i++ {
			sm.m.Store(key(s.seed, 0, i), counter(i+1))
		}
		// Settle: one Range promotes the stored keys to the read-only
		// part, as they would be in a long-lived read-mostly map (else
		// every load takes the mutex until len(dirty) loads have missed).
		sm.m.Range(func(_, _ any) bool { return false })
	} else if contender == "go-chanpool" {
		sm.p = newChanPool(s.prefill)
		for i := uint64(0); i < s.prefill; i++ {
			k := key(s.seed, 0, i)
			sm.p.parts[sm.p.part(k)][k] = i + 1
		}
	} else {
		sm.l = &lockedMap{m: make(map[uint64]uint64, s.prefill)}
		for i := uint64(0); i < s.prefill; i++ {
			sm.l.m[key(s.seed, 0, i)] = i + 1
		}
	}
	return sm
}

// stratRound runs one round: a map holding the stream's prefill (the one
// prepared for it, or a new one), then goroutine g running operations
// g*slice .. g*slice+per-1. The checksum is the goroutines' sums plus the
// keys left (counted after the clock stops). With figures (the strategies
// matrix's contenders, not the cache suite's), the reply's latency, bytes
// and collection fields are returned too (latency.go).
func stratRound(contender string, s *opStream, threads int, per uint64, figures bool) (int64, uint64, string) {
	slice := uint64(len(s.ops)) / uint64(threads)
	sm := prepared[contender]
	delete(prepared, contender)
	if sm == nil || sm.path != s.path {
		sm = fillStratMap(contender, s)
	}
	mapSink = sm
	if sm.c != nil {
		ns, sum := parallel(threads, func(g int) uint64 {
			return cacheRun(sm.c, s, uint64(g)*slice, per)
		})
		return ns, sum + uint64(sm.c.len()), ""
	}
	hists := make([]latHist, threads)
	var run func(g int) func(from, n uint64) uint64
	switch {
	case sm.m != nil:
		run = func(g int) func(from, n uint64) uint64 {
			return func(from, n uint64) uint64 { return syncMapRun(sm.m, s, from, n) }
		}
	case sm.p != nil:
		sm.p.start()
		run = func(g int) func(from, n uint64) uint64 {
			reply := make(chan poolReply, 1)
			return func(from, n uint64) uint64 { return chanPoolRun(sm.p, s, from, n, reply) }
		}
	default:
		run = func(g int) func(from, n uint64) uint64 {
			return func(from, n uint64) uint64 { return lockedMapRun(sm.l, s, from, n) }
		}
	}
	var gc [2]runtime.MemStats
	ns, sum := parallelGC(threads, func(g int) uint64 {
		return sampled(uint64(g)*slice, per, &hists[g], run(g))
	}, &gc)
	if sm.p != nil {
		sm.p.stop()
	}
	sum += uint64(sm.len())
	if !figures {
		return ns, sum, ""
	}
	return ns, sum, latText(hists) + gcText(&gc[0], &gc[1]) + heldText(sm)
}

// heldText is the reply's " bytes=END/PEAK len=N" of sm's map, which it
// then drops: END is the live heap with the map less the live heap without
// it (both after a collection), PEAK the heap at the end of the run,
// garbage not yet collected included, less the same (at least END).
func heldText(sm *stratMap) string {
	before := heapNow()
	with := liveHeap()
	n := sm.len()
	*sm = stratMap{}
	mapSink = nil
	without := liveHeap()
	end, peak := int64(with)-int64(without), int64(before)-int64(without)
	if peak < end {
		peak = end
	}
	return fmt.Sprintf(" bytes=%d/%d len=%d", end, peak, n)
}

// stratContender parses a contender name.
func stratContender(name string) error {
	if name != "go-sync" && name != "go-rwmutex" && name != "go-chanpool" && cacheContenders[name] == nil {
		return fmt.Errorf("unknown strat contender %q", name)
	}
	return nil
}

// prepCommand: prep <go-sync|go-rwmutex|go-chanpool> <stream file>: fills the
// contender's map for the next strat command on that stream, so that
// gomap-bench can fill its own maps meanwhile.
func prepCommand(fields []string) error {
	if len(fields) != 3 {
		return fmt.Errorf("usage: prep <go-sync|go-rwmutex|go-chanpool> <file>")
	}
	if err := stratContender(fields[1]); err != nil {
		return err
	}
	s, err := readStream(fields[2])
	if err != nil {
		return err
	}
	prepared[fields[1]] = fillStratMap(fields[1], s)
	return nil
}

// stratCommand: strat <go-sync|go-rwmutex|go-chanpool> <stream file> <threads> <per> <rounds>.
// The reply's extra fields are the last round's.
func stratCommand(fields []string) (syncResult, error) {
	if len(fields) != 6 {
		return syncResult{}, fmt.Errorf("usage: strat <go-sync|go-rwmutex|go-chanpool> <file> <threads> <per> <rounds>")
	}
	contender := fields[1]
	if err := stratContender(contender); err != nil {
		return syncResult{}, err
	}
	s, err := readStream(fields[2])
	if err != nil {
		return syncResult{}, err
	}
	threads, err := strconv.Atoi(fields[3])
	if err != nil || threads < 1 || threads > maxThreads {
		return syncResult{}, fmt.Errorf("bad threads %q (want 1..%d)", fields[3], maxThreads)
	}
	slice := uint64(len(s.ops)) / uint64(threads)
	per, err := strconv.ParseUint(fields[4], 10, 64)
	if err != nil || per < 1 || per > slice {
		return syncResult{}, fmt.Errorf("bad per %q (want 1..%d)", fields[4], slice)
	}
	rounds, err := strconv.Atoi(fields[5])
	if err != nil || rounds < 1 || rounds > maxRounds {
		return syncResult{}, fmt.Errorf("bad rounds %q (want 1..%d)", fields[5], maxRounds)
	}
	var r syncResult
	for i := 0; i < rounds; i++ {
		ns, sum, extra := stratRound(contender, s, threads, per,
			cacheContenders[contender] == nil && i == rounds-1)
		r.ns += ns
		r.checksum += sum
		r.extra = extra
		mapSink = nil
	}
	r.ops = int64(per) * int64(threads) * int64(rounds)
	return r, nil
}
