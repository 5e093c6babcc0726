// Package bench measures rudderhook on the machine it runs on, in one run against one PostgreSQL and one
// Temporal: the ceilings (a plain PostgreSQL receiver, bare workflow starts, empty workflows), rudderhook's
// acknowledgements in each ack mode, and calls stored and followed up end to end. `rudderhook bench` is its
// command; docs/benchmarks.md records a run.
//
// It drives rudderhook from outside, as Airudder would: signed callbacks over HTTP to child processes of
// the same binary, so that what it measures is what a deployment gets.
package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
)

// Rate is one measured load: how many operations completed per second, and how long each took.
type Rate struct {
	N       int           `json:"n"`
	Errors  int           `json:"errors"`
	Elapsed time.Duration `json:"elapsed_ns"`
	PerSec  float64       `json:"per_second"`
	P50     time.Duration `json:"p50_ns"`
	P95     time.Duration `json:"p95_ns"`
	P99     time.Duration `json:"p99_ns"`
}

// run calls op for i in [0, n) from concurrency goroutines and measures each call. A failed call counts as
// an error and is not in the rate; the first error is returned with the result so the caller can say why.
func run(ctx context.Context, n, concurrency int, op func(ctx context.Context, i int) error) (Rate, error) {
	durations := make([]time.Duration, n)
	ok := make([]bool, n)
	var next atomic.Int64
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for range max(1, concurrency) {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n || ctx.Err() != nil {
					return
				}
				t := time.Now()
				err := op(ctx, i)
				durations[i] = time.Since(t)
				if err != nil {
					errOnce.Do(func() { firstErr = err })
					continue
				}
				ok[i] = true
			}
		})
	}
	wg.Wait()
	return summarize(durations, ok, time.Since(start)), firstErr
}

// summarize turns per-call durations (ok says which calls succeeded) into a Rate over elapsed.
func summarize(durations []time.Duration, ok []bool, elapsed time.Duration) Rate {
	var good []time.Duration
	for i, d := range durations {
		if ok[i] {
			good = append(good, d)
		}
	}
	r := Rate{N: len(good), Errors: len(durations) - len(good), Elapsed: elapsed}
	if elapsed > 0 {
		r.PerSec = float64(len(good)) / elapsed.Seconds()
	}
	r.P50, r.P95, r.P99 = percentile(good, 0.50), percentile(good, 0.95), percentile(good, 0.99)
	return r
}

// percentile is the q-quantile of ds (nearest rank); zero for none.
func percentile(ds []time.Duration, q float64) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	s := slices.Clone(ds)
	slices.Sort(s)
	i := int(q*float64(len(s))+0.5) - 1
	return s[min(max(i, 0), len(s)-1)]
}

// Bodies are signed call-completion callbacks shaped like the seed's example, each with a distinct call
// ID, made before the clock starts.
type Bodies struct {
	IDs    []string
	Bodies [][]byte
}

// MakeBodies makes n signed bodies whose calls have IDs prefix-0 … prefix-(n-1), signed with key.
func MakeBodies(prefix string, n int, key string) (*Bodies, error) {
	return makeBodies(prefix, n, key, "")
}

// makeBodies is MakeBodies with the calls' intention_description set to intention (the example's when
// empty). Every call ends at the time it is made.
func makeBodies(prefix string, n int, key, intention string) (*Bodies, error) {
	dec := json.NewDecoder(bytes.NewReader(airudder.ExampleCallCompleted))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("example callback: %w", err)
	}
	details, _ := doc["Details"].([]any)
	if len(details) == 0 {
		return nil, fmt.Errorf("example callback has no Details")
	}
	call, _ := details[0].(map[string]any)
	if intention != "" {
		call["intention_description"] = intention
	}
	// Calls that ended now, as Airudder's arrive: a follow-up's delay counts from its call's end.
	end := time.Now().UTC().Truncate(time.Second)
	call["CallStartTime"], call["CallEndTime"] = end.Add(-30*time.Second).Format(time.RFC3339), end.Format(time.RFC3339)
	out := &Bodies{IDs: make([]string, n), Bodies: make([][]byte, n)}
	for i := range n {
		id := fmt.Sprintf("%s-%d", prefix, i)
		call["CallID"] = id
		call["id"] = json.Number(fmt.Sprint(i + 1))
		b, err := json.Marshal(doc)
		if err != nil {
			return nil, err
		}
		if b, err = airudder.Resign(b, key); err != nil {
			return nil, err
		}
		out.IDs[i], out.Bodies[i] = id, b
	}
	return out, nil
}

// Load posts n signed call-completion callbacks (seed-shaped, distinct call IDs, Sign key key) to url,
// concurrency at once, and measures the acknowledgements: the same load generator for any receiver, such
// as a running `rudderhook dev` and the plain receiver of ServePlain.
func Load(ctx context.Context, url, key string, n, concurrency int) (Rate, error) {
	if n < 1 || concurrency < 1 {
		return Rate{}, fmt.Errorf("n and concurrency must be at least 1")
	}
	bodies, err := MakeBodies("load-"+randomHex(4), n, key)
	if err != nil {
		return Rate{}, err
	}
	p := newPoster(url, concurrency)
	return run(ctx, n, concurrency, func(ctx context.Context, i int) error { return p.post(ctx, bodies.Bodies[i]) })
}

// poster posts bodies to a receiver and counts anything but 200 as an error.
type poster struct {
	client *http.Client
	url    string
}

func newPoster(url string, concurrency int) *poster {
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = concurrency
	tr.MaxConnsPerHost = concurrency
	return &poster{client: &http.Client{Transport: tr, Timeout: 30 * time.Second}, url: url}
}

func (p *poster) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, p.url, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := p.client.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	var answer bytes.Buffer
	_, _ = answer.ReadFrom(resp.Body)
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s answered %d: %.200s", p.url, resp.StatusCode, answer.String())
	}
	return nil
}

// runPaced starts op for i in [0, n) at a steady rate per second (open loop: a slow answer does not slow
// the sender), at most inflight at once, and measures each call.
func runPaced(ctx context.Context, n int, perSecond float64, inflight int, op func(ctx context.Context, i int) error) (Rate, error) {
	if perSecond <= 0 {
		return Rate{}, fmt.Errorf("no rate to pace at")
	}
	interval := time.Duration(float64(time.Second) / perSecond)
	slots := make(chan struct{}, max(1, inflight))
	durations := make([]time.Duration, n)
	ok := make([]bool, n)
	var firstErr error
	var errOnce sync.Once
	var wg sync.WaitGroup
	start := time.Now()
	for i := range n {
		if wait := time.Until(start.Add(time.Duration(i) * interval)); wait > 0 {
			time.Sleep(wait)
		}
		if ctx.Err() != nil {
			break
		}
		slots <- struct{}{}
		wg.Go(func() {
			defer func() { <-slots }()
			t := time.Now()
			err := op(ctx, i)
			durations[i] = time.Since(t)
			if err != nil {
				errOnce.Do(func() { firstErr = err })
				return
			}
			ok[i] = true
		})
	}
	wg.Wait()
	return summarize(durations, ok, time.Since(start)), firstErr
}
