package dispatch

import (
	"context"
	"time"

	herald "github.com/heraldhq/herald"
)

// Pacer is a limiter of recipients per second: pace.Limiter in this
// process, or one shared by every process (Redis).
type Pacer interface {
	// Wait blocks until n recipients may leave now.
	Wait(ctx context.Context, n int) error
	// Throttle cuts the rate after the provider refused for rate.
	Throttle(reason string)
	// Rate is the rate allowed now, in recipients per second.
	Rate() float64
}

// healthy reports why a pacer cannot admit anything now (its Redis is
// unreachable, say), for pacers that can tell.
func healthy(p Pacer) error {
	if h, ok := p.(interface{ Healthy() error }); ok {
		return h.Healthy()
	}
	return nil
}

// leadership returns, for one reconcile pass, whether this process may send
// for a sender key. With a shared pacer every process may. Without one,
// only the leader of the key may, so that N processes never send N times
// the limit; a process that takes the lead starts with a fresh limiter,
// which counts the second before as full (the old leader may have just
// sent), and one that loses it drops its limiter.
func (d *Dispatcher) leadership(ctx context.Context) func(senderKey string) bool {
	if d.cfg.SenderPacer != nil {
		return func(string) bool { return true }
	}
	seen := map[string]bool{}
	return func(key string) bool {
		if leads, ok := seen[key]; ok {
			return leads
		}
		leader, err := d.store.LeadSenderKey(ctx, key, d.cfg.Owner, d.cfg.Now().Add(-d.cfg.LeaseTTL))
		if err != nil {
			d.logErr(ctx, "lead sender key", err, "sender_key", herald.KeyLabel(key))
		}
		leads := err == nil && leader == d.cfg.Owner
		seen[key] = leads
		if leads != d.leading[key] {
			d.limMu.Lock()
			delete(d.globals, key)
			d.limMu.Unlock()
			d.log.Info("sender key leadership changed", "sender_key", herald.KeyLabel(key), "leads", leads, "leader", leader)
		}
		d.leading[key] = leads
		d.metrics.leader.WithLabelValues(herald.KeyLabel(key)).Set(boolGauge(leads))
		return leads
	}
}

// resignAll gives up the sender keys this process leads, so that a standby
// takes over at once on a clean shutdown (a rolling restart).
func (d *Dispatcher) resignAll() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for key, leads := range d.leading {
		if !leads {
			continue
		}
		if err := d.store.ResignSenderKey(ctx, key, d.cfg.Owner); err != nil {
			d.log.Warn("resign sender key", "sender_key", herald.KeyLabel(key), "err", err)
		}
		d.metrics.leader.WithLabelValues(herald.KeyLabel(key)).Set(0)
	}
}

func boolGauge(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
