// go-chanpool, a contender of the strategies matrix (docs/bench.md): the
// Go idiom of a map owned by goroutines and served over channels. A pool of
// worker goroutines, one per CPU, each owns one partition (a plain Go map)
// of the keys, chosen by a hash of the key; a client sends each operation
// as a request on the owning worker's channel (buffered) and waits for the
// reply on a channel of its own (one per client goroutine, buffered, so a
// worker never waits for a client). Every operation is synchronous, as
// gomap's deleg-1w is with its owner thread.
package main

import "runtime"

const poolQueue = 64 // requests buffered per worker

type poolReq struct {
	op       byte // opGet, opSet, opDelete, opUpdate
	key, val uint64
	reply    chan poolReply
}

type poolReply struct {
	val uint64
	ok  bool
}

// chanPool's partitions are read and written only by their workers while
// the pool runs (start .. stop), and only by the caller otherwise.
type chanPool struct {
	parts []map[uint64]uint64
	reqs  []chan poolReq
	done  chan struct{}
}

func newChanPool(hint uint64) *chanPool {
	workers := runtime.NumCPU()
	p := &chanPool{parts: make([]map[uint64]uint64, workers)}
	for w := range p.parts {
		p.parts[w] = make(map[uint64]uint64, hint/uint64(workers)+1)
	}
	return p
}

// part is the partition (and worker) of key k: the keys are mixed already
// (the stream's), so the high bits spread them.
func (p *chanPool) part(k uint64) int {
	return int((k >> 32) % uint64(len(p.parts)))
}

// serve is worker w's loop, until its channel is closed.
func (p *chanPool) serve(w int) {
	m := p.parts[w]
	for r := range p.reqs[w] {
		var rep poolReply
		switch r.op {
		case opGet:
			rep.val, rep.ok = m[r.key]
		case opSet:
			m[r.key] = r.val
		case opDelete:
			delete(m, r.key)
		default:
			m[r.key]++
		}
		r.reply <- rep
	}
	p.done <- struct{}{}
}

// start starts the workers; stop closes their channels and waits for them.
func (p *chanPool) start() {
	p.reqs = make([]chan poolReq, len(p.parts))
	p.done = make(chan struct{}, len(p.parts))
	for w := range p.parts {
		p.reqs[w] = make(chan poolReq, poolQueue)
		go p.serve(w)
	}
}

func (p *chanPool) stop() {
	for w := range p.reqs {
		close(p.reqs[w])
	}
	for range p.parts {
		<-p.done
	}
}

func (p *chanPool) len() (n int) {
	for _, m := range p.parts {
		n += len(m)
	}
	return
}

// do sends one operation to its worker and waits for the reply on reply.
func (p *chanPool) do(op byte, k, v uint64, reply chan poolReply) poolReply {
	p.reqs[p.part(k)] <- poolReq{op: op, key: k, val: v, reply: reply}
	return <-reply
}

// chanPoolRun runs operations [from, from+n) of s on p (started), as one
// client with its own reply channel.
func chanPoolRun(p *chanPool, s *opStream, from, n uint64, reply chan poolReply) (sum uint64) {
	for j := from; j < from+n; j++ {
		k := s.keys[j]
		switch s.ops[j] {
		case opGet:
			if r := p.do(opGet, k, 0, reply); r.ok {
				sum += r.val + 1
			}
		case opSet:
			p.do(opSet, k, j, reply)
		case opDelete:
			p.do(opDelete, k, 0, reply)
		default:
			p.do(opUpdate, k, 0, reply)
		}
	}
	return
}
