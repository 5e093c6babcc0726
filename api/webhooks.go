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
// revealing first: who may post at all (source and kind, network, token, then the rate; an unsigned kind
// only where a token or allowlist says who sent it), then the body's form, then the Sign where the kind
// has one, and only then what the fields hold, so that an unauthenticated sender learns nothing about
// validation.
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
		body, err := readJSONBody(c, src.MaxBodyBytes)
		if err != nil {
			s.writeError(c, err)
			return
		}
		cb, err := ingest.Read(body, src, k, ingest.VerifySign, receivedAt)
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

// admit applies the source's network allowlist and URL token (in the path or as ?token=), then its rate
// limit: the checks that need no body come first, so that a flood from the wrong network or with a wrong
// token is refused without spending the budget of the real sender.
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
	if l := s.limiters[src.Name]; l != nil && !l.Allow() {
		c.Header("Retry-After", "1")
		return newError(http.StatusTooManyRequests, "rate_limited", "too many callbacks for source "+strconv.Quote(src.Name)+"; retry shortly")
	}
	return nil
}

// readJSONBody checks the media type and reads at most limit bytes.
func readJSONBody(c *gin.Context, limit int64) ([]byte, error) {
	mt, params, err := mime.ParseMediaType(c.GetHeader("Content-Type"))
	if err != nil || mt != "application/json" {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "send Content-Type: application/json")
	}
	if cs, ok := params["charset"]; ok && !strings.EqualFold(cs, "utf-8") {
		return nil, newError(http.StatusUnsupportedMediaType, "unsupported_media_type", "the body must be UTF-8, not "+cs)
	}
	if c.Request.ContentLength > limit {
		return nil, &http.MaxBytesError{Limit: limit}
	}
	body, err := io.ReadAll(http.MaxBytesReader(c.Writer, c.Request.Body, limit))
	if err != nil {
		var tooLarge *http.MaxBytesError
		if errors.As(err, &tooLarge) {
			return nil, err
		}
		return nil, newError(http.StatusBadRequest, "unreadable_body", "the body could not be read: "+err.Error())
	}
	return body, nil
}
