package web

import (
	"context"
	"crypto/subtle"
	"net/http"
	"strings"
	"time"

	"github.com/labstack/echo/v4"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/syncguard/syncguard/store"
)

// /metrics speaks the Prometheus text format to a scraper with the bearer
// token of serve --metrics-token-file; without that flag it does not exist
// (404). Every figure is read from the database at scrape time
// (store.Metrics), so cycles run by `syncguard sync` or another serve on
// the same database count as well.

// collector reads the metrics from the store on each scrape.
type collector struct {
	st       *store.Store
	cycles   *prometheus.Desc
	duration *prometheus.Desc
	objects  *prometheus.Desc
	outbox   *prometheus.Desc
	gauges   map[string]*prometheus.Desc // store.ConfigurationGauges, by name
}

func newCollector(st *store.Store) *collector {
	conf := []string{"configuration"}
	c := &collector{st: st,
		cycles: prometheus.NewDesc("syncguard_cycles_total", "Cycles run, by outcome (succeeded, quarantined, failed).",
			[]string{"configuration", "outcome"}, nil),
		duration: prometheus.NewDesc("syncguard_cycle_duration_seconds", "How long cycles took, from reading the source to the committed result.",
			conf, nil),
		objects: prometheus.NewDesc("syncguard_objects", "Objects in the target directory, by type (user, group).",
			[]string{"configuration", "type"}, nil),
		outbox: prometheus.NewDesc("syncguard_outbox_pending", "Notifications waiting in the outbox to be sent.", nil, nil),
		gauges: map[string]*prometheus.Desc{},
	}
	for _, g := range store.ConfigurationGauges {
		c.gauges[g.Name] = prometheus.NewDesc("syncguard_"+g.Name, g.Help, conf, nil)
	}
	return c
}

// Describe sends nothing: the collector is unchecked, as the configurations
// (and so the series) come and go between scrapes.
func (c *collector) Describe(chan<- *prometheus.Desc) {}

// Collect reads the database and sends every figure; a failed read is an
// invalid metric, which fails the scrape (500) rather than showing zeros.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	m, err := c.st.Metrics(ctx)
	if err != nil {
		ch <- prometheus.NewInvalidMetric(c.outbox, err)
		return
	}
	names := map[int64]string{}
	for _, cm := range m.Configurations {
		names[cm.ID] = cm.Name
		ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(cm.Users), cm.Name, "user")
		ch <- prometheus.MustNewConstMetric(c.objects, prometheus.GaugeValue, float64(cm.Groups), cm.Name, "group")
		for _, g := range store.ConfigurationGauges {
			ch <- prometheus.MustNewConstMetric(c.gauges[g.Name], prometheus.GaugeValue, cm.Gauges[g.Name], cm.Name)
		}
	}
	c.collectCycles(ch, m.Cycles, names)
	ch <- prometheus.MustNewConstMetric(c.outbox, prometheus.GaugeValue, float64(m.OutboxPending))
}

// collectCycles sends the cycle counter by outcome and one duration
// histogram per configuration (all outcomes), its buckets cumulative.
func (c *collector) collectCycles(ch chan<- prometheus.Metric, stats []store.CycleStat, names map[int64]string) {
	type hist struct {
		count   uint64
		sum     float64
		buckets map[float64]uint64
	}
	hists := map[int64]*hist{}
	for _, st := range stats {
		name, ok := names[st.ConfigID]
		if !ok {
			continue
		}
		ch <- prometheus.MustNewConstMetric(c.cycles, prometheus.CounterValue, float64(st.Cycles), name, strings.ToLower(st.Outcome))
		h := hists[st.ConfigID]
		if h == nil {
			h = &hist{buckets: map[float64]uint64{}}
			hists[st.ConfigID] = h
		}
		h.count += uint64(st.Cycles)
		h.sum += st.Total.Seconds()
		var below uint64
		for _, b := range store.CycleDurationBuckets {
			below += uint64(st.Buckets[b])
			h.buckets[b.Seconds()] += below
		}
	}
	for id, h := range hists {
		ch <- prometheus.MustNewConstHistogram(c.duration, h.count, h.sum, h.buckets, names[id])
	}
}

// metricsHandler serves /metrics to the holder of token; with no token
// (serve without --metrics-token-file) there is nothing there.
func (s *Server) metricsHandler(token string) echo.HandlerFunc {
	if token == "" {
		return func(echo.Context) error { return echo.ErrNotFound }
	}
	reg := prometheus.NewPedanticRegistry()
	reg.MustRegister(newCollector(s.store))
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorHandling: promhttp.HTTPErrorOnError})
	want := []byte("Bearer " + token)
	return func(c echo.Context) error {
		got := []byte(c.Request().Header.Get("Authorization"))
		if subtle.ConstantTimeCompare(got, want) != 1 {
			c.Response().Header().Set("WWW-Authenticate", `Bearer realm="syncguard metrics"`)
			return c.String(http.StatusUnauthorized, "a bearer token is needed: the one of serve --metrics-token-file\n")
		}
		h.ServeHTTP(c.Response(), c.Request())
		return nil
	}
}
