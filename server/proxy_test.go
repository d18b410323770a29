package server_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/keygate/keygate"
)

// The forward-auth configurations of docs/integrations.md, run in a real
// nginx and a real Caddy in front of a test upstream, asking a real
// keygate. Without the binary the test is skipped, unless CI=true, where
// it fails.

// nginxConf is docs/integrations.md's nginx configuration with the test's
// addresses and a prefix of its own: {{dir}}, {{user}}, {{listen}},
// {{keygate}}, {{upstream}}.
const nginxConf = `user {{user}};
worker_processes 1;
daemon off;
pid {{dir}}/nginx.pid;
error_log {{dir}}/error.log warn;
events { worker_connections 64; }
http {
    access_log off;
    client_body_temp_path {{dir}}/client_body;
    proxy_temp_path {{dir}}/proxy;
    fastcgi_temp_path {{dir}}/fastcgi;
    uwsgi_temp_path {{dir}}/uwsgi;
    scgi_temp_path {{dir}}/scgi;

    upstream keygate { server {{keygate}}; }
    upstream inference { server {{upstream}}; }

    server {
        listen {{listen}};

        location / {
            auth_request /_keygate/verify;
            auth_request_set $keygate_user_id $upstream_http_x_keygate_user_id;
            auth_request_set $keygate_key_hash $upstream_http_x_keygate_key_hash;
            auth_request_set $keygate_workspace_id $upstream_http_x_keygate_workspace_id;
            auth_request_set $keygate_app_id $upstream_http_x_keygate_app_id;
            auth_request_set $keygate_limit_remaining $upstream_http_x_keygate_limit_remaining;
            auth_request_set $keygate_status $upstream_http_x_keygate_status;
            auth_request_set $keygate_error $upstream_http_x_keygate_error;
            error_page 401 403 500 = @keygate_refused;

            # Replace whatever X-Keygate-* the client sent with keygate's.
            proxy_set_header X-Keygate-User-Id $keygate_user_id;
            proxy_set_header X-Keygate-Key-Hash $keygate_key_hash;
            proxy_set_header X-Keygate-Workspace-Id $keygate_workspace_id;
            proxy_set_header X-Keygate-App-Id $keygate_app_id;
            proxy_set_header X-Keygate-Limit-Remaining $keygate_limit_remaining;
            proxy_set_header X-Keygate-Status "";
            proxy_set_header X-Keygate-Error "";
            proxy_pass http://inference;
        }

        location = /_keygate/verify {
            internal;
            proxy_pass http://keygate/api/v1/auth/verify;
            proxy_pass_request_body off;
            proxy_set_header Content-Length "";
            proxy_set_header X-Original-URI $request_uri;
            proxy_set_header X-Forwarded-Method $request_method;
        }

        location @keygate_refused {
            default_type application/json;
            add_header Cache-Control no-store always;
            if ($keygate_status = 401) { return 401 '{"error":{"code":401,"message":"$keygate_error"}}'; }
            if ($keygate_status = 402) { return 402 '{"error":{"code":402,"message":"$keygate_error"}}'; }
            if ($keygate_status = 403) { return 403 '{"error":{"code":403,"message":"$keygate_error"}}'; }
            return 503 '{"error":{"code":503,"message":"keygate could not authorize this request"}}';
        }
    }
}
`

// caddyConf is docs/integrations.md's Caddyfile with the test's addresses
// ({{listen}}, {{keygate}}, {{upstream}}) and its admin endpoint off.
const caddyConf = `{
	admin off
	auto_https off
}

http://{{listen}} {
	route {
		# Drop whatever X-Keygate-* the client sent before asking keygate.
		request_header -X-Keygate-*
		forward_auth {{keygate}} {
			uri /api/v1/auth/verify
			copy_headers X-Keygate-User-Id X-Keygate-Key-Hash X-Keygate-Workspace-Id X-Keygate-App-Id X-Keygate-Limit-Remaining
		}
		reverse_proxy {{upstream}}
	}
}
`

