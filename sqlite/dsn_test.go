package sqlite_test

import (
	"testing"

	"github.com/keygate/keygate/sqlite"
)

func TestParsePath(t *testing.T) {
	tests := []struct {
		dsn     string
		want    string
		wantErr bool
	}{
		{dsn: "keygate.db", want: "keygate.db"},
		{dsn: "/var/lib/keygate/keygate.db", want: "/var/lib/keygate/keygate.db"},
		{dsn: "./data/keygate.db", want: "./data/keygate.db"},
		{dsn: "sqlite:///var/lib/keygate/keygate.db", want: "/var/lib/keygate/keygate.db"},
		{dsn: "sqlite://keygate.db", want: "keygate.db"},
		{dsn: "sqlite://data/keygate.db", want: "data/keygate.db"},
		{dsn: "sqlite:///tmp/a%20b.db", want: "/tmp/a b.db"},
		{dsn: "file:/tmp/k.db", want: "/tmp/k.db"},
		{dsn: "file:///tmp/k.db", want: "/tmp/k.db"},
		{dsn: "file://localhost/tmp/k.db", want: "/tmp/k.db"},
		{dsn: "file:k.db", want: "k.db"},
		{dsn: "file:data/k%3F.db", want: "data/k?.db"},
		// A plain path is taken as it is, '?' and all.
		{dsn: "/tmp/odd?name.db", want: "/tmp/odd?name.db"},

		{dsn: "", wantErr: true},
		{dsn: ":memory:", wantErr: true},
		{dsn: "file::memory:", wantErr: true},
		{dsn: "file::memory:?cache=shared", wantErr: true},
		{dsn: "sqlite://", wantErr: true},
		{dsn: "sqlite:///", wantErr: true},
		{dsn: "sqlite://:memory:", wantErr: true},
		{dsn: "file:k.db?mode=ro", wantErr: true},
		{dsn: "sqlite:///tmp/k.db?_pragma=foo", wantErr: true},
		{dsn: "file:k.db#frag", wantErr: true},
		{dsn: "file://otherhost/tmp/k.db", wantErr: true},
		{dsn: "sqlite:///tmp/bad%zz.db", wantErr: true},
		{dsn: "sqlite:///tmp/nul%00.db", wantErr: true},
	}
	for _, tt := range tests {
		got, err := sqlite.ParsePath(tt.dsn)
		switch {
		case tt.wantErr && err == nil:
			t.Errorf("ParsePath(%q) = %q, want an error", tt.dsn, got)
		case !tt.wantErr && err != nil:
			t.Errorf("ParsePath(%q) = %v, want %q", tt.dsn, err, tt.want)
		case got != tt.want:
			t.Errorf("ParsePath(%q) = %q, want %q", tt.dsn, got, tt.want)
		}
	}
}

func FuzzParsePath(f *testing.F) {
	for _, s := range []string{"k.db", "sqlite:///a/b.db", "file://localhost/x", "file::memory:", "sqlite://%41"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, dsn string) {
		p, err := sqlite.ParsePath(dsn)
		if err != nil {
			return
		}
		if p == "" || p == ":memory:" {
			t.Errorf("ParsePath(%q) = %q, nil; want an error", dsn, p)
		}
	})
}
