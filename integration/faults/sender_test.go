package faults

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"
)

// sender posts callbacks as Airudder or a Standard Webhooks sender would: several at a time, at a steady
// rate, each retried on connection errors, timeouts, 408, 429 and 5xx, with exponential backoff and jitter
// (a Retry-After honoured), until it is acknowledged or its time is up. Real senders stretch the same
// schedule over hours; the suite compresses it so a scenario ends in minutes. Another 4xx refuses the body
// itself, so it is not sent again: the callback counts as refused.
type sender struct {
	url         string
	concurrency int
	perSecond   float64
	bound       time.Duration // per callback, first attempt to last
	client      *http.Client

	mu         sync.Mutex // guards the callbacks' outcomes too
	attempts   int
	answers    map[int]int // HTTP status → count; 0 counts connection errors and timeouts
	lastErrors map[string]int
}

func newSender(url string) *sender {
	return &sender{
		url: url, concurrency: 12, perSecond: loadRate(), bound: 3 * time.Minute,
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
		},
		answers: map[int]int{}, lastErrors: map[string]int{},
	}
}

// run posts every callback and returns when each is acknowledged or given up.
func (s *sender) run(ctx context.Context, cbs []*callback) {
	limiter := rate.NewLimiter(rate.Limit(s.perSecond), 1)
	jobs := make(chan *callback)
	var wg sync.WaitGroup
	for range s.concurrency {
		wg.Go(func() {
			for cb := range jobs {
				s.deliver(ctx, cb)
			}
		})
	}
	for _, cb := range cbs {
		if limiter.Wait(ctx) != nil {
			break
		}
		jobs <- cb
	}
	close(jobs)
	wg.Wait()
}

func (s *sender) deliver(ctx context.Context, cb *callback) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval, b.RandomizationFactor = 500*time.Millisecond, 2, 10*time.Second, 0.5
	refused := 0
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		status, err := s.post(ctx, cb.body)
		if status/100 == 4 && status != http.StatusRequestTimeout && status != http.StatusTooManyRequests {
			refused = status
			return struct{}{}, backoff.Permanent(err)
		}
		return struct{}{}, err
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(s.bound))
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case err == nil:
		cb.acked = true
	case refused != 0:
		cb.refused = refused
	default:
		s.lastErrors[shorten(err.Error())]++
	}
}

// post is one attempt; it returns the status (0 when there was no answer) and an error unless 2xx.
func (s *sender) post(ctx context.Context, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, backoff.Permanent(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.client.Do(req)
	status := 0
	if err == nil {
		status = resp.StatusCode
		_, _ = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
	}
	s.mu.Lock()
	s.attempts++
	s.answers[status]++
	s.mu.Unlock()
	switch {
	case err != nil:
		return 0, err
	case status/100 == 2:
		return status, nil
	}
	if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
		return status, fmt.Errorf("answered %d: %w", status, &backoff.RetryAfterError{Duration: min(time.Duration(secs)*time.Second, 10*time.Second)})
	}
	return status, fmt.Errorf("answered %d", status)
}

// sendStats is what the sender saw.
type sendStats struct {
	attempts   int
	answers    map[int]int
	lastErrors map[string]int
}

// stats is what the sender saw so far; call it once run has returned to read the callbacks' outcomes too.
func (s *sender) stats() sendStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := sendStats{attempts: s.attempts, answers: map[int]int{}, lastErrors: map[string]int{}}
	for k, v := range s.answers {
		st.answers[k] = v
	}
	for k, v := range s.lastErrors {
		st.lastErrors[k] = v
	}
	return st
}

// shorten keeps an error message short enough for a report line, dropping the URL Go puts in it.
func shorten(msg string) string {
	if _, after, ok := strings.Cut(msg, `": `); ok {
		msg = after
	}
	if len(msg) > 80 {
		msg = msg[:80] + "…"
	}
	return msg
}
