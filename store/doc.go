// Package store is ecsd's authoritative object store: an in-memory, API-server-like store of
// the api/v1alpha1 kinds with optimistic concurrency, a Spec/Status split, finalizers, a
// bounded watch history and a durable bbolt checkpoint.
//
// ecsd has no API server, yet its reconcilers are ordinary controller-runtime controllers. The
// store closes that gap: ListerWatcher feeds client-go SharedIndexInformers, Cache exposes them
// as a controller-runtime cache.Cache (so source.Kind works and controllers wait for sync), and
// Client is a client.Client that reads from that cache and writes here.
//
// Consistency model, in short:
//   - A write returns only after it is durable (when a checkpoint is configured) and visible to
//     Store.Get/List and DirectClient. Writes to the same object are serialised; writes to
//     different objects share one bbolt transaction and one fsync (group commit).
//   - Watchers, and therefore informers and Client reads, see a write asynchronously, normally
//     well under a millisecond later. Read-your-writes through Client is not guaranteed, exactly
//     as with a real API server and a controller-runtime cache.
//   - Stored objects are immutable and never handed out: everything in and out is deep-copied.
package store
