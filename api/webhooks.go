package api

import (
	"crypto/subtle"
	"errors"
	"io"
	"mime"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
)

// receiverKinds are the route names the receiver has routes for: those of every source (a source that
// does not list a generic kind answers 404 for it).
func (s *Server) receiverKinds() []string {
	var kinds []string
	for _, src := range s.Sources {
		kinds = append(kinds, src.Routes()...)
	}
	slices.Sort(kinds)
	return slices.Compact(kinds)
}

// receive is POST /webhooks/{source}[/{token}]/{kind} for one kind. The checks run cheapest and least
// revealing first: who may post at all (source and kind, network, token; an unsigned kind only where a
// token or allowlist says who sent it), then the body's form, then the Sign where the kind has one, and
// only then what the fields hold, so that an unauthenticated sender learns nothing about validation.
//
// The source's rate is charged once the sender is known (see chargeBeforeBody), so that junk cannot
// spend the real sender's budget.
func (s *Server) receive(route string) gin.HandlerFunc {
	return func(c *gin.Context) {
		receivedAt := time.Now().UTC()
		defer ingest.Arrived()()
		src, ok := s.Sources[c.Param("source")]
		if !ok {
			s.writeError(c, newError(http.StatusNotFound, "unknown_source", "no source named "+strconv.Quote(c.Param("source"))+" is configured"))
			return
		}
		k, ok := src.Kind(route)
		if !ok {
			s.writeError(c, newError(http.StatusNotFound, "unknown_callback", "source "+strconv.Quote(src.Name)+" takes no "+
				strconv.Quote(route)+" callbacks; a generic kind must be listed in the source's kinds:"))
			return
		}
		if err := s.admit(c, src, c.Param("token")); err != nil {
			s.writeError(c, err)
			return
		}
		if !k.Signed && !src.TakesUnsigned() {
			s.writeError(c, newError(http.StatusForbidden, "unsigned_kind_not_allowed", strconv.Quote(route)+
				" callbacks carry no Sign, so they are taken only on a source with a URL token or an IP allowlist: "+src.UnsignedHint()))
			return
		}
		early := chargeBeforeBody(src, k)
		var err error
		if early {
			err = s.chargeRate(c, src)
		} else {
			err = s.checkRefusals(c, src)
		}
		if err != nil {
			s.writeError(c, err)
			return
		}
		body, err := readJSONBody(c, src.MaxBodyBytes)
		if err != nil {
			if !early {
				s.chargeRefusal(c, src)
			}
			s.refuseBody(c, err, src.MaxBodyBytes)
			return
		}
		// A header the kind keeps (X-AIRudder-Sign) travels in the body, set from the request alone.
		cb, err := ingest.Read(k.WithHeaders(body, c.Request.Header), src, k, ingest.VerifySign, receivedAt)
		if !early {
			err = s.chargeAfterSign(c, src, err)
		}
		if err == nil {
			err = s.Ingest.Accept(c.Request.Context(), cb)
		}
		if err != nil {
			s.writeError(c, err)
			return
		}
		// Exactly what Airudder expects: 200 and an empty object.
		c.Data(http.StatusOK, "application/json", []byte("{}"))
	}
}

// admit applies the source's network allowlist and URL token (in the path or as ?token=): the checks that
// need no body.
func (s *Server) admit(c *gin.Context, src *config.Source, pathToken string) error {
	if len(src.AllowedNets) > 0 {
		ip, err := netip.ParseAddr(c.ClientIP())
		if err != nil || !slices.ContainsFunc(src.AllowedNets, func(n netip.Prefix) bool { return n.Contains(ip.Unmap()) }) {
			return newError(http.StatusForbidden, "forbidden", "this address may not post to source "+strconv.Quote(src.Name))
		}
	}
	token := pathToken
	if token == "" {
		token = c.Query("token")
	}
	if src.Token != "" && subtle.ConstantTimeCompare([]byte(token), []byte(src.Token)) != 1 {
		return newError(http.StatusUnauthorized, "invalid_token", "the callback URL's token is missing or wrong")
	}
	return nil
}

// chargeBeforeBody says whether the sender of a callback of kind k is known before its body is read, so
// that the source's rate can be charged at once: it is when the URL carries the source's token (checked
// by admit), and for a kind without a Sign (taken only with the token or from the allowlist). Otherwise
// only the Sign says who sent it, and the rate is charged after the Sign is verified (chargeAfterSign).
func chargeBeforeBody(src *config.Source, k airudder.Kind) bool {
	return src.Token != "" || !k.Signed
}

