// Package codec encrypts what rudderhook puts in Temporal: workflow and activity inputs and results,
// summaries and failure messages hold names, phone numbers, debts and transcripts. With keys configured,
// the Temporal client encodes every payload with AES-256-GCM before it leaves the process, and the
// Temporal Web UI shows them through a codec endpoint (see Handler).
//
// Search attributes (CaseID, CalleeNumber, …) are not payloads: they stay readable, so executions can
// still be found.
package codec

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"

	commonpb "go.temporal.io/api/common/v1"
	"go.temporal.io/sdk/client"
	"go.temporal.io/sdk/converter"
	"go.temporal.io/sdk/temporal"
	"google.golang.org/protobuf/proto"
)

const (
	// Encoding marks an encrypted payload; payloads with any other encoding pass through Decode as they are,
	// so histories written before encryption was turned on stay readable.
	Encoding = "binary/encrypted"
	keyIDKey = "encryption-key-id"
)

// Codec is an AES-256-GCM payload codec with named keys: the first encrypts, all decrypt, so a key can be
// rotated by putting the new one first and dropping the old one once no history needs it.
type Codec struct {
	active string
	keys   map[string]cipher.AEAD
}

var _ converter.PayloadCodec = (*Codec)(nil)

// Parse reads keys as "id:base64key,id2:base64key2", each key 32 bytes (e.g. `openssl rand -base64 32`).
func Parse(spec string) (*Codec, error) {
	c := &Codec{keys: map[string]cipher.AEAD{}}
	for _, part := range strings.Split(spec, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		id, b64, ok := strings.Cut(part, ":")
		if !ok || id == "" {
			return nil, fmt.Errorf("payload key %q: write id:base64key", redact(part))
		}
		key, err := base64.StdEncoding.DecodeString(b64)
		if err != nil || len(key) != 32 {
			return nil, fmt.Errorf("payload key %q: want 32 bytes in base64 (openssl rand -base64 32)", id)
		}
		block, err := aes.NewCipher(key)
		if err != nil {
			return nil, err
		}
		aead, err := cipher.NewGCM(block)
		if err != nil {
			return nil, err
		}
		if _, dup := c.keys[id]; dup {
			return nil, fmt.Errorf("payload key %q is given twice", id)
		}
		c.keys[id] = aead
		if c.active == "" {
			c.active = id
		}
	}
	if c.active == "" {
		return nil, errors.New("no payload keys")
	}
	return c, nil
}

// Encode encrypts each payload whole (metadata and data) with the active key.
func (c *Codec) Encode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	aead := c.keys[c.active]
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		plain, err := proto.Marshal(p)
		if err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		nonce := make([]byte, aead.NonceSize())
		if _, err := rand.Read(nonce); err != nil {
			return nil, fmt.Errorf("encode payload: %w", err)
		}
		out[i] = &commonpb.Payload{
			Metadata: map[string][]byte{converter.MetadataEncoding: []byte(Encoding), keyIDKey: []byte(c.active)},
			Data:     aead.Seal(nonce, nonce, plain, []byte(c.active)),
		}
	}
	return out, nil
}

// Decode decrypts payloads this codec encrypted and leaves others as they are.
func (c *Codec) Decode(payloads []*commonpb.Payload) ([]*commonpb.Payload, error) {
	out := make([]*commonpb.Payload, len(payloads))
	for i, p := range payloads {
		if string(p.GetMetadata()[converter.MetadataEncoding]) != Encoding {
			out[i] = p
			continue
		}
		id := string(p.GetMetadata()[keyIDKey])
		aead, ok := c.keys[id]
		if !ok {
			return nil, fmt.Errorf("decode payload: key %q is not configured", id)
		}
		data := p.GetData()
		if len(data) < aead.NonceSize() {
			return nil, errors.New("decode payload: too short to be encrypted")
		}
		plain, err := aead.Open(nil, data[:aead.NonceSize()], data[aead.NonceSize():], []byte(id))
		if err != nil {
			return nil, fmt.Errorf("decode payload with key %q: %w", id, err)
		}
		var decoded commonpb.Payload
		if err := proto.Unmarshal(plain, &decoded); err != nil {
			return nil, fmt.Errorf("decode payload: %w", err)
		}
		out[i] = &decoded
	}
	return out, nil
}

// DataConverter wraps Temporal's default converter with the codec.
func (c *Codec) DataConverter() converter.DataConverter {
	return converter.NewCodecDataConverter(converter.GetDefaultDataConverter(), c)
}

// Apply makes a Temporal client encrypt its payloads, and its failure messages too: they quote targets'
// answers and call data.
func (c *Codec) Apply(opts *client.Options) {
	opts.DataConverter = c.DataConverter()
	opts.FailureConverter = temporal.NewDefaultFailureConverter(temporal.DefaultFailureConverterOptions{
		DataConverter: opts.DataConverter, EncodeCommonAttributes: true,
	})
}

// Handler is the codec endpoint for the Temporal Web UI (POST …/encode and …/decode), answering the
// browsers of the given origins (CORS). Whoever can reach it can decrypt payloads they hold: serve it on
// an operator's machine (`rudderhook codec`) or behind the same access control as the UI.
func (c *Codec) Handler(origins []string) http.Handler {
	inner := converter.NewPayloadCodecHTTPHandler(c)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if origin := r.Header.Get("Origin"); origin != "" && slices.Contains(origins, origin) {
			w.Header().Set("Access-Control-Allow-Origin", origin)
			w.Header().Set("Access-Control-Allow-Credentials", "true")
			w.Header().Set("Access-Control-Allow-Methods", "POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Content-Type, X-Namespace, Authorization")
			w.Header().Add("Vary", "Origin")
		}
		if r.Method == http.MethodOptions {
			w.WriteHeader(http.StatusNoContent)
			return
		}
		inner.ServeHTTP(w, r)
	})
}

func redact(s string) string {
	if id, _, ok := strings.Cut(s, ":"); ok {
		return id + ":…"
	}
	return "…"
}
