// Package fluentforward speaks Fluentd's Forward protocol (v1): it encodes events in
// MessagePack as Forward mode entries ([tag, [[time, record], ...], option]), sends them
// over TCP or a Unix socket, and decodes what a receiver gets, so ecsd's fluentd log
// driver, FireLens and the tests' receivers share one implementation.
//
// Only the parts of MessagePack the protocol needs are here; the decoder bounds every
// length it reads so a hostile peer cannot make it allocate without limit.
package fluentforward
