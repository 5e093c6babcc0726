package airudder

import (
	"context"
	"time"
)

// tokenRenewAge is when a cached token is replaced. Airudder's tokens live 24 hours; renewing an hour
// early leaves room for clock skew and for requests that are in flight when the token would expire.
const tokenRenewAge = 23 * time.Hour

// tokenSource caches one API family's token. Each family has its own, since each issues its own tokens.
// Safe for concurrent use.
type tokenSource struct {
	op    string // the Op of errors while waiting for a token
	fetch func(context.Context) (string, error)
	now   func() time.Time

	// lock is a mutex made of a one-slot channel, so that a caller waiting for another's token request
	// can give up when its context ends. It guards token and at, and holding it while the token request
	// is in flight is what keeps concurrent callers from each asking for a token.
	lock  chan struct{}
	token string
	at    time.Time
}

func newTokenSource(op string, fetch func(context.Context) (string, error), now func() time.Time) *tokenSource {
	return &tokenSource{op: op, fetch: fetch, now: now, lock: make(chan struct{}, 1)}
}

// get returns a token that is younger than tokenRenewAge, asking Airudder for one when there is none.
// stale is a token Airudder has just refused: when it is still the cached one it is replaced, and when a
// concurrent call has already replaced it the replacement is returned, so that a burst of 401s causes one
// renewal, not one per call.
func (s *tokenSource) get(ctx context.Context, stale string) (string, error) {
	select {
	case s.lock <- struct{}{}:
	case <-ctx.Done():
		// Nothing was sent for the caller's call: retrying later may work, and nothing happened.
		return "", &APIError{Op: s.op, Message: "waiting for the token: " + ctx.Err().Error(), Retryable: true, Err: ctx.Err()}
	}
	defer func() { <-s.lock }()

	if s.token != "" && s.token != stale {
		// A clock that went backwards makes the age negative; the token's real age is then unknown.
		if age := s.now().Sub(s.at); age >= 0 && age <= tokenRenewAge {
			return s.token, nil
		}
	}
	s.token = ""
	// Date the token from before the request, so that its age is never underestimated.
	requestedAt := s.now()
	token, err := s.fetch(ctx)
	if err != nil {
		return "", err
	}
	s.token, s.at = token, requestedAt
	return token, nil
}
