package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// explainOpen turns a failure to open the database file at path into an
// error that says why in words, found by looking at the file system after
// the fact: SQLite itself only says "unable to open database file (14)".
// readOnly tells that the open wanted no write. The message is the
// explanation alone; SQLite's error stays wrapped, for errors.Is and As.
func explainOpen(path string, readOnly bool, cause error) error {
	why := openProblem(path, readOnly)
	if why == "" {
		return cause
	}
	return &openError{path: path, why: why, cause: cause}
}

// openError is a failure to open a database, explained.
type openError struct {
	path, why string
	cause     error
}

func (e *openError) Error() string { return "sqlite: database " + e.path + ": " + e.why }
func (e *openError) Unwrap() error { return e.cause }

// openProblem names what is wrong with path for a database, or "" when
// nothing visible is.
func openProblem(path string, readOnly bool) string {
	dir := filepath.Dir(path)
	fi, err := os.Stat(path)
	switch {
	case err == nil && fi.IsDir():
		return "it is a directory, not a database file"
	case err == nil && !readOnly && !writable(path):
		return "the file is read-only for this user (commands that only read may still work)"
	case err == nil && !readOnly && !dirWritable(dir):
		return fmt.Sprintf("the directory %s is not writable by this user, and SQLite keeps its journal files beside the database", dir)
	case errors.Is(err, fs.ErrNotExist):
		di, derr := os.Stat(dir)
		switch {
		case errors.Is(derr, fs.ErrNotExist):
			return fmt.Sprintf("the directory %s does not exist: create it first", dir)
		case derr == nil && !di.IsDir():
			return fmt.Sprintf("%s is not a directory", dir)
		case readOnly:
			return "the file does not exist"
		case derr == nil && !dirWritable(dir):
			return fmt.Sprintf("the file does not exist and the directory %s is not writable by this user", dir)
		}
	case errors.Is(err, fs.ErrPermission):
		return fmt.Sprintf("this user may not look into the directory %s", dir)
	}
	return ""
}

// writable reports whether this user may open path for writing.
func writable(path string) bool {
	f, err := os.OpenFile(path, os.O_WRONLY, 0)
	if err != nil {
		return false
	}
	f.Close()
	return true
}

// dirWritable reports whether this user may create a file in dir.
func dirWritable(dir string) bool {
	f, err := os.CreateTemp(dir, ".keygate-write-test-*")
	if err != nil {
		return false
	}
	f.Close()
	os.Remove(f.Name())
	return true
}
