// The strategies matrix's latency and memory figures in the Go peer
// (docs/bench.md): every latEvery-th operation of a goroutine's share timed
// with time.Now (the monotonic clock; a reading costs ~20 ns, which the
// sample includes) into a log-linear histogram like gomap-bench's
// (bench/common/lathist.h); the bytes a map holds, from the heap's live
// bytes after a collection with and without it.
package main

import (
	"fmt"
	"math/bits"
	"runtime"
	"time"
)

const (
	latEvery = 64 // as STRAT_LAT_EVERY (bench/strategies/strat_workloads.h)
	latSub   = 16
)

// latHist is one goroutine's samples, in ns.
type latHist struct {
	count  [64 * latSub]uint64
	n, max uint64
}

func latBucket(v uint64) int {
	if v < 2*latSub {
		return int(v)
	}
	e := 63 - bits.LeadingZeros64(v)
	return (e-3)*latSub + int(v>>(e-4)&(latSub-1))
}

func (h *latHist) add(v uint64) {
	h.count[latBucket(v)]++
	h.n++
	if v > h.max {
		h.max = v
	}
}

func (h *latHist) merge(o *latHist) {
	for i := range h.count {
		h.count[i] += o.count[i]
	}
	h.n += o.n
	if o.max > h.max {
		h.max = o.max
	}
}

// quantile is the middle of the bucket holding quantile q, at most max.
func (h *latHist) quantile(q float64) float64 {
	rank, seen := uint64(q*float64(h.n)), uint64(0)
	for b, c := range h.count {
		seen += c
		if seen <= rank {
			continue
		}
		lo, width := float64(b), 1.0
		if b >= 2*latSub {
			e := b/latSub + 3
			width = float64(uint64(1) << (e - 4))
			lo = float64(uint64(1)<<e) + float64(b%latSub)*width
		}
		if mid := lo + (width-1)/2; mid < float64(h.max) {
			return mid
		}
		break
	}
	return float64(h.max)
}

// sampled runs operations [from, from+n) through run, a span at a time,
// timing alone each operation j with j % latEvery == 0 into lat.
func sampled(from, n uint64, lat *latHist, run func(from, n uint64) uint64) (sum uint64) {
	end := from + n
	for j := from; j < end; {
		if j%latEvery != 0 {
			next := (j/latEvery + 1) * latEvery
			if next > end {
				next = end
			}
			sum += run(j, next-j)
			j = next
			continue
		}
		t0 := time.Now()
		sum += run(j, 1)
		lat.add(uint64(time.Since(t0)))
		j++
	}
	return
}

// latText is the reply's " lat=P50/P99/P999/MAX" of the goroutines' samples.
func latText(hists []latHist) string {
	var all latHist
	for i := range hists {
		all.merge(&hists[i])
	}
	if all.n == 0 {
		return ""
	}
	return fmt.Sprintf(" lat=%.1f/%.1f/%.1f/%d", all.quantile(0.50), all.quantile(0.99),
		all.quantile(0.999), all.max)
}

// liveHeap is the heap's live bytes after a full collection.
func liveHeap() uint64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// heapNow is the heap's allocated bytes now, garbage included.
func heapNow() uint64 {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// gcStats is the collections so far and the pause of each of the last 256.
func gcStats() runtime.MemStats {
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return ms
}

// gcText is the reply's " gcs=N pause=NS": the collections between before
// and after and the longest stop-the-world pause among them.
func gcText(before, after *runtime.MemStats) string {
	gcs := after.NumGC - before.NumGC
	var longest uint64
	for i := uint32(0); i < gcs && i < 256; i++ {
		if p := after.PauseNs[(after.NumGC-1-i)%256]; p > longest {
			longest = p
		}
	}
	return fmt.Sprintf(" gcs=%d pause=%d", gcs, longest)
}
