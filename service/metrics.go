package service

import (
	"context"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/reprover/reprover/verify"
)

// metrics are the service's Prometheus metrics, in a registry of its own.
type metrics struct {
	reg       *prometheus.Registry
	submitted prometheus.Counter
	jobs      *prometheus.CounterVec
	duration  *prometheus.HistogramVec
	requests  *prometheus.CounterVec
	buildkit  *prometheus.CounterVec
}

func newMetrics(st *Store) *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	m.submitted = prometheus.NewCounter(prometheus.CounterOpts{Name: "reprover_verifications_submitted_total",
		Help: "Verifications accepted (new requests, not repeats)."})
	m.jobs = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reprover_jobs_finished_total",
		Help: "Verifications finished, by status (done, failed) and verdict."}, []string{"status", "verdict"})
	m.duration = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "reprover_job_duration_seconds",
		Help: "Time from a worker claiming a verification to its result.", Buckets: prometheus.ExponentialBuckets(0.25, 2, 14)}, []string{"status"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reprover_http_requests_total",
		Help: "HTTP requests by route and status code."}, []string{"route", "code"})
	m.buildkit = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "reprover_buildkit_connections_total",
		Help: "Connections to each BuildKit daemon of the pool, by outcome (ok, failed); a failed member is passed over for a while."}, []string{"daemon", "outcome"})
	var mu sync.Mutex
	var cached map[string]int
	var at time.Time
	counts := func(status string) func() float64 {
		return func() float64 {
			mu.Lock()
			defer mu.Unlock()
			if time.Since(at) > time.Second {
				ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
				if c, err := st.Counts(ctx); err == nil {
					cached, at = c, time.Now()
				}
				cancel()
			}
			return float64(cached[status])
		}
	}
	depth := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "reprover_queue_depth", Help: "Verifications waiting for a worker."}, counts(StatusQueued))
	running := prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "reprover_jobs_running", Help: "Verifications being worked on."}, counts(StatusRunning))
	m.reg.MustRegister(m.submitted, m.jobs, m.duration, m.requests, m.buildkit, depth, running,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	for _, s := range []string{StatusQueued, StatusRunning, StatusDone, StatusFailed} {
		statusGauge(m.reg, s, counts(s))
	}
	return m
}

func statusGauge(reg *prometheus.Registry, status string, f func() float64) {
	reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "reprover_verifications", Help: "Stored verifications by status.",
		ConstLabels: prometheus.Labels{"status": status}}, f))
}

// daemon counts a pool member's answer or failure.
func (m *metrics) daemon(addr string, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "failed"
	}
	m.buildkit.WithLabelValues(addr, outcome).Inc()
}

func (m *metrics) finished(status string, verdict verify.Verdict, d time.Duration) {
	m.jobs.WithLabelValues(status, string(verdict)).Inc()
	m.duration.WithLabelValues(status).Observe(d.Seconds())
}
