package prommetrics

import (
	"net/http"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Path is where the metrics are served.
const Path = "/metrics"

// maxInFlight bounds concurrent scrapes: each lists the cache, so a flood of them would
// cost the agent CPU; the excess get 503.
const maxInFlight = 4

// Handler serves g at Path (GET and HEAD) in Prometheus' text or protobuf formats, and
// 404 anywhere else. Anyone who can reach the port may scrape: the metrics hold counts,
// ages and durations, no task ARNs, names or secrets. A collector that fails is logged
// and left out of that scrape; the rest is served.
func Handler(g prometheus.Gatherer, log logr.Logger) http.Handler {
	metrics := promhttp.HandlerFor(g, promhttp.HandlerOpts{
		ErrorLog:            errorLog{log},
		ErrorHandling:       promhttp.ContinueOnError,
		MaxRequestsInFlight: maxInFlight,
	})
	mux := http.NewServeMux()
	mux.HandleFunc(Path, func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			w.Header().Set("Allow", "GET, HEAD")
			http.Error(w, "only GET and HEAD", http.StatusMethodNotAllowed)
			return
		}
		metrics.ServeHTTP(w, r)
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		http.Error(w, "metrics are at "+Path, http.StatusNotFound)
	})
	return mux
}

// errorLog is promhttp's error log on logr.
type errorLog struct{ log logr.Logger }

func (e errorLog) Println(v ...any) { e.log.Info("metrics scrape error", "error", v) }
