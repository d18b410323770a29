// Package crashtest holds end-to-end tests that run the keygate binary as a
// separate process and kill it: under an exchange load, SIGKILL mid-load,
// restart on the same SQLite file, then check that every key a client was
// given works, that no code can be exchanged twice, and that the database
// passes PRAGMA integrity_check; flood it with sign-ins, then check its
// peak memory and that it still signs people in. Likewise for spending: the
// test binary, run again as a child, settles charges under load until it is
// killed, and every settlement it acknowledged must be charged exactly once.
// It has no code of its own; it imports nothing of keygate's but what its
// tests need to run that child and inspect the file.
package crashtest
