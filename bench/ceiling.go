package main

import (
	"bufio"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"
)

// ceilingArg is the hidden first argument that makes this program the
// ceiling server instead of the harness.
const ceilingArg = "__ceiling-server"

// The ceiling server does the least a key verifier must do for each
// request: read the bearer, one SHA-256, one map lookup, and write a JSON
// body of about 300 bytes. Anything keygate costs beyond it is keygate's.
type ceiling struct {
	keys map[[sha256.Size]byte]string // key hash → label
}

// The body is built around the label, as a real verifier would render at
// least one per-key field.
const (
	ceilingBodyHead = `{"data":{"label":"`
	ceilingBodyTail = `","limit":null,"limit_remaining":null,"limit_reset":null,"usage":0,` +
		`"usage_daily":0,"usage_weekly":0,"usage_monthly":0,"include_byok_in_limit":false,` +
		`"is_management_key":false,"expires_at":null,"rate_limit":{"requests":-1,"interval":"10s"}}}`
)

var (
	ceilingJSON = []string{"application/json"}
	ceilingBufs = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}
)

func (c *ceiling) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path == "/healthz" {
		w.WriteHeader(http.StatusOK)
		return
	}
	key, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	if !ok {
		http.Error(w, `{"error":{"code":401,"message":"Missing Authentication header"}}`, http.StatusUnauthorized)
		return
	}
	label, ok := c.keys[sha256.Sum256([]byte(key))]
	if !ok {
		http.Error(w, `{"error":{"code":401,"message":"Invalid API key"}}`, http.StatusUnauthorized)
		return
	}
	bp := ceilingBufs.Get().(*[]byte)
	b := append((*bp)[:0], ceilingBodyHead...)
	b = append(b, label...)
	b = append(b, ceilingBodyTail...)
	w.Header()["Content-Type"] = ceilingJSON
	w.Write(b)
	*bp = b
	ceilingBufs.Put(bp)
}

// ceilingMain runs the ceiling server: it loads the hex key hashes of the
// file named by -keys, one a line, listens on -addr and logs the address
// in the form startProcess waits for, then serves until SIGTERM.
func ceilingMain(args []string) int {
	fs := flag.NewFlagSet(ceilingArg, flag.ExitOnError)
	keysPath := fs.String("keys", "", "file of hex key hashes, one a line")
	addr := fs.String("addr", "127.0.0.1:0", "address to listen on")
	fs.Parse(args)
	log := slog.New(slog.NewTextHandler(os.Stderr, nil))
	c, err := loadCeiling(*keysPath)
	if err != nil {
		log.Error("ceiling: load keys", "err", err)
		return 1
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Error("ceiling: listen", "err", err)
		return 1
	}
	srv := &http.Server{Handler: c, ReadHeaderTimeout: 10 * time.Second, IdleTimeout: 2 * time.Minute}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	log.Info("ceiling listening", "addr", ln.Addr().String(), "keys", len(c.keys))
	if err := srv.Serve(ln); err != nil && err != http.ErrServerClosed {
		log.Error("ceiling: serve", "err", err)
		return 1
	}
	return 0
}

func loadCeiling(path string) (*ceiling, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	c := &ceiling{keys: make(map[[sha256.Size]byte]string)}
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		h := sc.Text()
		var sum [sha256.Size]byte
		if len(h) != 2*sha256.Size {
			return nil, fmt.Errorf("%s:%d: not a hex SHA-256", path, n)
		}
		if _, err := hex.Decode(sum[:], []byte(h)); err != nil {
			return nil, fmt.Errorf("%s:%d: %w", path, n, err)
		}
		c.keys[sum] = "sk-kg-v1-" + h[:3] + "..." + h[len(h)-3:]
	}
	return c, sc.Err()
}
