package codec_test

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	commonpb "go.temporal.io/api/common/v1"

	"github.com/rudderhook/rudderhook/codec"
)

func key(b byte) string { return base64.StdEncoding.EncodeToString(bytes.Repeat([]byte{b}, 32)) }

func TestRoundTripHidesTheData(t *testing.T) {
	c, err := codec.Parse("k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	dc := c.DataConverter()
	p, err := dc.ToPayload(map[string]string{"CalleeName": "WILL SMITH"})
	if err != nil {
		t.Fatal(err)
	}
	if string(p.Metadata["encoding"]) != codec.Encoding || bytes.Contains(p.Data, []byte("WILL SMITH")) {
		t.Fatalf("payload not encrypted: %s / %q", p.Metadata["encoding"], p.Data)
	}
	var back map[string]string
	if err := dc.FromPayload(p, &back); err != nil || back["CalleeName"] != "WILL SMITH" {
		t.Errorf("round trip = %v, %v", back, err)
	}
}

func TestRotationAndForeignPayloads(t *testing.T) {
	old, _ := codec.Parse("k1:" + key(1))
	rotated, err := codec.Parse("k2:" + key(2) + ", k1:" + key(1))
	if err != nil {
		t.Fatal(err)
	}
	plain := &commonpb.Payload{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"x"`)}
	sealed, _ := old.Encode([]*commonpb.Payload{plain})
	// The rotated codec reads what the old key wrote, and payloads written before encryption.
	got, err := rotated.Decode([]*commonpb.Payload{sealed[0], plain})
	if err != nil || string(got[0].Data) != `"x"` || got[1] != plain {
		t.Fatalf("decode = %v, %v", got, err)
	}
	// It writes with the new key, which the old codec does not have.
	resealed, _ := rotated.Encode([]*commonpb.Payload{plain})
	if _, err := old.Decode(resealed); err == nil || !strings.Contains(err.Error(), `key "k2"`) {
		t.Errorf("old codec on a k2 payload: %v", err)
	}
	// A tampered payload is refused.
	sealed[0].Data[len(sealed[0].Data)-1] ^= 1
	if _, err := old.Decode(sealed); err == nil {
		t.Error("a tampered payload decoded")
	}
}

func TestParseRefusesBadKeys(t *testing.T) {
	for _, spec := range []string{"", "k1", "k1:short", ":" + key(1), "k1:" + key(1) + ",k1:" + key(2), "k1:!!!"} {
		if _, err := codec.Parse(spec); err == nil {
			t.Errorf("Parse(%q): want an error", spec)
		}
	}
}

func TestHandlerServesTheUI(t *testing.T) {
	c, _ := codec.Parse("k1:" + key(1))
	srv := httptest.NewServer(c.Handler([]string{"http://127.0.0.1:8233"}))
	defer srv.Close()
	sealed, _ := c.Encode([]*commonpb.Payload{{Metadata: map[string][]byte{"encoding": []byte("json/plain")}, Data: []byte(`"hello"`)}})
	body, _ := json.Marshal(map[string]any{"payloads": []map[string]any{{
		"metadata": map[string]string{"encoding": base64.StdEncoding.EncodeToString(sealed[0].Metadata["encoding"]), "encryption-key-id": base64.StdEncoding.EncodeToString([]byte("k1"))},
		"data":     base64.StdEncoding.EncodeToString(sealed[0].Data),
	}}})
	req, _ := http.NewRequest(http.MethodPost, srv.URL+"/decode", bytes.NewReader(body))
	req.Header.Set("Origin", "http://127.0.0.1:8233")
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out struct{ Payloads []*commonpb.Payload }
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode != 200 || len(out.Payloads) != 1 || string(out.Payloads[0].Data) != `"hello"` {
		t.Fatalf("decode = %d %+v", resp.StatusCode, out)
	}
	if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "http://127.0.0.1:8233" {
		t.Errorf("CORS origin = %q", got)
	}
	pre, _ := http.NewRequest(http.MethodOptions, srv.URL+"/decode", nil)
	pre.Header.Set("Origin", "http://evil.example")
	resp, _ = http.DefaultClient.Do(pre)
	if resp.Header.Get("Access-Control-Allow-Origin") != "" {
		t.Error("an unlisted origin was allowed")
	}
}
