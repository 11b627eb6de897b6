package canary

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The metric names, for dashboards and alerts.
const (
	MetricProbes    = "crosstalk_canary_probes_total"
	MetricBursts    = "crosstalk_canary_bursts_total"
	MetricFindings  = "crosstalk_canary_findings_total"
	MetricResponses = "crosstalk_canary_backend_responses_total"
	MetricErrors    = "crosstalk_canary_target_errors_total"
	MetricRefreshes = "crosstalk_canary_session_refreshes_total"
	MetricSpread    = "crosstalk_canary_spread_seconds"
	MetricVerdict   = "crosstalk_canary_verdict"
	MetricInstVerd  = "crosstalk_canary_instance_verdict"
	MetricInstances = "crosstalk_canary_instances"
	MetricReady     = "crosstalk_canary_instances_ready"
)

// markerKinds are the values of the findings' kind label: the oracle's four
// marker kinds, so the label stays bounded whatever the target sends.
var markerKinds = []string{"canary", "static", "identity", "learned"}

var verdicts = []verdict{isolated, leak, inconclusive}

// metrics are the canary's Prometheus series. Labels are bounded: the
// instance (host:port, from a list fixed at start), the marker kind and the
// verdict; never a URL, a path or a user. The instance label is called
// backend. Findings and responses are labelled by the backend that served
// them: the instance, or, probing through a balancer with a backend_header,
// the address the balancer named (at most maxBackends of them, see
// backends.go).
type metrics struct {
	reg       *prometheus.Registry
	probes    *prometheus.CounterVec
	bursts    *prometheus.CounterVec
	findings  *prometheus.CounterVec
	responses *prometheus.CounterVec
	errors    *prometheus.CounterVec
	refreshes *prometheus.CounterVec
	spread    *prometheus.HistogramVec
	verdict   *prometheus.GaugeVec
	instVerd  *prometheus.GaugeVec
	instances prometheus.Gauge
	ready     prometheus.Gauge
}

func newMetrics(c *Canary) *metrics {
	// Not "instance": Prometheus sets that label to the scraped address and
	// would rename ours to exported_instance.
	inst := []string{"backend"}
	m := &metrics{
		reg: prometheus.NewRegistry(),
		probes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricProbes,
			Help: "Probe requests sent and answered or failed, by instance."}, inst),
		bursts: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricBursts,
			Help: "Bursts of simultaneous probes released, by instance."}, inst),
		findings: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricFindings,
			Help: "Responses that carried another user's data, by the backend that served them and marker kind. Any increase is a leak."},
			[]string{"backend", "kind"}),
		responses: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricResponses,
			Help: "Probe responses, by the backend that served them: the instance, or the backend a balancer named in the spec's backend_header."}, inst),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricErrors,
			Help: "Probes the target failed (transport errors, timeouts, 5xx, 403, 429), by instance."}, inst),
		refreshes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: MetricRefreshes,
			Help: "Sessions logged in again after a 401 or a redirect, by instance."}, inst),
		spread: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: MetricSpread,
			Help:    "How close together a burst's requests were: release skew at crosstalk, arrival spread where the target reports it.",
			Buckets: prometheus.ExponentialBuckets(1e-6, 4, 10)}, []string{"backend", "measure"}),
		verdict: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricVerdict,
			Help: "The live verdict: 1 for the current one, 0 for the others."}, []string{"verdict"}),
		instVerd: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: MetricInstVerd,
			Help: "Each instance's live verdict: 1 for the current one, 0 for the others."}, []string{"backend", "verdict"}),
		instances: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricInstances, Help: "Instances probed."}),
		ready: prometheus.NewGauge(prometheus.GaugeOpts{Name: MetricReady,
			Help: "Instances logged in and seeded, ready to probe."}),
	}
	m.reg.MustRegister(m.probes, m.bursts, m.findings, m.responses, m.errors, m.refreshes, m.spread, m.verdict, m.instVerd, m.instances, m.ready)
	m.instances.Set(float64(len(c.inst)))
	// Every series exists from the start at zero, so that increase() and
	// "> 0" alerts see the first leak as a change, not as a new series.
	for _, in := range c.inst {
		m.probes.WithLabelValues(in.name)
		m.bursts.WithLabelValues(in.name)
		m.errors.WithLabelValues(in.name)
		m.refreshes.WithLabelValues(in.name)
		m.newBackend(in.name)
	}
	return m
}

// newBackend makes a backend's series, at zero, when it is first seen.
func (m *metrics) newBackend(b string) {
	m.responses.WithLabelValues(b)
	for _, k := range markerKinds {
		m.findings.WithLabelValues(b, k)
	}
}

// handler serves the exposition with the verdict gauges brought up to date.
func (c *Canary) metricsHandler() http.Handler {
	h := promhttp.HandlerFor(c.metrics.reg, promhttp.HandlerOpts{})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		v := c.Verdict()
		for _, name := range verdicts {
			c.metrics.verdict.WithLabelValues(string(name)).Set(b2f(v.Verdict == name))
		}
		for _, iv := range v.Instances {
			for _, name := range verdicts {
				c.metrics.instVerd.WithLabelValues(iv.Instance, string(name)).Set(b2f(iv.Verdict == name))
			}
		}
		h.ServeHTTP(w, r)
	})
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