// chargeRate takes one callback from the source's rate limit (rate_per_second, burst).
func (s *Server) chargeRate(c *gin.Context, src *config.Source) error {
	if l := s.limiters[src.Name]; l != nil && !l.Allow() {
		c.Header("Retry-After", "1")
		return newError(http.StatusTooManyRequests, "rate_limited", "too many callbacks for source "+strconv.Quote(src.Name)+"; retry shortly")
	}
	return nil
}

// checkRefusals refuses, before its body is read, a client of a source without a token whose bodies were
// refused before their Sign was verified (too large, not JSON, a wrong or missing Sign) more often than the
// source's rate allows. Such bodies are not charged to the source's rate, the real sender's budget, so this
// is what bounds the bodies one address can make the receiver read and decode; the real sender, at another
// address, is not held back by it.
func (s *Server) checkRefusals(c *gin.Context, src *config.Source) error {
	if l := s.refusals[src.Name]; l != nil && l.Exhausted(c.ClientIP()) {
		c.Header("Retry-After", "1")
		return newError(http.StatusTooManyRequests, "rate_limited", "too many refused callbacks from this address for source "+
			strconv.Quote(src.Name)+"; retry shortly")
	}
	return nil
}

// chargeRefusal counts a body refused before its Sign was verified against its client's address.
func (s *Server) chargeRefusal(c *gin.Context, src *config.Source) {
	if l := s.refusals[src.Name]; l != nil {
		l.Allow(c.ClientIP())
	}
}

// chargeAfterSign charges a callback of a source without a token once it has been read: one refused
// before its Sign was verified to its client's address, any other, whose Sign is right, to the source's
// rate.
func (s *Server) chargeAfterSign(c *gin.Context, src *config.Source, readErr error) error {
	if unverified := (*ingest.UnverifiedError)(nil); errors.As(readErr, &unverified) {
		s.chargeRefusal(c, src)
		return readErr
	}
	if err := s.chargeRate(c, src); err != nil {
		return err
	}
	return readErr
}

// readJSONBody checks the media type and reads the body if it holds at most limit bytes; a larger one is
// an *http.MaxBytesError (413), refused with refuseBody.
func readJSONBody(c *gin.Context, limit int64) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be UTF-8, not "+cs)
	}
	return readBody(c, limit)
}

// readBody reads the body if it holds at most limit bytes (of a callback, or of a request of the admin
// API); a larger one is an *http.MaxBytesError,
// known from Content-Length before anything is read, or after limit+1 bytes. It reads through
// io.LimitReader rather than http.MaxBytesReader, which has the server close the connection once it
// overflows, so that refuseBody can still drain what the sender writes.
func readBody(c *gin.Context, limit int64) ([]byte, error) {
	if c.Request.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body, err := io.ReadAll(io.LimitReader(c.Request.Body, limit+1))
	if err != nil {
		return nil, newError(http.StatusBadRequest, "unreadable_body", "the body could not be read: "+err.Error())
	}
	if int64(len(body)) > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	return body, nil
}

const (
	// refusedBodyDrain is the least that refuseBody reads of a refused body (at least 4 times the limit).
	refusedBodyDrain = 8 << 20
	// refusedBodyDrainTime bounds the time refuseBody reads a refused body.
	refusedBodyDrainTime = 10 * time.Second
)

// refuseBody answers a body refused before it was read whole (too large, not JSON) so that a sender that
// writes its whole body before it reads the answer reads the refusal, a 4xx it will not retry, instead of
// a reset connection, which it would retry for ever. Go's server would read at most 256 KiB of an unread
// body and then close the connection under the sender's writes. Here the answer is sent first, then the
// rest of the body is read and dropped: up to 4 times the limit (at least 8 MiB) within 10 seconds; past
// either, the connection is closed. A body that says it is larger than that is not read at all, nor one
// whose sender asked "Expect: 100-continue" and was answered before being told to continue: it has sent
// nothing.
func (s *Server) refuseBody(c *gin.Context, err error, limit int64) {
	r := c.Request
	bound := max(4*limit, refusedBodyDrain)
	if r.ContentLength > bound || (r.ContentLength >= 0 && strings.EqualFold(r.Header.Get("Expect"), "100-continue")) {
		s.writeError(c, err)
		return
	}
	rc := http.NewResponseController(c.Writer)
	// Without full duplex, the server reads (up to 256 KiB of) the rest itself before it writes the answer.
	_ = rc.EnableFullDuplex()
	s.writeError(c, err)
	_ = rc.Flush()
	_ = rc.SetReadDeadline(time.Now().Add(refusedBodyDrainTime))
	_, _ = io.CopyN(io.Discard, r.Body, bound)
}
