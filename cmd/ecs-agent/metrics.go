package main

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controllers/datadir"
	"github.com/ecsd/ecsd/internal/prommetrics"
	"github.com/ecsd/ecsd/internal/version"
	"github.com/ecsd/ecsd/store"
)

// startMetrics makes the agent's Prometheus collectors over the store's cache, the
// sessions' trackers and the data directory monitor, and hooks the launch and pull
// histograms to the cache's informers; it must run before the cache starts. It returns
// what /metrics serves: this registry, and controller-runtime's (reconcile counts, errors
// and latencies per controller, work queues, the Go runtime and the process), which its
// controllers fill wherever they run.
func startMetrics(ctx context.Context, st *store.Store, cp *connected, dataDir *datadir.Monitor) (prometheus.Gatherer, error) {
	reg := prometheus.NewRegistry()
	m, err := prommetrics.New(reg, prommetrics.Sources{
		Reader:    st.Client(),
		ACS:       cp.acsState,
		TCS:       cp.tcsState,
		LogTotals: dataDir.LogTotals,
		Version:   version.Version,
		GitHash:   version.GitHash,
	})
	if err != nil {
		return nil, err
	}
	if err := m.Watch(ctx, st.Cache()); err != nil {
		return nil, err
	}
	return prometheus.Gatherers{reg, ctrlmetrics.Registry}, nil
}

// storeAnswers is the health the systemd watchdog asks for: the store answers a read
// directly and through its informer cache. A store whose lock is held by a stuck writer,
// or a cache that stopped, fails it (or outlives the watchdog's period), and the agent is
// restarted; a lost ACS session or a containerd outage does not, since a restart would not
// mend either.
func storeAnswers(st *store.Store) func(ctx context.Context) error {
	return func(ctx context.Context) error {
		inst := &api.Instance{}
		if err := st.DirectClient().Get(ctx, keyOf(instanceName), inst); err != nil {
			return fmt.Errorf("store: %w", err)
		}
		if err := st.Client().Get(ctx, keyOf(instanceName), inst); err != nil {
			return fmt.Errorf("store cache: %w", err)
		}
		return nil
	}
}
