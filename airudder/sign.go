package airudder

import (
	"bytes"
	"crypto/md5"
	"crypto/subtle"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
)

// Errors of Sign verification. The receiver maps both to 401.
var (
	ErrMissingSign = errors.New("the callback carries no Sign")
	ErrInvalidSign = errors.New("the callback's Sign does not match any key of this source")
)

// Sign computes Airudder's signature: lowercase hex of md5(utf8(TaskID + key)).
//
// The Sign covers the TaskID only, not the body, and never expires: it proves that the sender knows the
// key, nothing more. Receivers layer other checks on top (see docs/design.md, "Security: defence in depth, safe by default").
func Sign(taskID, key string) string {
	sum := md5.Sum([]byte(taskID + key))
	return hex.EncodeToString(sum[:])
}

// VerifySign checks sign against every key (several keys allow rotation), in constant time for each, and
// without stopping at the first match, so the time taken says nothing about which key matched.
func VerifySign(taskID, sign string, keys []string) error {
	if sign == "" {
		return ErrMissingSign
	}
	given := []byte(strings.ToLower(sign))
	match := 0
	for _, key := range keys {
		match |= subtle.ConstantTimeCompare(given, []byte(Sign(taskID, key)))
	}
	if match != 1 {
		return ErrInvalidSign
	}
	return nil
}

// Resign sets a body's Sign to Sign(TaskID, key), keeping every other field's value (numbers included, at
// full precision). It is how `rudderhook send` posts a file as Airudder would.
func Resign(body []byte, key string) ([]byte, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("not a JSON object: %w", err)
	}
	taskID, _ := doc["TaskID"].(string)
	doc["Sign"] = Sign(taskID, key)
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(doc); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
