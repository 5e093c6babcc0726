// Package ratelimit keeps token buckets per client address for the HTTP packages (api, ui), so that one
// client that floods uses up its own budget and not everyone's. It is a leaf: it imports nothing of
// rudderhook's, and every layer may import it.
package ratelimit

import (
	"sync"

	"github.com/hashicorp/golang-lru/v2/simplelru"
	"golang.org/x/time/rate"
)

// MaxClients bounds the memory of one PerClient: past it, the client seen least recently loses its
// bucket (and would start again with a full one). A flood from more addresses than this is what a global
// bucket beside it is for.
const MaxClients = 10_000

// PerClient is one token bucket per client address, all of the same rate and burst.
type PerClient struct {
	rate  rate.Limit
	burst int

	mu      sync.Mutex
	buckets *simplelru.LRU[string, *rate.Limiter]
}

// NewPerClient gives each client a bucket of burst tokens that refills at r tokens a second.
func NewPerClient(r rate.Limit, burst int) *PerClient {
	buckets, err := simplelru.NewLRU[string, *rate.Limiter](MaxClients, nil)
	if err != nil {
		panic(err) // only for a size below 1
	}
	return &PerClient{rate: r, burst: burst, buckets: buckets}
}

func (p *PerClient) bucket(client string) *rate.Limiter {
	p.mu.Lock()
	defer p.mu.Unlock()
	l, ok := p.buckets.Get(client)
	if !ok {
		l = rate.NewLimiter(p.rate, p.burst)
		p.buckets.Add(client, l)
	}
	return l
}

// Allow takes a token from the client's bucket and reports whether there was one.
func (p *PerClient) Allow(client string) bool { return p.bucket(client).Allow() }

// Exhausted reports whether the client's bucket has no token now, without taking one: for a check made
// before some work whose outcome decides whether it is charged.
func (p *PerClient) Exhausted(client string) bool { return p.bucket(client).Tokens() < 1 }
