package postgres_test

import (
	"testing"

	"github.com/keygate/keygate"
	"github.com/keygate/keygate/postgres/pgtest"
	"github.com/keygate/keygate/storetest"
)

// TestConformance runs the store suite, each test on a schema of its own.
func TestConformance(t *testing.T) {
	pgtest.URL(t)
	storetest.Run(t, func(t *testing.T) keygate.Store { return pgtest.Open(t) })
}
