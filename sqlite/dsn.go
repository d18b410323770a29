package sqlite

import (
	"errors"
	"fmt"
	"net/url"
	"strings"
)

// ParsePath returns the database file path named by dsn, which is one of:
//
//	/var/lib/keygate/keygate.db     a plain path, absolute or relative
//	sqlite:///var/lib/keygate/kg.db an absolute path (three slashes)
//	sqlite://keygate.db             a path relative to the working directory
//	file:/abs/kg.db, file:///abs/kg.db, file://localhost/abs/kg.db, file:rel.db
//
// In the URL forms the path is percent-decoded. It is an error for dsn to be
// empty, to carry a query or fragment (keygate sets every connection
// parameter itself), to name another host, or to name an in-memory
// database: each pooled connection to ":memory:" would see its own empty
// database.
func ParsePath(dsn string) (string, error) {
	path, err := parsePath(dsn)
	if err != nil {
		return "", fmt.Errorf("sqlite: database %q: %w", dsn, err)
	}
	return path, nil
}

func parsePath(dsn string) (string, error) {
	var rest string
	switch {
	case strings.HasPrefix(dsn, "sqlite://"):
		rest = strings.TrimPrefix(dsn, "sqlite://")
	case strings.HasPrefix(dsn, "file:"):
		rest = strings.TrimPrefix(dsn, "file:")
		// RFC 8089: "file://host/path", where only an empty host or
		// "localhost" can mean this machine.
		if after, ok := strings.CutPrefix(rest, "//"); ok {
			host, path, _ := strings.Cut(after, "/")
			if host != "" && !strings.EqualFold(host, "localhost") {
				return "", fmt.Errorf("host %q is not this machine", host)
			}
			rest = "/" + path
		}
	default:
		return checkPath(dsn)
	}
	if strings.ContainsAny(rest, "?#") {
		return "", errors.New("query parameters and fragments are not supported")
	}
	path, err := url.PathUnescape(rest)
	if err != nil {
		return "", err
	}
	return checkPath(path)
}

func checkPath(path string) (string, error) {
	switch {
	case path == "" || path == "/":
		return "", errors.New("no file path")
	case path == ":memory:" || strings.HasPrefix(path, "file::memory:"):
		return "", errors.New("in-memory databases are not supported; name a file")
	case strings.ContainsRune(path, 0):
		return "", errors.New("NUL in file path")
	}
	return path, nil
}

// connString returns the driver's name for the file at path with the given
// query parameters. The path goes in a "file:" URI with '%', '?' and '#'
// escaped, so that no file name can be read as parameters.
func connString(path string, params url.Values) string {
	var b strings.Builder
	b.WriteString("file:")
	if strings.HasPrefix(path, "/") {
		// An empty authority, so that a path starting "//" is not read
		// as a host.
		b.WriteString("//")
	}
	for i := 0; i < len(path); i++ {
		switch c := path[i]; {
		case c == '%' || c == '?' || c == '#' || c <= ' ' || c >= 0x7f:
			fmt.Fprintf(&b, "%%%02X", c)
		default:
			b.WriteByte(c)
		}
	}
	b.WriteByte('?')
	b.WriteString(params.Encode())
	return b.String()
}
