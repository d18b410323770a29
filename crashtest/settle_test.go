package crashtest

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/sqlite"
)

// The settling child: the test binary run again with these variables set
// reserves and settles for the key in a loop, from settleWorkers
// goroutines, and prints "<id> <cost>" for each Settle that returned nil.
const (
	envSettleDB    = "KEYGATE_CRASHTEST_SETTLE_DB"
	envSettleKey   = "KEYGATE_CRASHTEST_SETTLE_KEY"
	envSettleRound = "KEYGATE_CRASHTEST_SETTLE_ROUND"
	settleWorkers  = 32
	settleRounds   = 3
	ackedPerRound  = 2_000 // a round is killed once this many settlements returned
)

// TestMain runs the settling child when the variables say so, and the
// tests otherwise.
func TestMain(m *testing.M) {
	if os.Getenv(envSettleDB) != "" {
		settleChild()
		return
	}
	os.Exit(m.Run())
}

// settleChild is the process that gets killed: it never returns.
func settleChild() {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, os.Getenv(envSettleDB))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	k, err := svc.Authenticate(ctx, os.Getenv(envSettleKey))
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	round := os.Getenv(envSettleRound)
	var mu sync.Mutex
	out := bufio.NewWriter(os.Stdout)
	var wg sync.WaitGroup
	for w := range settleWorkers {
		wg.Go(func() {
			for i := 0; ; i++ {
				r, err := svc.Reserve(ctx, k, 1_000)
				if err != nil {
					fmt.Fprintln(os.Stderr, "reserve:", err)
					os.Exit(2)
				}
				g := &keygate.Generation{ID: fmt.Sprintf("gen-%s-%d-%d", round, w, i), Model: "t/cheap", Cost: keygate.Micros(1 + (w*31+i)%997)}
				if err := svc.Settle(ctx, r, g); err != nil {
					fmt.Fprintln(os.Stderr, "settle:", err)
					os.Exit(2)
				}
				// Only now is the charge acknowledged: the line is
				// the answer the client would get.
				mu.Lock()
				fmt.Fprintf(out, "%s %d\n", g.ID, g.Cost)
				out.Flush()
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

// TestSettleCrash: a process settling under load is SIGKILLed, and
// restarted on the same file, three times; every Settle that returned nil
// is charged exactly once, and the counters hold the sum of the stored
// generations to the micro-dollar.
func TestSettleCrash(t *testing.T) {
	if testing.Short() {
		t.Skip("runs and kills a child process")
	}
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "keygate.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	svc := keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	u, err := svc.CreateUser(ctx, userEmail, userPassword)
	if err != nil {
		t.Fatal(err)
	}
	limit := 1_000_000.0 // USD: never reached
	secret, k, err := svc.CreateKey(ctx, keygate.NewKeyParams{UserID: u.ID, Name: "crash", LimitUSD: &limit, LimitReset: "monthly"})
	if err != nil {
		t.Fatal(err)
	}
	db.Close()

	acked := map[string]keygate.Micros{}
	for round := range settleRounds {
		n := settleUntilKilled(t, path, secret, round, acked)
		t.Logf("round %d: killed after %d acknowledged settlements", round, n)
	}

	db, err = sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	svc = keygate.NewService(db, keygate.DefaultConfig(), keygate.WithLogger(slog.New(slog.NewTextHandler(io.Discard, nil))))
	for id, cost := range acked {
		g, err := svc.Generation(ctx, u.ID, id)
		if err != nil {
			t.Fatalf("acknowledged %s: %v", id, err)
		}
		if g.Cost != cost {
			t.Fatalf("acknowledged %s: cost %d, want %d", id, g.Cost, cost)
		}
	}
	// Settling an acknowledged generation again, as a client's retry
	// would, charges nothing.
	var retried string
	for id := range acked {
		retried = id
		break
	}
	before, err := svc.KeyInfo(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if err := svc.Settle(ctx, nil, &keygate.Generation{ID: retried, KeyHash: k.Hash, Cost: 999}); err != nil {
		t.Fatal(err)
	}
	after, err := svc.KeyInfo(ctx, k)
	if err != nil {
		t.Fatal(err)
	}
	if after.Usage != before.Usage {
		t.Errorf("a retried settlement changed the usage from %+v to %+v", before.Usage, after.Usage)
	}

	stored, sum := storedGenerations(t, path, k.Hash)
	if stored < int64(len(acked)) {
		t.Errorf("%d generations stored, fewer than the %d acknowledged", stored, len(acked))
	}
	if sum != after.Usage.Total || after.Usage.Total != after.Usage.Monthly {
		t.Errorf("usage %+v, want the %d µ$ of the %d stored generations in total and monthly", after.Usage, sum, stored)
	}
	integrityCheck(t, path)
	t.Logf("%d acknowledged, %d stored (the rest committed before their answer), %d µ$ charged", len(acked), stored, sum)
}

// settleUntilKilled runs the settling child on path until it has
// acknowledged ackedPerRound settlements, kills it with SIGKILL, and adds
// every acknowledged settlement to acked. It returns how many there were.
func settleUntilKilled(t *testing.T, path, secret string, round int, acked map[string]keygate.Micros) int {
	t.Helper()
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), envSettleDB+"="+path, envSettleKey+"="+secret, envSettleRound+"="+strconv.Itoa(round))
	var stderr strings.Builder
	cmd.Stderr = &stderr
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	timeout := time.AfterFunc(time.Minute, func() { cmd.Process.Kill() })
	defer timeout.Stop()
	sc := bufio.NewScanner(stdout)
	n := 0
	for sc.Scan() {
		id, cost, ok := strings.Cut(sc.Text(), " ")
		c, err := strconv.ParseInt(cost, 10, 64)
		if !ok || err != nil {
			t.Fatalf("child wrote %q", sc.Text())
		}
		acked[id] = keygate.Micros(c)
		if n++; n == ackedPerRound {
			if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
				t.Fatal(err)
			}
		}
	}
	// Lines written before the kill landed in the pipe: they were
	// acknowledged too, and are read above until the pipe ends.
	err = cmd.Wait()
	if n < ackedPerRound {
		t.Fatalf("round %d: the child ended after %d settlements: %v\n%s", round, n, err, stderr.String())
	}
	return n
}

// storedGenerations returns how many generations the file at path holds
// for keyHash, and the sum of their costs in micro-dollars, read past the
// store.
func storedGenerations(t *testing.T, path, keyHash string) (n int64, sum keygate.Micros) {
	t.Helper()
	conn, err := sql.Open("sqlite", "file:"+path)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if err := conn.QueryRow(`SELECT count(*), coalesce(sum(cost_micros), 0) FROM generations WHERE key_hash = ?`, keyHash).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return n, sum
}
