package engine

import (
	"math"
	"math/bits"
	"time"
)

// Latencies are kept in microseconds: exactly below 128 µs, then in 64
// sub-buckets per power of two (under 1.6 % error) up to 2^40 µs.
const (
	histExact   = 128
	histSub     = 64
	histShifts  = 34
	histBuckets = histExact + histShifts*histSub
)

// histogram counts latencies for quantiles; histograms merge by addition.
type histogram struct {
	counts [histBuckets]uint32
	n      uint64
	max    time.Duration
}

func histIndex(d time.Duration) int {
	v := uint64(max(d, 0) / time.Microsecond)
	if v < histExact {
		return int(v)
	}
	shift := bits.Len64(v) - 7 // v>>shift is in [64, 128)
	i := histExact + (shift-1)*histSub + int(v>>shift) - histSub
	return min(i, histBuckets-1)
}

// histValue is the middle of bucket i.
func histValue(i int) time.Duration {
	if i < histExact {
		return time.Duration(i)*time.Microsecond + time.Microsecond/2
	}
	shift := (i-histExact)/histSub + 1
	lo := uint64((i-histExact)%histSub+histSub) << shift
	return time.Duration(lo)*time.Microsecond + time.Duration(uint64(1)<<shift)*time.Microsecond/2
}

func (h *histogram) record(d time.Duration) {
	h.counts[histIndex(d)]++
	h.n++
	h.max = max(h.max, d)
}

func (h *histogram) merge(o *histogram) {
	if o.n == 0 {
		return
	}
	for i, c := range o.counts {
		h.counts[i] += c
	}
	h.n += o.n
	h.max = max(h.max, o.max)
}

// quantile returns the latency below which a fraction q of requests fell.
func (h *histogram) quantile(q float64) time.Duration {
	if h.n == 0 {
		return 0
	}
	rank := uint64(math.Ceil(q * float64(h.n)))
	if rank >= h.n {
		return h.max
	}
	var seen uint64
	for i, c := range h.counts {
		if seen += uint64(c); seen >= max(rank, 1) {
			return min(histValue(i), h.max)
		}
	}
	return h.max
}
