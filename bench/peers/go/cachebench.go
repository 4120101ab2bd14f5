// The cache suite's Go contenders (docs/cache-bench.md), built into the
// peer when their Debian packages are installed (GOPATH mode, from
// /usr/share/gocode): Ristretto and hashicorp/golang-lru, each bounded to
// the stream's prefill with cost 1 per entry, run by stratbench.go's loop.
package main

import (
	"time"

	"github.com/dgraph-io/ristretto"
	lru "github.com/hashicorp/golang-lru"
)

// ristrettoCache: Set may refuse a write (its buffer is full: false) or
// accept it and apply it later, or never (the admission policy); both are
// counted by the dropped-writes pass as they are.
type ristrettoCache struct{ c *ristretto.Cache }

// unboxed is a cache's Get result as a uint64 value.
func unboxed(v interface{}, ok bool) (uint64, bool) {
	if !ok {
		return 0, false
	}
	return v.(uint64), true
}

func (r ristrettoCache) get(k uint64) (uint64, bool) { return unboxed(r.c.Get(k)) }

func (r ristrettoCache) set(k, v uint64) bool { return r.c.Set(k, v, 1) }

// len: Ristretto 0.0.3 has no length; its metrics are off (they cost).
func (r ristrettoCache) len() int { return 0 }

func newRistretto(bound uint64) cacheMap {
	c, err := ristretto.NewCache(&ristretto.Config{
		NumCounters: int64(10 * bound), // Ristretto's advice: 10x the entries
		MaxCost:     int64(bound),
		BufferItems: 64, // its advice
	})
	if err != nil {
		panic(err)
	}
	return ristrettoCache{c}
}

// settle lets Ristretto's goroutine apply the prefill's buffered sets
// before anything is timed (0.0.3 has no Wait).
func (r ristrettoCache) settle() { time.Sleep(100 * time.Millisecond) }

type lruCache struct{ c *lru.Cache }

func (l lruCache) get(k uint64) (uint64, bool) { return unboxed(l.c.Get(k)) }

func (l lruCache) set(k, v uint64) bool {
	l.c.Add(k, v)
	return true
}

func (l lruCache) len() int { return l.c.Len() }

func (l lruCache) settle() {}

func newLRU(bound uint64) cacheMap {
	c, err := lru.New(int(bound))
	if err != nil {
		panic(err)
	}
	return lruCache{c}
}

func init() {
	cacheContenders["ristretto"] = newRistretto
	cacheContenders["golang-lru"] = newLRU
}
