// The concurrent suite of gomap-bench: Go's own sync.Map benchmarks
// (src/sync/map_bench_test.go), run on sync.Map with uint64 keys and values
// boxed in interface{} as sync.Map needs, GOMAXPROCS = threads and one
// goroutine per thread. The C side (bench/sync/sync_workloads.h) runs the same
// loops; docs/bench.md defines them and their checksums.
package main

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strconv"
	"sync"
	"time"
)

const (
	syncMapSize = 1 << 10 // Range and AdversarialDelete: keys 0..1023
	maxThreads  = 256
	maxSyncOps  = 1 << 40
)

// A workload: an untimed setup, then perG on every goroutine, which runs
// keys i, i+1, ..., i+n-1 and returns the sum of value+1 over every value
// it found (load hits, loaded LoadOrStores, deleted values, Range entries).
type syncWorkload struct {
	setup func(m *sync.Map)
	perG  func(m *sync.Map, i, n uint64) uint64
}

// found is what a found value adds to a goroutine's sum.
func found(v any, ok bool) uint64 {
	if !ok {
		return 0
	}
	return v.(uint64) + 1
}

// setupHits stores keys 0..hits-1 (value = key), then loads them twice
// over to promote them to the read-only part (Go's "steady state").
func setupHits(hits uint64) func(m *sync.Map) {
	return func(m *sync.Map) {
		for i := uint64(0); i < hits; i++ {
			m.LoadOrStore(i, i)
		}
		for i := uint64(0); i < hits*2; i++ {
			m.Load(i % hits)
		}
	}
}

func setupOne(m *sync.Map) { m.LoadOrStore(uint64(0), uint64(0)) }

func setupMapSize(m *sync.Map) {
	for i := uint64(0); i < syncMapSize; i++ {
		m.Store(i, i)
	}
}

func loadMostly(hits, misses uint64) syncWorkload {
	return syncWorkload{
		setup: setupHits(hits),
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				sum += found(m.Load(i % (hits + misses)))
			}
			return
		},
	}
}

var syncWorkloads = map[string]syncWorkload{
	"load-mostly-hits":   loadMostly(1023, 1),
	"load-mostly-misses": loadMostly(1, 1023),
	"load-or-store-balanced": {
		setup: setupHits(128),
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				if j := i % 256; j < 128 {
					sum += found(m.LoadOrStore(j, i))
				} else {
					sum += found(m.LoadOrStore(i, i))
				}
			}
			return
		},
	},
	"load-or-store-unique": {
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				sum += found(m.LoadOrStore(i, i))
			}
			return
		},
	},
	"load-or-store-collision": {
		setup: setupOne,
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				sum += found(m.LoadOrStore(uint64(0), uint64(0)))
			}
			return
		},
	},
	"load-and-delete-balanced": {
		setup: setupHits(128),
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				if j := i % 256; j < 128 {
					sum += found(m.LoadAndDelete(j))
				} else {
					sum += found(m.LoadAndDelete(i))
				}
			}
			return
		},
	},
	"load-and-delete-unique": {
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				sum += found(m.LoadAndDelete(i))
			}
			return
		},
	},
	"load-and-delete-collision": {
		setup: setupOne,
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				sum += found(m.LoadAndDelete(uint64(0)))
			}
			return
		},
	},
	"range": {
		setup: setupMapSize,
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				m.Range(func(_, v any) bool {
					sum += v.(uint64) + 1
					return true
				})
			}
			return
		},
	},
	"adversarial-alloc": {
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			var stores, loadsSinceStore uint64
			for end := i + n; i < end; i++ {
				sum += found(m.Load(i))
				if loadsSinceStore++; loadsSinceStore > stores {
					sum += found(m.LoadOrStore(i, stores))
					loadsSinceStore = 0
					stores++
				}
			}
			return
		},
	},
	// Not one of Go's: Store over a present key (keys 0..127, promoted).
	"store-overwrite": {
		setup: setupHits(128),
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				m.Store(i%128, i)
			}
			return
		},
	},
	"adversarial-delete": {
		setup: setupMapSize,
		perG: func(m *sync.Map, i, n uint64) (sum uint64) {
			for end := i + n; i < end; i++ {
				sum += found(m.Load(i))
				if i%syncMapSize == 0 {
					m.Range(func(k, _ any) bool {
						m.Delete(k)
						return false
					})
					m.Store(i, i)
				}
			}
			return
		},
	},
}

