package main

import (
	"fmt"
	"sync/atomic"
	"time"
)

// growthEvery is how often the growth scenario samples the data file.
const growthEvery = 10 * time.Second

// point is one growth sample.
type point struct {
	T       float64 `json:"t_s"`
	FileMB  float64 `json:"file_mb"`
	RSSMB   float64 `json:"rss_anon_mb"`
	HeapMB  float64 `json:"go_heap_mb"`
	Pending int64   `json:"unfinished"`
	Done    int64   `json:"done"`
}

// plateau compares the largest file size in the last third of the run with the middle third's: the file
// plateaus when the last third grew by at most 10%.
func plateau(points []point, total float64) (middle, last float64, ok bool) {
	for _, p := range points {
		switch {
		case p.T > total*2/3:
			last = max(last, p.FileMB)
		case p.T > total/3:
			middle = max(middle, p.FileMB)
		}
	}
	return middle, last, middle > 0 && last <= middle*1.10
}

// growth is scenario 3: steady load with store.retention: 1m, sampling the data file's size.
func (b *bench) growth() (*report, error) {
	o := b.opts
	hs := b.newFake()
	cfgPath, dbPath, err := b.writeConfig("growth", hs.URL, "  retention: 1m\n")
	if err != nil {
		return nil, err
	}
	srv, err := b.startServer(cfgPath)
	if err != nil {
		return nil, err
	}
	smp := b.sample(srv)
	var seq atomic.Uint64
	s := b.newSender(srv.recv, fmt.Sprintf("growth-%d-%d-", o.seed, time.Now().UnixNano()), &seq, 64)
	b.progress("growth: %d req/s for %s with store.retention 1m; sampling the data file every %s", o.rate, o.duration, growthEvery)
	res := make(chan phase, 1)
	start := time.Now()
	go func() { res <- s.paced(fmt.Sprintf("steady %d req/s", o.rate), o.rate, 64, o.duration, true) }()
	var points []point
	take := func() {
		c, _ := srv.status(b.ctx)
		l := smp.latest()
		p := point{T: round1(time.Since(start).Seconds()), FileMB: mb(fileSize(dbPath)), RSSMB: mb(l.RSS), HeapMB: mb(l.Heap),
			Pending: c.unfinished(), Done: c["done"]}
		points = append(points, p)
		b.progress("  t=%4.0fs file %.1f MB, RssAnon %.1f MB, heap %.1f MB, unfinished %d", p.T, p.FileMB, p.RSSMB, p.HeapMB, p.Pending)
	}
	t := time.NewTicker(growthEvery)
	var load phase
	for waiting := true; waiting; {
		select {
		case load = <-res:
			waiting = false
		case <-t.C:
			take()
		case <-b.ctx.Done():
			load = <-res // paced stops on b.ctx too
			waiting = false
		}
	}
	t.Stop()
	take()
	_, drain, derr := b.waitDelivered(srv, 0, o.deadline)
	pk := smp.stop()
	srv.stop()
	d := checkDelivery(hs, func(yield func(string) bool) {
		for _, id := range load.ids {
			if !yield(id) {
				return
			}
		}
	})
	middle, last, ok := plateau(points, o.duration.Seconds())
	verdict := "does NOT plateau"
	if ok {
		verdict = "plateaus"
	}
	r := &report{title: fmt.Sprintf("growth: %d req/s for %s, store.retention 1m", o.rate, o.duration)}
	r.md = append(r.md, "| t s | data file MB | RssAnon MB | Go heap MB | unfinished jobs | done jobs (retained) |",
		"|---:|---:|---:|---:|---:|---:|")
	for _, p := range points {
		r.md = append(r.md, fmt.Sprintf("| %.0f | %.1f | %.1f | %.1f | %d | %d |", p.T, p.FileMB, p.RSSMB, p.HeapMB, p.Pending, p.Done))
	}
	r.md = append(r.md, "",
		fmt.Sprintf("The data file %s: max %.1f MB in the last third vs %.1f MB in the middle third. Peak RssAnon %.1f MB, peak Go heap %.1f MB.",
			verdict, last, middle, mb(pk.RSS), mb(pk.Heap)),
		fmt.Sprintf("Load: %d acknowledged at %.0f req/s (p50 %s ms, p99 %s ms, p99 from schedule %s ms), %d errors; %d delivered, %d missing, %d duplicates; drained %s after the last request.",
			load.Requests, load.RPS, dash(load.P50), dash(load.P99), dash(load.SchedP99), load.Errors, d.Delivered, d.Missing, d.Duplicates,
			drain.Round(100*time.Millisecond)))
	r.data = map[string]any{"rate": o.rate, "duration_s": o.duration.Seconds(), "retention": "1m", "series": points,
		"middle_third_max_mb": middle, "last_third_max_mb": last, "plateaus": ok, "load": load, "delivery": d,
		"peak_rss_anon_mb": mb(pk.RSS), "peak_go_heap_inuse_mb": mb(pk.Heap)}
	if derr != nil {
		return r, derr
	}
	if d.Missing > 0 || d.Duplicates > 0 {
		return r, fmt.Errorf("%d acknowledged SMS missing and %d duplicated in HubSpot", d.Missing, d.Duplicates)
	}
	return r, nil
}