func TestNginxForwardAuth(t *testing.T) {
	bin := proxyBinary(t, "/usr/sbin/nginx")
	f := newFwd(t)
	up := newRecordingUpstream(t)
	dir := t.TempDir()
	u, err := user.Current()
	if err != nil {
		t.Fatal(err)
	}
	listen := freeAddr(t)
	conf := fill(nginxConf, "{{dir}}", dir, "{{user}}", u.Username, "{{listen}}", listen,
		"{{keygate}}", strings.TrimPrefix(f.srv.URL, "http://"), "{{upstream}}", strings.TrimPrefix(up.srv.URL, "http://"))
	path := filepath.Join(dir, "nginx.conf")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	startProxy(t, listen, filepath.Join(dir, "error.log"), bin, "-p", dir, "-e", filepath.Join(dir, "error.log"), "-c", path)
	proxyScenario(t, f, up, "http://"+listen)
}

func TestCaddyForwardAuth(t *testing.T) {
	bin := proxyBinary(t, "/usr/bin/caddy")
	f := newFwd(t)
	up := newRecordingUpstream(t)
	dir := t.TempDir()
	listen := freeAddr(t)
	conf := fill(caddyConf, "{{listen}}", listen,
		"{{keygate}}", strings.TrimPrefix(f.srv.URL, "http://"), "{{upstream}}", strings.TrimPrefix(up.srv.URL, "http://"))
	path := filepath.Join(dir, "Caddyfile")
	if err := os.WriteFile(path, []byte(conf), 0o600); err != nil {
		t.Fatal(err)
	}
	log := filepath.Join(dir, "caddy.log")
	startProxy(t, listen, log, bin, "run", "--config", path, "--adapter", "caddyfile")
	proxyScenario(t, f, up, "http://"+listen)
}

// proxyScenario drives a proxy at base that asks keygate f before passing
// requests to up: a good key passes and up sees keygate's X-Keygate-*
// values only, whatever the client sent; a bad key is 401, a key past its
// limit 403, each with keygate's JSON error; a key disabled through the
// API is refused within a second.
func proxyScenario(t *testing.T, f *fwd, up *recordingUpstream, base string) {
	ctx := context.Background()
	good := f.newKey(nil)
	limited := f.newKey(ptr(0.0001))
	usageResult(t, f.report(map[string]any{"id": "spent", "key": limited, "model": "m", "cost": 0.0001}))
	forged := []string{"X-Keygate-User-Id", "victim", "X-Keygate-Key-Hash", "forged", "X-Keygate-Limit-Remaining", "1000000", "X-Keygate-App-Id", "7"}
	gk, err := f.store.Key(ctx, keygate.HashSecret(good))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		"X-Keygate-User-Id": f.user.ID, "X-Keygate-Key-Hash": gk.Hash, "X-Keygate-Workspace-Id": gk.WorkspaceID,
		"X-Keygate-App-Id": "none", "X-Keygate-Limit-Remaining": "unlimited",
	}

	tests := []struct {
		name    string
		key     string
		status  int
		message string
	}{
		{"good-key", good, 200, ""},
		{"unknown-key", "sk-or-v1-" + strings.Repeat("1", 64), 401, "Invalid API key"},
		{"no-key", "", 401, "Missing Authentication header"},
		{"past-its-limit", limited, 403, "Key limit exceeded (total limit)"},
		{"service-token", f.token, 401, "Invalid API key"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := forged
			if tt.key != "" {
				h = append([]string{"Authorization", "Bearer " + tt.key}, forged...)
			}
			calls := up.count()
			r := doURL(t, "POST", base+"/v1/chat/completions?stream=false", `{"model":"m"}`, h...)
			if r.status != tt.status {
				t.Fatalf("status %d, want %d (%s)", r.status, tt.status, r.body)
			}
			if tt.status != 200 {
				if m := r.errMessage(t); m != tt.message {
					t.Errorf("message %q, want %q", m, tt.message)
				}
				if up.count() != calls {
					t.Error("the upstream was called for a refused key")
				}
				return
			}
			got := up.last()
			for name, v := range want {
				if vs := got.Values(name); len(vs) != 1 || vs[0] != v {
					t.Errorf("upstream saw %s = %q, want [%q]", name, vs, v)
				}
			}
		})
	}

	t.Run("disabled-through-the-API", func(t *testing.T) {
		key := f.newKey(nil)
		auth := []string{"Authorization", "Bearer " + key}
		if r := doURL(t, "GET", base+"/v1/models", "", auth...); r.status != 200 {
			t.Fatalf("before: %d %s", r.status, r.body)
		}
		if r := f.do("PATCH", "/api/v1/keys/"+keygate.HashSecret(key), `{"disabled":true}`, "Authorization", "Bearer "+f.mgmtKey, "Content-Type", "application/json"); r.status != 200 {
			t.Fatalf("disable: %d %s", r.status, r.body)
		}
		deadline := time.Now().Add(time.Second)
		for {
			r := doURL(t, "GET", base+"/v1/models", "", auth...)
			if r.status == 401 {
				return
			}
			if time.Now().After(deadline) {
				t.Fatalf("a second after the key was disabled the proxy still answers %d", r.status)
			}
			time.Sleep(50 * time.Millisecond)
		}
	})
}

