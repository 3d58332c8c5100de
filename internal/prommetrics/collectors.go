package prommetrics

import (
	"context"
	"fmt"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/utils/clock"
	"sigs.k8s.io/controller-runtime/pkg/client"

	api "github.com/ecsd/ecsd/api/v1alpha1"
	"github.com/ecsd/ecsd/controllers/datadir"
	"github.com/ecsd/ecsd/controllers/report"
	"github.com/ecsd/ecsd/controlplane/wssession"
)

// taskStatuses and containerStatuses are every status label value, so that each series
// exists (at 0) from the first scrape instead of appearing when the first task gets there.
var (
	taskStatuses = []api.TaskState{api.TaskStatusNone, api.TaskStatusManifestPulled, api.TaskStatusPulled,
		api.TaskStatusCreated, api.TaskStatusRunning, api.TaskStatusStopped, api.TaskStatusZombie}
	containerStatuses = []api.ContainerState{api.ContainerStatusNone, api.ContainerStatusManifestPulled,
		api.ContainerStatusPulled, api.ContainerStatusCreated, api.ContainerStatusRunning,
		api.ContainerStatusResourcesProvisioned, api.ContainerStatusStopped, api.ContainerStatusZombie}
)

// objectCollector counts tasks, containers, images and unsent state changes from the cache
// when scraped.
type objectCollector struct {
	reader client.Reader
	clock  clock.PassiveClock
}

var (
	descTasks = prometheus.NewDesc(namespace+"_tasks", "Tasks the agent holds, by known status.",
		[]string{"status"}, nil)
	descContainers = prometheus.NewDesc(namespace+"_containers", "Containers the agent holds, by known status.",
		[]string{"status"}, nil)
	descPending = prometheus.NewDesc(namespace+"_state_changes_pending",
		"Task and container status changes ECS has not acknowledged yet (each task or container status is one).", nil, nil)
	descPendingAge = prometheus.NewDesc(namespace+"_state_changes_oldest_pending_seconds",
		"Age of the oldest status change ECS has not acknowledged; 0 when none is waiting.", nil, nil)
	descImages     = prometheus.NewDesc(namespace+"_images", "Images the agent pulled or used and still tracks.", nil, nil)
	descImageBytes = prometheus.NewDesc(namespace+"_image_store_bytes",
		"Sum of the sizes containerd reports for the images the agent tracks (layers shared by several images count once per image).", nil, nil)
)

func (c *objectCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTasks, descContainers, descPending, descPendingAge, descImages, descImageBytes} {
		ch <- d
	}
}

func (c *objectCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), listTimeout)
	defer cancel()
	var tasks api.TaskList
	var ctrs api.ContainerList
	if err := c.reader.List(ctx, &tasks); err != nil {
		invalid(ch, err, descTasks, descPending, descPendingAge)
	} else if err := c.reader.List(ctx, &ctrs); err != nil {
		invalid(ch, err, descTasks, descContainers, descPending, descPendingAge)
	} else {
		c.collectTasks(ch, &tasks, &ctrs)
	}
	var images api.ImageList
	if err := c.reader.List(ctx, &images); err != nil {
		invalid(ch, err, descImages, descImageBytes)
		return
	}
	var bytes int64
	for i := range images.Items {
		bytes += images.Items[i].Status.Size
	}
	ch <- prometheus.MustNewConstMetric(descImages, prometheus.GaugeValue, float64(len(images.Items)))
	ch <- prometheus.MustNewConstMetric(descImageBytes, prometheus.GaugeValue, float64(bytes))
}

func (c *objectCollector) collectTasks(ch chan<- prometheus.Metric, tasks *api.TaskList, ctrs *api.ContainerList) {
	byTask := map[string][]*api.Container{}
	cstat := map[api.ContainerState]int{}
	for i := range ctrs.Items {
		ct := &ctrs.Items[i]
		byTask[ct.Spec.TaskName] = append(byTask[ct.Spec.TaskName], ct)
		cstat[ct.Status.KnownStatus.OrNone()]++
	}
	tstat := map[api.TaskState]int{}
	var backlog report.Backlog
	for i := range tasks.Items {
		t := &tasks.Items[i]
		tstat[t.Status.KnownStatus.OrNone()]++
		backlog.Add(t, byTask[t.Name])
	}
	for _, s := range taskStatuses {
		ch <- prometheus.MustNewConstMetric(descTasks, prometheus.GaugeValue, float64(tstat[s]), string(s))
	}
	for _, s := range containerStatuses {
		ch <- prometheus.MustNewConstMetric(descContainers, prometheus.GaugeValue, float64(cstat[s]), string(s))
	}
	age := 0.0
	if !backlog.Oldest.IsZero() {
		age = max(c.clock.Since(backlog.Oldest).Seconds(), 0)
	}
	ch <- prometheus.MustNewConstMetric(descPending, prometheus.GaugeValue, float64(backlog.Changes))
	ch <- prometheus.MustNewConstMetric(descPendingAge, prometheus.GaugeValue, age)
}

