// Package emulator is keygate for apps' tests and CI (`keygate emulate`):
// every endpoint of keygate serve over a store of its own, GET /auth
// approved or denied at once with nobody at a browser, the built-in
// models keygate/echo and keygate/lorem served through the gateway with
// deterministic token counts, prices and faults, an adjustable clock, and
// a control API under /emulator/ that keygate serve never has.
// docs/emulator.md documents it; package keygatetest runs it inside Go
// tests.
package emulator