// proxyBinary returns path, or skips the test when it is not installed
// (fails under CI=true, where .ci/run installs it).
func proxyBinary(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("%s is required under CI: %v", path, err)
		}
		t.Skipf("%s is not installed", path)
	}
	return path
}

// startProxy runs bin with args until the test ends, and waits until it
// accepts connections on listen. Its output goes to logPath, shown when
// it does not start.
func startProxy(t *testing.T, listen, logPath, bin string, args ...string) {
	t.Helper()
	out, err := os.Create(logPath + ".out")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.Env = append(os.Environ(), "HOME="+filepath.Dir(logPath), "XDG_DATA_HOME="+filepath.Dir(logPath), "XDG_CONFIG_HOME="+filepath.Dir(logPath))
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	exited := make(chan struct{})
	go func() { cmd.Wait(); close(exited) }()
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-exited
		out.Close()
	})
	for deadline := time.Now().Add(10 * time.Second); ; {
		if c, err := net.DialTimeout("tcp", listen, 100*time.Millisecond); err == nil {
			c.Close()
			return
		}
		select {
		case <-exited:
		default:
			if time.Now().Before(deadline) {
				time.Sleep(50 * time.Millisecond)
				continue
			}
		}
		b, _ := os.ReadFile(logPath + ".out")
		l, _ := os.ReadFile(logPath)
		t.Fatalf("%s did not start on %s:\n%s\n%s", bin, listen, b, l)
	}
}

// freeAddr returns a loopback address with a port free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// fill replaces each placeholder of pairs in s.
func fill(s string, pairs ...string) string { return strings.NewReplacer(pairs...).Replace(s) }

// recordingUpstream is an inference server stand-in that answers 200 and
// keeps the headers of each request.
type recordingUpstream struct {
	srv     *httptest.Server
	mu      sync.Mutex
	headers []http.Header
}

func newRecordingUpstream(t *testing.T) *recordingUpstream {
	u := &recordingUpstream{}
	u.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		u.mu.Lock()
		u.headers = append(u.headers, r.Header.Clone())
		u.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"ok":true}`)
	}))
	t.Cleanup(u.srv.Close)
	return u
}

func (u *recordingUpstream) count() int {
	u.mu.Lock()
	defer u.mu.Unlock()
	return len(u.headers)
}

func (u *recordingUpstream) last() http.Header {
	u.mu.Lock()
	defer u.mu.Unlock()
	if len(u.headers) == 0 {
		return http.Header{}
	}
	return u.headers[len(u.headers)-1]
}
