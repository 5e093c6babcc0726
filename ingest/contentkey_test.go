package ingest_test

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
)

// A call that names itself by neither CallID nor TaskID and id no longer refuses the body: both calls
// are read, the anonymous one under its content key with a note, and the body the inbox keeps reads
// back to the same keys and digests (the relay starts the same workflows).
func TestACallWithoutIdentityIsKeptBesideItsSiblings(t *testing.T) {
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	src := cfg.Sources[airudder.DefaultKey]
	var env map[string]any
	if err := json.Unmarshal(airudder.ExampleCallCompleted, &env); err != nil {
		t.Fatal(err)
	}
	env["Details"] = append(env["Details"].([]any), map[string]any{"CalleeNumber": "+6281234567", "Status": "finished", "Intention": "A"})
	body, _ := json.Marshal(env)
	k, _ := airudder.KindByRoute(airudder.KindCallCompleted)
	at := time.Date(2024, 3, 11, 3, 21, 0, 0, time.UTC)
	cb, err := ingest.Read(body, src, k, ingest.AlreadyVerified, at)
	if err != nil {
		t.Fatalf("the body is refused: %v", err)
	}
	if len(cb.Subjects) != 2 || cb.Subjects[0].Key() != "cad907xxxxxxxx35644a" {
		t.Fatalf("subjects %d, first %q", len(cb.Subjects), cb.Subjects[0].Key())
	}
	anon := cb.Subjects[1]
	if !strings.HasPrefix(anon.Key(), "sha256:") || !strings.Contains(airudder.NoteFields(anon.Notes())["CallID"], anon.Key()) {
		t.Errorf("key %q, notes %+v", anon.Key(), anon.Notes())
	}
	kept, err := cb.Unsigned()
	if err != nil {
		t.Fatal(err)
	}
	again, err := ingest.Read(kept, src, k, ingest.AlreadyVerified, at)
	if err != nil {
		t.Fatalf("the inbox's body is refused: %v", err)
	}
	for i, s := range again.Subjects {
		if s.Key() != cb.Subjects[i].Key() || s.Digest() != cb.Subjects[i].Digest() {
			t.Errorf("call %d from the inbox: key %q digest %.12s, want %q %.12s", i, s.Key(), s.Digest(), cb.Subjects[i].Key(), cb.Subjects[i].Digest())
		}
	}
}
