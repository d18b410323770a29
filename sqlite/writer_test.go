package sqlite_test

import (
	"errors"
	"fmt"
	"sync"
	"testing"

	"github.com/keygate/keygate"
)

// TestConcurrentWrites runs many writes at once, so that the writer commits
// several in one transaction, some of them failing: each failure must undo
// only its own writes and reach only its own caller.
func TestConcurrentWrites(t *testing.T) {
	db := openTemp(t)
	ws := bulkOwner(t, db)
	keys := bulkKeys(ws, 400)
	// Every fifth key exists already: its second insert is a conflict.
	for i := 0; i < len(keys); i += 5 {
		if err := db.CreateKey(t.Context(), keys[i]); err != nil {
			t.Fatalf("CreateKey(%d): %v", i, err)
		}
	}
	want := make([]error, len(keys))
	for i, k := range keys {
		switch {
		case i%5 == 0:
			dup := *k
			dup.Name = "duplicate"
			keys[i] = &dup
			want[i] = keygate.ErrConflict
		case i%7 == 0:
			k.WorkspaceID = "no-such-workspace"
			want[i] = keygate.ErrNotFound
		}
	}
	errs := make([]error, len(keys))
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() { errs[i] = db.CreateKey(t.Context(), k) })
	}
	wg.Wait()
	for i, k := range keys {
		if want[i] == nil && errs[i] != nil || want[i] != nil && !errors.Is(errs[i], want[i]) {
			t.Errorf("CreateKey(%d) = %v, want %v", i, errs[i], want[i])
		}
		got, err := db.Key(t.Context(), k.Hash)
		switch {
		case want[i] == keygate.ErrNotFound:
			if !errors.Is(err, keygate.ErrNotFound) {
				t.Errorf("Key(%d) after a failed insert = %v, %v; want ErrNotFound", i, got, err)
			}
		case err != nil:
			t.Errorf("Key(%d): %v", i, err)
		case got.Name != fmt.Sprintf("key %d", i):
			t.Errorf("Key(%d).Name = %q, want the first insert's", i, got.Name)
		}
	}
}

// TestWriteAfterClose checks that a write on a closed DB fails at once.
func TestWriteAfterClose(t *testing.T) {
	db := openTemp(t)
	ws := bulkOwner(t, db)
	if err := db.Close(); err != nil {
		t.Fatalf("Close: %v", err)
	}
	if err := db.CreateKey(t.Context(), bulkKeys(ws, 1)[0]); err == nil {
		t.Fatal("CreateKey after Close succeeded")
	}
}
