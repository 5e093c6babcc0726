package api

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

	"github.com/gin-gonic/gin"
	"github.com/pb33f/libopenapi"
	validator "github.com/pb33f/libopenapi-validator"
	v3 "github.com/pb33f/libopenapi/datamodel/high/v3"

	"github.com/rudderhook/rudderhook/config"
)

// openAPIModel parses the embedded document, which must itself be a valid OpenAPI 3.1 document.
func openAPIModel(t *testing.T) *v3.Document {
	t.Helper()
	doc, err := libopenapi.NewDocument(OpenAPI)
	if err != nil {
		t.Fatal(err)
	}
	if v := doc.GetVersion(); !strings.HasPrefix(v, "3.1") {
		t.Fatalf("the document is OpenAPI %s, not 3.1", v)
	}
	v, errs := validator.NewValidator(doc)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	if ok, verrs := v.ValidateDocument(); !ok {
		for _, e := range verrs {
			t.Errorf("document: %s: %s", e.Message, e.Reason)
		}
	}
	model, err := doc.BuildV3Model()
	if err != nil {
		t.Fatal(err)
	}
	return &model.Model
}

var ginParam = regexp.MustCompile(`[:*]([a-z_]+)`)

// Every route the router registers (with a generic kind, the codec, the rules page and the dev sink
// mounted) is in the document, with its method.
func TestEveryRouteIsInTheOpenAPIDocument(t *testing.T) {
	gin.SetMode(gin.ReleaseMode)
	model := openAPIModel(t)
	path := t.TempDir() + "/rudderhook.yaml"
	if err := os.WriteFile(path, []byte("sources:\n  acme:\n    keys: [k]\n    token: t\n    kinds: [waba-status]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"RUDDERHOOK_CONFIG=" + path}, "")
	if err != nil {
		t.Fatal(err)
	}
	nothing := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	s := &Server{Sources: cfg.Sources, Log: slog.New(slog.DiscardHandler), DevSink: &DevSink{}, Codec: nothing, RulesPage: nothing}
	h, err := s.Handler()
	if err != nil {
		t.Fatal(err)
	}
	r := h.(*gin.Engine)
	documented := map[string]bool{}
	for p, item := range model.Paths.PathItems.FromOldest() {
		for method := range item.GetOperations().FromOldest() {
			documented[strings.ToUpper(method)+" "+p] = true
		}
	}
	for _, route := range r.Routes() {
		p := ginParam.ReplaceAllString(route.Path, "{$1}")
		if strings.HasPrefix(p, "/webhooks/{source}/") && strings.HasSuffix(p, "/waba-status") {
			p = strings.TrimSuffix(p, "waba-status") + "{kind}" // generic kinds share a route in the document
		}
		if !documented[route.Method+" "+p] {
			t.Errorf("%s %s is not in api/openapi.json (as %s)", route.Method, route.Path, p)
		}
	}
	if len(r.Routes()) < 20 {
		t.Errorf("only %d routes", len(r.Routes()))
	}
}

// GET /openapi.json serves the document.
func TestOpenAPIIsServed(t *testing.T) {
	h := refusals(t)
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequestWithContext(context.Background(), http.MethodGet, "/openapi.json", nil))
	if rec.Code != http.StatusOK || !bytes.Equal(rec.Body.Bytes(), OpenAPI) {
		t.Errorf("GET /openapi.json = %d", rec.Code)
	}
}