type syncResult struct {
	ns, ops  int64
	checksum uint64
	extra    string // fields the reply adds after the checksum (stratbench.go)
}

// gcPercent is the collector's setting (GOGC) when the peer started.
var gcPercent = func() int {
	p := debug.SetGCPercent(100)
	debug.SetGCPercent(p)
	return p
}()

// parallel runs body(g) on goroutines g = 0..threads-1 started together,
// after a runtime.GC() and with GOMAXPROCS = threads (restored afterwards).
// It returns the wall time from the first goroutine's start to the last
// one's end, and the sum of what the bodies returned. The strategies matrix
// (stratbench.go) runs on it too.
func parallel(threads int, body func(g int) uint64) (int64, uint64) {
	return parallelGC(threads, body, nil)
}

// parallelGC is parallel, and with gc not nil it reads the collector's
// statistics into gc[0] just before the goroutines start and into gc[1]
// just after they end (both outside the time measured).
func parallelGC(threads int, body func(g int) uint64, gc *[2]runtime.MemStats) (int64, uint64) {
	runtime.GC() // on every core, before GOMAXPROCS may drop to 1
	// The collector back on, if a prefill turned it off: after a full
	// collection the heap is under its goal, so no cycle starts until the
	// timed phase allocates as much again.
	debug.SetGCPercent(gcPercent)
	prev := runtime.GOMAXPROCS(threads)
	defer runtime.GOMAXPROCS(prev)

	starts := make([]time.Time, threads)
	ends := make([]time.Time, threads)
	sums := make([]uint64, threads)
	begin := make(chan struct{})
	var wg sync.WaitGroup
	for g := 0; g < threads; g++ {
		wg.Add(1)
		go func(g int) {
			defer wg.Done()
			<-begin
			starts[g] = time.Now()
			sums[g] = body(g)
			ends[g] = time.Now()
		}(g)
	}
	if gc != nil {
		runtime.ReadMemStats(&gc[0])
	}
	close(begin)
	wg.Wait()
	if gc != nil {
		runtime.ReadMemStats(&gc[1])
	}

	first, last := starts[0], ends[0]
	var sum uint64
	for g := 0; g < threads; g++ {
		if starts[g].Before(first) {
			first = starts[g]
		}
		if ends[g].After(last) {
			last = ends[g]
		}
		sum += sums[g]
	}
	return int64(last.Sub(first)), sum
}

// runSync runs one workload: goroutine g (of threads) runs keys g*ops ..
// g*ops + ops/threads - 1, as testing.B's RunParallel gives goroutine g the
// start g*b.N. The time is the wall time from the first goroutine's start
// to the last one's end; the checksum is the goroutines' sums plus the
// number of keys left in the map (counted after the clock stops).
func runSync(w syncWorkload, threads int, ops uint64) syncResult {
	var m sync.Map
	if w.setup != nil {
		w.setup(&m)
	}
	per := ops / uint64(threads)
	ns, sum := parallel(threads, func(g int) uint64 {
		return w.perG(&m, uint64(g)*ops, per)
	})
	m.Range(func(_, _ any) bool {
		sum++
		return true
	})
	return syncResult{ns: ns, ops: int64(per) * int64(threads), checksum: sum}
}

func syncCommand(fields []string) (syncResult, error) {
	if len(fields) != 4 {
		return syncResult{}, fmt.Errorf("usage: sync <workload> <threads> <ops>")
	}
	w, ok := syncWorkloads[fields[1]]
	if !ok {
		return syncResult{}, fmt.Errorf("unknown sync workload %q", fields[1])
	}
	threads, err := strconv.Atoi(fields[2])
	if err != nil || threads < 1 || threads > maxThreads {
		return syncResult{}, fmt.Errorf("bad threads %q (want 1..%d)", fields[2], maxThreads)
	}
	ops, err := strconv.ParseUint(fields[3], 10, 64)
	if err != nil || ops < uint64(threads) || ops > maxSyncOps {
		return syncResult{}, fmt.Errorf("bad ops %q (want threads..%d)", fields[3], uint64(maxSyncOps))
	}
	mapSink = nil
	return runSync(w, threads, ops), nil
}
