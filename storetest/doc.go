// Package storetest is the conformance suite for keygate.Store. Every
// storage adapter runs it from its own tests, so the SQLite and PostgreSQL
// adapters are held to the same behaviour: the same errors for the same
// mistakes, the same orderings, the same single-use and no-lost-update
// guarantees under concurrency.
//
// It imports only the root keygate package and test helpers; it knows
// nothing of any database.
package storetest
