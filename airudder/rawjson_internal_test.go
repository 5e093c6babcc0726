package airudder

import (
	"bytes"
	"encoding/json"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

// The splitters must give what encoding/json gives for every well-formed input: the readers, the digests
// and the inbox bodies are built from their pieces.
func FuzzSplitMatchesEncodingJSON(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.json")
	for _, name := range files {
		body, err := os.ReadFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(body)
	}
	for _, s := range []string{
		`{}`, `[]`, ` { "a" : 1 , "a" : [ 2 , {"b":"}"} ] } `, `{"a\"b":"x\\","\u00e9":null,"":true}`,
		`[1,"2",{"3":[4]},[],{} , -0.5e10 ]`, `{"a":"\ud800"}`, `"text"`, `"a\nb"`, `12`, `null`,
		`{"k":{"k":{"k":[[["deep"]]]}}}`, "{\"tab\"\t:\t\"x\"\r\n}",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		if !json.Valid(raw) {
			return
		}
		var wantObj map[string]json.RawMessage
		objErr := json.Unmarshal(raw, &wantObj)
		gotObj, ok := splitObject(raw)
		if want := objErr == nil && wantObj != nil; ok != want {
			t.Fatalf("splitObject(%q) ok = %v, encoding/json: %v, %v", raw, ok, objErr, wantObj)
		}
		if ok && !sameRaw(gotObj, wantObj) {
			t.Fatalf("splitObject(%q) = %q, encoding/json gives %q", raw, gotObj, wantObj)
		}
		var wantArr []json.RawMessage
		arrErr := json.Unmarshal(raw, &wantArr)
		gotArr, ok := splitArray(raw)
		if want := arrErr == nil && wantArr != nil; ok != want {
			t.Fatalf("splitArray(%q) ok = %v, encoding/json: %v, %v", raw, ok, arrErr, wantArr)
		}
		if ok && !reflect.DeepEqual(asStrings(gotArr), asStrings(wantArr)) {
			t.Fatalf("splitArray(%q) = %q, encoding/json gives %q", raw, gotArr, wantArr)
		}
		var wantStr string
		strErr := json.Unmarshal(raw, &wantStr)
		gotStr, ok := unquote(bytes.TrimSpace(raw))
		if ok != (strErr == nil) || gotStr != wantStr {
			t.Fatalf("unquote(%q) = %q, %v; encoding/json gives %q, %v", raw, gotStr, ok, wantStr, strErr)
		}
	})
}

func sameRaw(a, b map[string]json.RawMessage) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func asStrings(raws []json.RawMessage) []string {
	out := make([]string, len(raws))
	for i, r := range raws {
		out[i] = string(r)
	}
	return out
}
