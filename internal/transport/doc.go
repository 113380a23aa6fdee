// Package transport is the HTTP client side every action shares: one
// connection pool whose connects, TLS handshakes, waits for a response and
// pauses inside a transfer are all bounded, and bounded retries with
// exponential backoff and jitter on transient failures (connection refused
// or reset, timeouts, 5xx, 429 and rate-limit 403s honouring Retry-After up
// to a cap). When the tries run out the error says what was asked, how many
// attempts were made over how long, and the last failure.
package transport
