package keygate_test

import (
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// usageOf returns the all-time usage that KeyInfo reports for k.
func (f *fixture) usageOf(k *keygate.APIKey) keygate.Micros {
	f.t.Helper()
	info, err := f.svc.KeyInfo(f.ctx, k)
	if err != nil {
		f.t.Fatal(err)
	}
	return info.Usage.Total
}

// cachedKey creates a key and authenticates with it, so that it is cached.
func (f *fixture) cachedKey() *keygate.APIKey {
	f.t.Helper()
	secret, _ := f.newKey(keygate.NewKeyParams{})
	k, err := f.svc.Authenticate(f.ctx, secret)
	if err != nil {
		f.t.Fatal(err)
	}
	return k
}

// recordBehind adds cost to k's counters straight in the store, as another
// replica would: this Service hears nothing of it.
func (f *fixture) recordBehind(k *keygate.APIKey, cost keygate.Micros) {
	f.t.Helper()
	now := f.clock.Now()
	g := &keygate.Generation{ID: keygate.NewToken(), KeyHash: k.Hash, Model: "m", Cost: cost, CreatedAt: now}
	add := keygate.Counters(k.Hash, keygate.PeriodsAt(now))
	for i := range add {
		add[i].Micros = cost
	}
	if _, _, err := f.store.RecordGeneration(f.ctx, &keygate.Charge{Generation: g, Counters: add[:]}); err != nil {
		f.t.Fatal(err)
	}
}

// TestKeyInfoUsageCache: usage recorded through the Service shows at once;
// usage recorded behind its back shows once the cached figure is dropped,
// has outlived UsageCacheTTL, or belongs to a day that has ended.
func TestKeyInfoUsageCache(t *testing.T) {
	ttl := keygate.DefaultConfig().UsageCacheTTL
	noon := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name  string
		start time.Time
		// then runs after $1 was recorded behind the Service's back, with
		// the old figure cached; it returns the total KeyInfo must report.
		then func(f *fixture, k *keygate.APIKey) keygate.Micros
	}{
		{"cached", noon, func(f *fixture, k *keygate.APIKey) keygate.Micros {
			f.clock.Set(f.clock.Now().Add(50 * time.Millisecond)) // same day, within the TTL
			return 0
		}},
		{"recorded-through-service", noon, func(f *fixture, k *keygate.APIKey) keygate.Micros {
			if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: k.Hash, Model: "m", Cost: 2 * usd}); err != nil {
				t.Fatal(err)
			}
			return 3 * usd
		}},
		{"invalidated", noon, func(f *fixture, k *keygate.APIKey) keygate.Micros {
			f.svc.InvalidateUsage(k.Hash)
			return 1 * usd
		}},
		{"key-invalidated", noon, func(f *fixture, k *keygate.APIKey) keygate.Micros {
			f.svc.InvalidateKey(k.Hash)
			return 1 * usd
		}},
		{"all-invalidated", noon, func(f *fixture, k *keygate.APIKey) keygate.Micros {
			f.svc.InvalidateAll()
			return 1 * usd
		}},
		{"ttl-passed", noon, func(f *fixture, k *keygate.APIKey) keygate.Micros {
			f.clock.Set(f.clock.Now().Add(ttl))
			return 1 * usd
		}},
		{"next-day", time.Date(2026, 3, 4, 23, 59, 59, 900_000_000, time.UTC), func(f *fixture, k *keygate.APIKey) keygate.Micros {
			// 23:59:59.9, then 00:00:00 UTC: well within the TTL, but the
			// daily counter the figure holds is yesterday's.
			f.clock.Set(time.Date(2026, 3, 5, 0, 0, 0, 0, time.UTC))
			info, err := f.svc.KeyInfo(f.ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			if info.Usage.Daily != 0 {
				t.Errorf("daily usage on the next day = %d, want 0", info.Usage.Daily)
			}
			return 1 * usd
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := newFixture(t)
			f.clock.Set(tt.start)
			k := f.cachedKey()
			if got := f.usageOf(k); got != 0 {
				t.Fatalf("usage of a new key = %d, want 0", got)
			}
			f.recordBehind(k, 1*usd)
			want := tt.then(f, k)
			if got := f.usageOf(k); got != want {
				t.Errorf("usage = %d, want %d", got, want)
			}
		})
	}
}

// TestKeyInfoUsageCacheDelegated: usage recorded for a delegated key shows
// at once in its ancestor's cached usage too.
func TestKeyInfoUsageCacheDelegated(t *testing.T) {
	f := newFixture(t)
	parentSecret, parent := f.newKey(keygate.NewKeyParams{})
	child := f.delegated(parent, nil)
	if _, err := f.svc.Authenticate(f.ctx, parentSecret); err != nil {
		t.Fatal(err)
	}
	if got := f.usageOf(parent); got != 0 {
		t.Fatalf("parent usage = %d, want 0", got)
	}
	if err := f.svc.Settle(f.ctx, nil, &keygate.Generation{KeyHash: child.Hash, Model: "m", Cost: 5 * usd}); err != nil {
		t.Fatal(err)
	}
	if got := f.usageOf(parent); got != 5*usd {
		t.Errorf("parent usage after its child spent $5 = %d, want %d", got, 5*usd)
	}
}

// TestUsageCacheStaleRead: usage read from the store before a drop is not
// cached after it, where it would hide the usage the drop announced.
func TestUsageCacheStaleRead(t *testing.T) {
	now := time.Now()
	c := keygate.NewKeyCache(1024, time.Minute)
	_, k := storedKey("u", "w", now)
	c.Put(k, now)
	_, gen, ok := c.Usage(k.Hash, now)
	if ok {
		t.Fatal("usage cached before any was stored")
	}
	c.DropUsage(k.Hash) // usage recorded while the store was being read
	c.PutUsage(k.Hash, keygate.Usage{Total: 1}, now, gen)
	if u, _, ok := c.Usage(k.Hash, now); ok {
		t.Fatalf("Usage = %+v after a drop that followed the read, want a miss", u)
	}
	_, gen, _ = c.Usage(k.Hash, now)
	c.PutUsage(k.Hash, keygate.Usage{Total: 2}, now, gen)
	if u, _, ok := c.Usage(k.Hash, now); !ok || u.Total != 2 {
		t.Fatalf("Usage = %+v, %v; want Total 2 cached", u, ok)
	}
}

// TestUsageCacheOff: with UsageCacheTTL 0 every KeyInfo reads the store.
func TestUsageCacheOff(t *testing.T) {
	f := newFixture(t)
	cfg := keygate.DefaultConfig()
	cfg.UsageCacheTTL = 0
	f.svc = keygate.NewService(f.store, cfg, keygate.WithClock(f.clock.Now))
	k := f.cachedKey()
	f.usageOf(k)
	f.recordBehind(k, 1*usd)
	if got := f.usageOf(k); got != 1*usd {
		t.Errorf("usage = %d, want %d", got, 1*usd)
	}
}
