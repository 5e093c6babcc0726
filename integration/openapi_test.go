package integration

import (
	"bytes"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"

	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	"github.com/pb33f/libopenapi-validator/paths"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/rudderhook/rudderhook/api"
)

// exchange is one request the API answered during a test, kept to be checked against api/openapi.json.
type exchange struct {
	method, target string
	header         http.Header
	body           []byte
	status         int
	respHeader     http.Header
	respBody       []byte
}

// recordExchanges wraps the API so that every request and its answer are kept on s.
func (s *system) recordExchanges(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		r.Body = io.NopCloser(bytes.NewReader(body))
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, r)
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		s.mu.Lock()
		s.exchanges = append(s.exchanges, exchange{method: r.Method, target: r.URL.RequestURI(), header: r.Header.Clone(), body: body,
			status: rec.Code, respHeader: rec.Header().Clone(), respBody: rec.Body.Bytes()})
		s.mu.Unlock()
	})
}

var (
	openAPIOnce      sync.Once
	openAPIValidator validator.Validator
	openAPIModel     *v3.Document
	openAPIErr       error
)

// checkExchanges validates every answer the test got from a documented route against api/openapi.json,
// and the request too when it was accepted (2xx): what the document says is taken. The rules page and the
// codec (HTML and Temporal's payloads) are documented by route only.
func (s *system) checkExchanges() {
	openAPIOnce.Do(func() {
		doc, err := libopenapi.NewDocument(api.OpenAPI)
		if err != nil {
			openAPIErr = err
			return
		}
		model, err := doc.BuildV3Model()
		if err != nil {
			openAPIErr = err
			return
		}
		openAPIModel = &model.Model
		openAPIValidator = validator.NewValidatorFromV3Model(openAPIModel)
	})
	if openAPIErr != nil {
		s.t.Fatalf("api/openapi.json: %v", openAPIErr)
	}
	s.mu.Lock()
	exchanges := s.exchanges
	s.mu.Unlock()
	for _, ex := range exchanges {
		if strings.HasPrefix(ex.target, "/ui") || strings.HasPrefix(ex.target, "/codec/") {
			continue
		}
		req := httptest.NewRequest(ex.method, "http://127.0.0.1:8080"+ex.target, bytes.NewReader(ex.body))
		req.Header = ex.header.Clone()
		item, _, _ := paths.FindPath(req, openAPIModel, nil)
		if item == nil || item.GetOperations().GetOrZero(strings.ToLower(ex.method)) == nil {
			if ex.status != http.StatusNotFound && ex.status != http.StatusMethodNotAllowed {
				s.t.Errorf("openapi: %s %s answered %d but is not in api/openapi.json", ex.method, ex.target, ex.status)
			}
			continue
		}
		resp := &http.Response{StatusCode: ex.status, Header: ex.respHeader, Body: io.NopCloser(bytes.NewReader(ex.respBody)), Request: req}
		if ok, errs := openAPIValidator.ValidateHttpResponse(req, resp); !ok {
			for _, e := range errs {
				s.t.Errorf("openapi: %s %s → %d %.300s: response: %s %s", ex.method, ex.target, ex.status, ex.respBody, e.Message, e.Reason)
			}
		}
		if ex.status >= 200 && ex.status < 300 {
			req := httptest.NewRequest(ex.method, "http://127.0.0.1:8080"+ex.target, bytes.NewReader(ex.body))
			req.Header = ex.header.Clone()
			if ok, errs := openAPIValidator.ValidateHttpRequest(req); !ok {
				for _, e := range errs {
					s.t.Errorf("openapi: %s %s (accepted): request: %s %s", ex.method, ex.target, e.Message, e.Reason)
				}
			}
		}
	}
}
