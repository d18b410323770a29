package main

import (
	"bytes"
	"crypto/sha256"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"testing"
)

// TestDatabaseErrorsInWords: a --database that cannot be opened is an
// error that says why in words, never SQLite's numeric code alone.
func TestDatabaseErrorsInWords(t *testing.T) {
	dir := t.TempDir()
	tests := []struct {
		name string
		args []string
		want string
	}{
		{"directory-missing", []string{"keys", "create", "--user", "a@example.com", "--database", filepath.Join(dir, "nope", "k.db")}, "directory " + filepath.Join(dir, "nope") + " does not exist"},
		{"directory-missing-list", []string{"keys", "list", "--user", "a@example.com", "--database", filepath.Join(dir, "nope", "k.db")}, "does not exist"},
		{"path-is-directory", []string{"keys", "create", "--user", "a@example.com", "--database", dir}, "is a directory, not a database file"},
		{"list-missing-file", []string{"keys", "list", "--user", "a@example.com", "--database", filepath.Join(dir, "missing.db")}, "the file does not exist"},
		{"mysql-url", []string{"keys", "list", "--user", "a@example.com", "--database", "mysql://u@db.example/keygate"}, `unknown URL scheme "mysql"`},
		{"ftp-url", []string{"users", "create", "a@example.com", "--database", "ftp://files.example/k.db"}, `unknown URL scheme "ftp"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := runCLI(t, "", tt.args...)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("keygate %s: error %v, want one saying %q", strings.Join(tt.args, " "), err, tt.want)
			}
			if strings.Contains(err.Error(), "(14)") || strings.Contains(err.Error(), "(10)") {
				t.Errorf("error %q shows SQLite's numeric code", err)
			}
		})
	}
	if _, err := os.Stat(filepath.Join(dir, "missing.db")); err == nil {
		t.Error("keys list created the database file it was asked to read")
	}
}

// TestReadOnlyDatabase runs the real binary as a user who may not write the
// database file nor its directory (nobody, when the test runs as root):
// keys list and workspaces list work and change nothing; commands that
// write say the file or directory is read-only.
func TestReadOnlyDatabase(t *testing.T) {
	if testing.Short() || runtime.GOOS != "linux" {
		t.Skip("builds the binary and runs it as another user (Linux)")
	}
	root := t.TempDir()
	dir := filepath.Join(root, "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	db := filepath.Join(dir, "keygate.db")
	mustCLI(t, "correct horse battery staple\n", "users", "create", "alice@example.com", "--password-stdin", "--database", db)
	mustCLI(t, "", "keys", "create", "--user", "alice@example.com", "--name", "laptop", "--database", db)

	bin := filepath.Join(root, "keygate")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	// t.TempDir makes its directories 0700: nobody must reach the binary.
	for _, p := range []string{filepath.Dir(root), root, bin} {
		if err := os.Chmod(p, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Chmod(db, 0o444); err != nil {
		t.Fatal(err)
	}
	if err := os.Chmod(dir, 0o555); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.Chmod(dir, 0o755) })
	before := fileSum(t, db)

	run := func(args ...string) (string, error) {
		cmd := exec.Command(bin, args...)
		if os.Geteuid() == 0 {
			cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		}
		var out, errOut bytes.Buffer
		cmd.Stdout, cmd.Stderr = &out, &errOut
		err := cmd.Run()
		if err != nil {
			return out.String(), &cliFailure{err, errOut.String()}
		}
		return out.String(), nil
	}
	out, err := run("keys", "list", "--user", "alice@example.com", "--database", db)
	if err != nil || !strings.Contains(out, "laptop") {
		t.Fatalf("keys list on a read-only file = %q, %v; want the key laptop", out, err)
	}
	if out, err := run("workspaces", "list", "--user", "alice@example.com", "--database", db); err != nil || !strings.Contains(out, "Default") {
		t.Fatalf("workspaces list on a read-only file = %q, %v; want the default workspace", out, err)
	}
	if _, err := run("keys", "create", "--user", "alice@example.com", "--database", db); err == nil || !strings.Contains(err.Error(), "read-only for this user") {
		t.Errorf("keys create on a read-only file: error %v, want it to say the file is read-only", err)
	}
	if _, err := run("users", "create", "bob@example.com", "--database", filepath.Join(dir, "other.db")); err == nil || !strings.Contains(err.Error(), "not writable by this user") {
		t.Errorf("users create in a read-only directory: error %v, want it to say the directory is not writable", err)
	}
	if after := fileSum(t, db); after != before {
		t.Error("the read-only commands changed the database file")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("the directory holds %d entries, want the database alone", len(entries))
	}
}

// cliFailure is a failed run of the binary, with what it printed on stderr.
type cliFailure struct {
	err    error
	stderr string
}

func (f *cliFailure) Error() string { return f.err.Error() + ": " + f.stderr }

func fileSum(t *testing.T, path string) [32]byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return sha256.Sum256(b)
}
