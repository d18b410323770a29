package keygate

import (
	"testing"
	"time"
)

// TestCreditBook: a balance charged elsewhere is read again once it is
// accountRefresh old, not on every request; a read that started before
// the charge does not make it fresh; an unlimited account is not marked;
// a drop refuses a read in flight.
func TestCreditBook(t *testing.T) {
	t0 := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC)
	granted := Micros(100)
	limited := Credits{Granted: &granted, Used: 10}
	b := newCreditBook(30*time.Second, 10)

	_, gen, ok := b.get("u", t0)
	if ok {
		t.Fatal("hit on an empty book")
	}
	b.put("u", limited, t0, gen)
	b.spent("u", t0.Add(time.Second))
	if _, _, ok := b.get("u", t0.Add(accountRefresh-time.Millisecond)); !ok {
		t.Error("a stale balance younger than accountRefresh was read again")
	}
	_, gen, ok = b.get("u", t0.Add(accountRefresh))
	if ok {
		t.Error("a stale balance accountRefresh old was not read again")
	}
	// A read from before the charge leaves the entry stale.
	b.put("u", limited, t0.Add(time.Second), gen)
	if _, _, ok := b.get("u", t0.Add(time.Second+accountRefresh)); ok {
		t.Error("a read that started with the charge made the balance fresh")
	}
	// A read from after it makes it fresh.
	_, gen, _ = b.get("u", t0.Add(2*time.Second))
	b.put("u", limited, t0.Add(2*time.Second), gen)
	if _, _, ok := b.get("u", t0.Add(2*time.Second+accountRefresh)); !ok {
		t.Error("a read after the charge left the balance stale")
	}

	b.put("free", Credits{Used: 5}, t0, gen)
	b.spent("free", t0)
	if _, _, ok := b.get("free", t0.Add(time.Minute/2-time.Second)); !ok {
		t.Error("an unlimited account was read again after a charge elsewhere")
	}

	_, gen, _ = b.get("x", t0)
	b.drop("u")
	b.put("x", limited, t0, gen)
	if _, _, ok := b.get("x", t0); ok {
		t.Error("a read in flight across a drop was kept")
	}
}