// invalid reports err for each desc: the scrape says what could not be read.
func invalid(ch chan<- prometheus.Metric, err error, descs ...*prometheus.Desc) {
	for _, d := range descs {
		ch <- prometheus.NewInvalidMetric(d, err)
	}
}

// sessionCollector reads a websocket session's tracker when scraped.
type sessionCollector struct {
	tracker                                      *wssession.Tracker
	connected, reconnects, disconnected, silence *prometheus.Desc
}

func newSessionCollector(name string, t *wssession.Tracker) *sessionCollector {
	upper := map[string]string{"acs": "ACS", "tcs": "TCS"}[name]
	return &sessionCollector{tracker: t,
		connected: prometheus.NewDesc(namespace+"_"+name+"_connected",
			fmt.Sprintf("1 while the %s session is connected, else 0.", upper), nil, nil),
		reconnects: prometheus.NewDesc(namespace+"_"+name+"_reconnects_total",
			fmt.Sprintf("%s sessions that came up after the first one.", upper), nil, nil),
		disconnected: prometheus.NewDesc(namespace+"_"+name+"_disconnected_seconds",
			fmt.Sprintf("How long the %s session has been down (since the agent started if it never came up); 0 while connected.", upper), nil, nil),
		silence: prometheus.NewDesc(namespace+"_"+name+"_last_message_age_seconds",
			fmt.Sprintf("Time since the last %s frame was received; absent before the first.", upper), nil, nil),
	}
}

func (c *sessionCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.connected
	ch <- c.reconnects
	ch <- c.disconnected
	ch <- c.silence
}

func (c *sessionCollector) Collect(ch chan<- prometheus.Metric) {
	s, now := c.tracker.State(), c.tracker.Now()
	up, down := 0.0, max(now.Sub(s.Since).Seconds(), 0)
	if s.Connected {
		up, down = 1, 0
	}
	ch <- prometheus.MustNewConstMetric(c.connected, prometheus.GaugeValue, up)
	ch <- prometheus.MustNewConstMetric(c.reconnects, prometheus.CounterValue, float64(s.Reconnects()))
	ch <- prometheus.MustNewConstMetric(c.disconnected, prometheus.GaugeValue, down)
	if !s.LastFrame.IsZero() {
		ch <- prometheus.MustNewConstMetric(c.silence, prometheus.GaugeValue, max(now.Sub(s.LastFrame).Seconds(), 0))
	}
}

// logCollector reads the container loggers' totals when scraped.
type logCollector struct {
	totals func() datadir.LogTotals
}

var (
	descLogWritten = prometheus.NewDesc(namespace+"_container_log_written_bytes_total",
		"Bytes of container output written to the containers' log files.", nil, nil)
	descLogDroppedLines = prometheus.NewDesc(namespace+"_container_log_dropped_lines_total",
		"Lines of container output dropped instead of written (a full data directory, a stalled disk).", nil, nil)
	descLogDroppedBytes = prometheus.NewDesc(namespace+"_container_log_dropped_bytes_total",
		"Bytes of container output dropped instead of written.", nil, nil)
	descLogShipped = prometheus.NewDesc(namespace+"_container_log_shipped_events_total",
		"Log events (lines) the awslogs driver shipped.", nil, nil)
	descLogShipDropped = prometheus.NewDesc(namespace+"_container_log_ship_dropped_events_total",
		"Log events the awslogs driver dropped instead of blocking the container (non-blocking mode).", nil, nil)
)

func newLogCollector(totals func() datadir.LogTotals) *logCollector {
	return &logCollector{totals: totals}
}

func (c *logCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descLogWritten, descLogDroppedLines, descLogDroppedBytes, descLogShipped, descLogShipDropped} {
		ch <- d
	}
}

func (c *logCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.totals()
	for _, m := range []struct {
		d *prometheus.Desc
		v int64
	}{{descLogWritten, t.WrittenBytes}, {descLogDroppedLines, t.DroppedLines}, {descLogDroppedBytes, t.DroppedBytes},
		{descLogShipped, t.ShippedEvents}, {descLogShipDropped, t.ShipDroppedEvents}} {
		ch <- prometheus.MustNewConstMetric(m.d, prometheus.CounterValue, float64(m.v))
	}
}
