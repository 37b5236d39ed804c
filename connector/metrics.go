package connector

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/onoffsync/onoffsync/store"
)

// Metrics are the Prometheus series onoffsync exports, on a registry of their own (no global state).
type Metrics struct {
	Registry *prometheus.Registry

	Received     *prometheus.CounterVec   // webhooks by outcome
	Commit       prometheus.Histogram     // durable write latency of one webhook
	Deliveries   *prometheus.CounterVec   // jobs finished or retried, by destination and outcome
	APICalls     *prometheus.CounterVec   // adapter calls by destination and kind
	RateWaits    *prometheus.CounterVec   // rate-limit answers by destination
	BatchSize    *prometheus.HistogramVec // activities per LogActivities call
	EndToEnd     *prometheus.HistogramVec // received -> confirmed in the CRM
	ContactCache *prometheus.CounterVec   // cache lookups by destination and result
}

// NewMetrics registers onoffsync's series and the store-derived gauges (read at scrape time).
func NewMetrics(st *store.Store, now func() time.Time) *Metrics {
	r := prometheus.NewRegistry()
	m := &Metrics{
		Registry: r,
		Received: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onoffsync_events_received_total",
			Help: "Webhooks received, by outcome."}, []string{"outcome"}),
		Commit: prometheus.NewHistogram(prometheus.HistogramOpts{Name: "onoffsync_commit_seconds",
			Help: "Time to store one webhook durably (fsync'd).", Buckets: prometheus.ExponentialBuckets(0.0002, 2, 14)}),
		Deliveries: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onoffsync_deliveries_total",
			Help: "Job outcomes by destination."}, []string{"destination", "outcome"}),
		APICalls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onoffsync_api_calls_total",
			Help: "CRM adapter calls by destination and kind."}, []string{"destination", "kind"}),
		RateWaits: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onoffsync_rate_limit_waits_total",
			Help: "Rate-limit answers from the CRM, by destination."}, []string{"destination"}),
		BatchSize: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "onoffsync_batch_size",
			Help: "Activities per CRM write call.", Buckets: []float64{1, 2, 5, 10, 20, 50, 100, 200}}, []string{"destination"}),
		EndToEnd: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "onoffsync_end_to_end_seconds",
			Help: "From webhook received to confirmed in the CRM.", Buckets: prometheus.ExponentialBuckets(0.01, 2, 16)}, []string{"destination"}),
		ContactCache: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "onoffsync_contact_cache_total",
			Help: "Contact cache lookups by destination and result (hit, miss)."}, []string{"destination", "result"}),
	}
	r.MustRegister(m.Received, m.Commit, m.Deliveries, m.APICalls, m.RateWaits, m.BatchSize, m.EndToEnd, m.ContactCache,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		&storeCollector{st: st, now: now})
	return m
}

// storeCollector exports job counts, oldest pending age and quarantine size from the store at scrape time.
type storeCollector struct {
	st  *store.Store
	now func() time.Time
}

var (
	descJobs       = prometheus.NewDesc("onoffsync_jobs", "Jobs by destination and state.", []string{"destination", "state"}, nil)
	descOldest     = prometheus.NewDesc("onoffsync_oldest_pending_seconds", "Age of the oldest unfinished job.", []string{"destination"}, nil)
	descQuarantine = prometheus.NewDesc("onoffsync_quarantine_events", "Events in quarantine.", nil, nil)
)

func (c *storeCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- descJobs
	ch <- descOldest
	ch <- descQuarantine
}

func (c *storeCollector) Collect(ch chan<- prometheus.Metric) {
	stats, q, err := c.st.Stats()
	if err != nil {
		return
	}
	for dest, ds := range stats {
		for _, state := range store.States {
			ch <- prometheus.MustNewConstMetric(descJobs, prometheus.GaugeValue, float64(ds.Counts[state]), dest, state)
		}
		age := 0.0
		if !ds.OldestPending.IsZero() {
			age = c.now().Sub(ds.OldestPending).Seconds()
		}
		ch <- prometheus.MustNewConstMetric(descOldest, prometheus.GaugeValue, age, dest)
	}
	ch <- prometheus.MustNewConstMetric(descQuarantine, prometheus.GaugeValue, float64(q))
}
