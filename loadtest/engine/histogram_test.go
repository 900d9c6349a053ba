package engine

import (
	"math"
	"testing"
	"time"
)

func TestHistogramQuantiles(t *testing.T) {
	t.Parallel()
	var h histogram
	for i := 1; i <= 100000; i++ {
		h.record(time.Duration(i) * time.Microsecond) // 1 µs … 100 ms, uniform
	}
	for _, q := range []float64{0.5, 0.95, 0.99} {
		want := q * 100 * float64(time.Millisecond)
		if got := float64(h.quantile(q)); math.Abs(got-want)/want > 0.016 {
			t.Errorf("q%.2f = %v, want %v ±1.6%%", q, time.Duration(got), time.Duration(want))
		}
	}
	if h.max != 100*time.Millisecond || h.quantile(1) != h.max {
		t.Fatalf("max %v, q1 %v", h.max, h.quantile(1))
	}
}

func TestHistogramMergeAndExtremes(t *testing.T) {
	t.Parallel()
	var a, b histogram
	a.record(50 * time.Microsecond)
	b.record(time.Hour * 24 * 365) // beyond the last bucket: clamped, max kept
	b.record(-time.Second)
	a.merge(&b)
	if a.n != 3 || a.max != time.Hour*24*365 || a.quantile(0) != 500*time.Nanosecond {
		t.Fatalf("n %d max %v q0 %v", a.n, a.max, a.quantile(0))
	}
	var empty histogram
	if empty.quantile(0.99) != 0 {
		t.Fatal("empty histogram has a quantile")
	}
}

func TestHistogramBucketsAreOrdered(t *testing.T) {
	t.Parallel()
	prev := time.Duration(-1)
	for i := range histBuckets {
		v := histValue(i)
		if v <= prev || histIndex(v) != i {
			t.Fatalf("bucket %d: value %v (prev %v) indexes to %d", i, v, prev, histIndex(v))
		}
		prev = v
	}
}
