package faults

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/cenkalti/backoff/v5"
	"golang.org/x/time/rate"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/workflows"
)

// rulesDoc are the follow-up rules every scenario runs: a webhook to the sink for every call, and a second
// one for the calls that need a follow-up, so that calls have one or two effects.
const rulesDoc = `time_zone: UTC
rules:
  - id: every-call
    description: Every call is reported to the CRM.
    when: "true"
    actions:
      - {name: crm-update, type: webhook, target: sink}
  - id: needs-follow-up
    description: Needs follow-up → an agent task in the CRM.
    when: call.intention_description == "Needs Follow Up"
    actions:
      - {name: agent-task, type: webhook, target: sink, fields: {queue: collections}}
`

// source is the receiver the load posts to (the built-in default, key "airudder").
const source = "airudder"

// callback is one body the sender posts, and what must follow from it.
type callback struct {
	body  []byte
	calls []sentCall
}

type sentCall struct {
	key       string   // the call's key in rudderhook (its CallID)
	followUps []string // the webhook-ids rulesDoc must deliver for it
}

// makeLoad builds n signed callbacks shaped like the seed's example, with distinct call IDs: one body in
// four carries three calls and one in four two; one in 25 has a call with a transcript over 128 KiB (the
// path that stores a call before its workflow starts); half the bodies' first call needs a follow-up.
func makeLoad(runID string, n int) ([]callback, error) {
	var seed map[string]any
	dec := json.NewDecoder(bytes.NewReader(airudder.ExampleCallCompleted))
	dec.UseNumber()
	if err := dec.Decode(&seed); err != nil {
		return nil, err
	}
	seedDetail := seed["Details"].([]any)[0].(map[string]any)
	longTranscript := make([]any, 0, 1500)
	for i := range 1500 {
		longTranscript = append(longTranscript, map[string]any{
			"time": fmt.Sprintf("00:%02d:%02d", i/60%60, i%60), "robottext": "Apakah Bapak bisa melakukan pembayaran hari ini?",
			"text": "saya akan bayar minggu depan, tolong jangan telepon lagi",
		})
	}
	out := make([]callback, n)
	for i := range n {
		env := make(map[string]any, len(seed))
		for k, v := range seed {
			env[k] = v
		}
		taskID := fmt.Sprintf("%s%06d", runID, i)
		env["TaskID"] = taskID
		env["Sign"] = airudder.Sign(taskID, airudder.DefaultKey)
		calls := 1
		switch i % 4 {
		case 0:
			calls = 3
		case 1:
			calls = 2
		}
		var details []any
		for j := range calls {
			d := make(map[string]any, len(seedDetail))
			for k, v := range seedDetail {
				d[k] = v
			}
			seq := i*10 + j
			callID := fmt.Sprintf("%s-%05d-%d", runID, i, j)
			d["CallID"] = callID
			d["id"] = json.Number(strconv.Itoa(3_000_000_000 + seq))
			d["CalleeNumber"] = fmt.Sprintf("+6281%08d", seq)
			d["CaseID"] = fmt.Sprintf("%d.0", 9_000_000+i)
			needsFollowUp := j == 0 && i%2 == 0
			if !needsFollowUp {
				d["Intention"], d["intention_description"] = "A", "Promise To Pay"
			}
			if j == 0 && i%25 == 7 {
				d["AsrResult"] = longTranscript
			}
			details = append(details, d)
			wf := workflows.CallWorkflowID(source, callID)
			sc := sentCall{key: callID, followUps: []string{rules.FollowUpKey(wf, "every-call", "crm-update")}}
			if needsFollowUp {
				sc.followUps = append(sc.followUps, rules.FollowUpKey(wf, "needs-follow-up", "agent-task"))
			}
			out[i].calls = append(out[i].calls, sc)
		}
		env["Details"] = details
		b, err := json.Marshal(env)
		if err != nil {
			return nil, err
		}
		out[i].body = b
	}
	return out, nil
}

// sender posts callbacks as Airudder or a Standard Webhooks sender would: several at a time, at a steady
// rate, each retried on connection errors, timeouts and any answer but 2xx, with exponential backoff and
// jitter (a Retry-After honoured), until it is acknowledged or its time is up. Real senders stretch the
// same schedule over hours; the suite compresses it so a scenario ends in minutes.
type sender struct {
	url         string
	concurrency int
	perSecond   float64
	bound       time.Duration // per callback, first attempt to last
	client      *http.Client

	mu         sync.Mutex
	acked      []bool
	attempts   int
	answers    map[int]int // HTTP status → count; 0 counts connection errors and timeouts
	lastErrors map[string]int
}

func newSender(url string, n int) *sender {
	return &sender{
		url: url, concurrency: 12, perSecond: loadRate(), bound: 3 * time.Minute,
		client: &http.Client{
			Timeout:   15 * time.Second,
			Transport: &http.Transport{MaxIdleConnsPerHost: 16, IdleConnTimeout: 30 * time.Second},
		},
		acked: make([]bool, n), answers: map[int]int{}, lastErrors: map[string]int{},
	}
}

// run posts every callback and returns when each is acknowledged or given up.
func (s *sender) run(ctx context.Context, cbs []callback) {
	limiter := rate.NewLimiter(rate.Limit(s.perSecond), 1)
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range s.concurrency {
		wg.Go(func() {
			for i := range jobs {
				s.deliver(ctx, i, cbs[i].body)
			}
		})
	}
	for i := range cbs {
		if limiter.Wait(ctx) != nil {
			break
		}
		jobs <- i
	}
	close(jobs)
	wg.Wait()
}

func (s *sender) deliver(ctx context.Context, i int, body []byte) {
	b := backoff.NewExponentialBackOff()
	b.InitialInterval, b.Multiplier, b.MaxInterval, b.RandomizationFactor = 500*time.Millisecond, 2, 10*time.Second, 0.5
	_, err := backoff.Retry(ctx, func() (struct{}, error) {
		return struct{}{}, s.post(ctx, body)
	}, backoff.WithBackOff(b), backoff.WithMaxElapsedTime(s.bound))
	s.mu.Lock()
	defer s.mu.Unlock()
	if err == nil {
		s.acked[i] = true
	} else {
		s.lastErrors[shorten(err.Error())]++
	}
}

// post is one attempt.
func (s *sender) post(ctx context.Context, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return backoff.Permanent(err)
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
		return err
	case status/100 == 2:
		return nil
	}
	if secs, perr := strconv.Atoi(resp.Header.Get("Retry-After")); perr == nil && secs > 0 {
		return fmt.Errorf("answered %d: %w", status, &backoff.RetryAfterError{Duration: min(time.Duration(secs)*time.Second, 10*time.Second)})
	}
	return fmt.Errorf("answered %d", status)
}

// sendStats is what the sender saw.
type sendStats struct {
	acked      []bool
	attempts   int
	answers    map[int]int
	lastErrors map[string]int
}

func (s *sender) stats() sendStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	st := sendStats{acked: append([]bool(nil), s.acked...), attempts: s.attempts, answers: map[int]int{}, lastErrors: map[string]int{}}
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
