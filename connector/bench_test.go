package connector

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/onoffsync/onoffsync/store"
)

// noopHandler is the baseline: a gin handler that only parses the JSON and answers {}.
func noopHandler() http.Handler {
	r := gin.New()
	r.POST("/v1/onoff/sms", func(c *gin.Context) {
		body, _ := io.ReadAll(c.Request.Body)
		var m map[string]any
		if json.Unmarshal(body, &m) != nil {
			c.AbortWithStatus(400)
			return
		}
		c.JSON(200, gin.H{})
	})
	return r
}

func benchClient() *http.Client {
	return &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64, DialContext: (&net.Dialer{}).DialContext}}
}

var benchSeq atomic.Int64

func postOne(c *http.Client, url string) (time.Duration, error) {
	id := benchSeq.Add(1)
	body := fmt.Sprintf(`{"id":"bench-%d","eventName":"SMS","onoffUserName":"John Doe","onoffUserEmail":"john.doe@example.com","onoffUserNumber":"+33612345678","externalNumber":"0698765432","date":"2023-05-20T14:30:00Z","smsDirection":"SENT","body":"This is the body of the SMS"}`, id)
	req, _ := http.NewRequest(http.MethodPost, url+"/v1/onoff/sms", bytes.NewBufferString(body))
	req.Header.Set("Authorization", "x-api-key k1")
	req.Header.Set("Content-Type", "application/json")
	start := time.Now()
	resp, err := c.Do(req)
	if err != nil {
		return 0, err
	}
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 {
		return 0, fmt.Errorf("HTTP %d", resp.StatusCode)
	}
	return time.Since(start), nil
}

// blast sends n requests from `clients` goroutines as fast as they go and returns requests per second.
func blast(tb testing.TB, url string, clients, n int) float64 {
	c := benchClient()
	var wg sync.WaitGroup
	var left atomic.Int64
	left.Store(int64(n))
	start := time.Now()
	for range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for left.Add(-1) >= 0 {
				if _, err := postOne(c, url); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	return float64(n) / time.Since(start).Seconds()
}

// paced sends n requests at a steady rate (from a pool of 32 senders) and returns the latency percentiles.
func paced(tb testing.TB, url string, perSecond, n int) (p50, p99 time.Duration) {
	c := benchClient()
	lat := make([]time.Duration, n)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 32)
	tick := time.NewTicker(time.Second / time.Duration(perSecond))
	defer tick.Stop()
	for i := range n {
		<-tick.C
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer func() { <-sem; wg.Done() }()
			d, err := postOne(c, url)
			if err != nil {
				tb.Error(err)
			}
			lat[i] = d
		}()
	}
	wg.Wait()
	slices.Sort(lat)
	return lat[n/2], lat[n*99/100]
}

func durableReceiver(tb testing.TB) string {
	dir := tb.TempDir()
	// One destination, as in config.example.yaml: each event is stored with one job.
	cfg := testConfig(tb, dir, "destinations:\n  - {name: audit, type: log, output: "+dir+"/audit.jsonl}\n")
	st, err := store.Open(cfg.Store.Path, store.Options{})
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { st.Close() })
	ts := httptest.NewServer(NewReceiver(cfg, st, Options{}).Handler())
	tb.Cleanup(ts.Close)
	return ts.URL
}

// BenchmarkReceiver measures durable ingest (fsync'd bbolt, group commit) against a no-op gin handler that
// only parses the JSON, both over loopback with 32 concurrent clients in the same run, and the latency at a
// steady 1,000 requests/s. Each iteration sends 4,000 requests to each and 2,000 paced ones.
func BenchmarkReceiver(b *testing.B) {
	durable := durableReceiver(b)
	noop := httptest.NewServer(noopHandler())
	defer noop.Close()
	blast(b, durable, 32, 500) // warm up connections and the data file
	blast(b, noop.URL, 32, 500)
	var dRate, nRate, p50s, p99s float64
	for b.Loop() {
		nRate += blast(b, noop.URL, 32, 4000)
		dRate += blast(b, durable, 32, 4000)
		p50, p99 := paced(b, durable, 1000, 2000)
		p50s += float64(p50.Microseconds()) / 1000
		p99s += float64(p99.Microseconds()) / 1000
	}
	n := float64(b.N)
	b.ReportMetric(dRate/n, "durable_req/s")
	b.ReportMetric(nRate/n, "noop_req/s")
	b.ReportMetric(dRate/nRate, "ratio")
	b.ReportMetric(p50s/n, "p50_ms@1000rps")
	b.ReportMetric(p99s/n, "p99_ms@1000rps")
}
