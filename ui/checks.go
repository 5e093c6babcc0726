package ui

import (
	"math"
	"net/http"
	"strconv"
	"sync"
	"time"

	"golang.org/x/time/rate"
)

// The page's build (as a person types) and dry run compile a draft and run its templates, and any
// signed-in viewer may ask for them. The rules bound each request (rules.CompileTimeout, rules.PlanTimeout,
// dryrun.Timeout); these bound how much of the process one person's requests may use: each person has a
// budget of work, charged what each request took (at least buildCost or dryRunCost), one request at a
// time, and the process runs at most maxDryRuns dry runs at once, everyone's together.

// CheckLimit is how much checking (builds and dry runs) one person may make the process do.
type CheckLimit struct {
	// Share is the part of one processor that a person's checks may use on average (default 0.25).
	Share float64
	// Burst is how much work they may do at once before waiting for the share to refill (default 5 s).
	Burst time.Duration
}

const (
	// buildCost and dryRunCost are what a request is charged at least, however quick it was: with the
	// defaults, 100 builds at once and 5 a second after that; 10 dry runs at once, then one every 2 s.
	buildCost  = 50 * time.Millisecond
	dryRunCost = 500 * time.Millisecond
	// maxDryRuns is how many dry runs the process runs at once.
	maxDryRuns = 2
)

// checks keeps each person's budget of work (milliseconds, in a token bucket) and whether a request of
// theirs is running.
type checks struct {
	limit   CheckLimit
	dryRuns chan struct{}

	mu     sync.Mutex
	people map[string]*personChecks
}

type personChecks struct {
	work    *rate.Limiter
	running bool
}

func newChecks(limit CheckLimit) *checks {
	if limit.Share <= 0 {
		limit.Share = 0.25
	}
	if limit.Burst <= 0 {
		limit.Burst = 5 * time.Second
	}
	return &checks{limit: limit, dryRuns: make(chan struct{}, maxDryRuns), people: map[string]*personChecks{}}
}

// begin starts a request of who's that costs at least least: done charges it when it ends. When who has
// a request running or too little work left, done is nil and wait says when to try again.
func (c *checks) begin(who string, least time.Duration) (done func(), wait time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.people[who]
	if p == nil {
		p = &personChecks{work: rate.NewLimiter(rate.Limit(c.limit.Share*1000), int(c.limit.Burst.Milliseconds()))}
		c.people[who] = p
	}
	start := time.Now()
	if p.running {
		return nil, time.Second
	}
	if have, need := p.work.TokensAt(start), float64(least.Milliseconds()); have < need {
		return nil, time.Duration((need - have) / float64(p.work.Limit()) * float64(time.Second))
	}
	p.running = true
	return func() {
		took := max(time.Since(start), least)
		c.mu.Lock()
		defer c.mu.Unlock()
		p.running = false
		// A charge of at most the burst is always granted: the budget may go below zero, and the next
		// request waits until it is back.
		p.work.ReserveN(time.Now(), min(int(took.Milliseconds()), p.work.Burst()))
	}, 0
}

// checked lets a build or dry run through within its person's budget (see checks), charging it at least
// least; otherwise it answers 429 with when to try again.
func (s *Server) checked(least time.Duration, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		done, wait := s.checks.begin(userOf(r.Context()).Name, least)
		if done == nil {
			secs := max(1, int(math.Ceil(wait.Seconds())))
			w.Header().Set("Retry-After", strconv.Itoa(secs))
			s.fail(w, r, http.StatusTooManyRequests, "You have asked for many checks in a short time (or one is still running): "+
				"wait "+strconv.Itoa(secs)+" s and try again.")
			return
		}
		defer done()
		h(w, r)
	}
}

// fewDryRuns runs at most maxDryRuns dry runs at once in this process; another answers 503.
func (s *Server) fewDryRuns(h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		select {
		case s.checks.dryRuns <- struct{}{}:
			defer func() { <-s.checks.dryRuns }()
			h(w, r)
		default:
			w.Header().Set("Retry-After", "5")
			s.fail(w, r, http.StatusServiceUnavailable, "Other people's dry runs are running: try again in a few seconds.")
		}
	}
}
