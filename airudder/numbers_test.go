package airudder_test

import (
	"crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/airudder"
)

// A list completion's key, and so its workflow ID, names its number by a hash keyed with the
// installation's key: not a plain hash that anyone could compute from a list of numbers, the same for
// the same key (a redelivery is the same workflow), another under another key.
func TestListCompletionKeyHashesTheNumberWithTheInstallationKey(t *testing.T) {
	k := kind(t, "list-completed")
	keys := airudder.NumberKeys{ID: []byte("installation-key-of-32-bytes-abc")}
	ev := readEvent(t, k, airudder.ExampleListCompleted, airudder.ParseOptions{Numbers: keys})
	plain := sha256.Sum256([]byte("+86xxxxxxxx721"))
	if strings.Contains(ev.Key, hex.EncodeToString(plain[:8])) || strings.Contains(ev.Key, "+86") {
		t.Errorf("key %q holds the number or its plain hash", ev.Key)
	}
	if want := "16e0660e6cxxxxxxxxxxxxxxxx0abfe0e191/7777777.0/tel:" + airudder.HashNumber(keys.ID, "+86xxxxxxxx721"); ev.Key != want {
		t.Errorf("key = %q, want %q", ev.Key, want)
	}
	if again := readEvent(t, k, airudder.ExampleListCompleted, airudder.ParseOptions{Numbers: keys}); again.Key != ev.Key {
		t.Errorf("the same body under the same key: %q, then %q", ev.Key, again.Key)
	}
	other := readEvent(t, k, airudder.ExampleListCompleted, airudder.ParseOptions{Numbers: airudder.NumberKeys{ID: []byte("another-installation-key-32bytes")}})
	if other.Key == ev.Key {
		t.Errorf("two installation keys give the same key %q", ev.Key)
	}
	// Without a PII key, the search attribute keeps the number (nothing stands for it).
	if ev.CalleeNumberHMAC != "" {
		t.Errorf("CalleeNumberHMAC = %q without a PII key", ev.CalleeNumberHMAC)
	}
}

// With a PII key, every call and event that has a callee number carries what stands for it in the
// CalleeNumber search attribute, computed when it is read (the workflow never holds the key): the
// number's HMAC under the PII key, written alike however the number is spaced.
func TestPIIKeyGivesTheCalleeNumberSearchValue(t *testing.T) {
	pii := []byte("pii-key-for-tests-0123456789abcdef")
	opts := airudder.ParseOptions{Numbers: airudder.NumberKeys{ID: []byte("id-key"), Search: pii}}
	want := airudder.HashNumber(pii, "+86xxxxxxxx721")
	if len(want) != 32 || want == airudder.HashNumber([]byte("id-key"), "+86xxxxxxxx721") {
		t.Fatalf("HashNumber = %q", want)
	}
	if spaced := airudder.HashNumber(pii, " +86 xxx-xxx (xx) 721 "); spaced != want {
		t.Errorf("a spaced number hashes to %q, want %q", spaced, want)
	}
	doc, err := airudder.Decode(airudder.ExampleCallCompleted)
	if err != nil {
		t.Fatal(err)
	}
	cc, err := kind(t, "call-completed").ReadCalls(doc, opts)
	if err != nil {
		t.Fatal(err)
	}
	for _, rc := range cc.Received("airudder", cc.Details[0].CallEndTime.UTC()) {
		if rc.CalleeNumberHMAC != want || rc.Slim().CalleeNumberHMAC != want {
			t.Errorf("call %s: CalleeNumberHMAC %q (slim %q), want %q", rc.Key, rc.CalleeNumberHMAC, rc.Slim().CalleeNumberHMAC, want)
		}
	}
	lc := readEvent(t, kind(t, "list-completed"), airudder.ExampleListCompleted, opts)
	if lc.CalleeNumberHMAC != want || lc.Slim().CalleeNumberHMAC != want {
		t.Errorf("list completion: CalleeNumberHMAC %q, want %q", lc.CalleeNumberHMAC, want)
	}
	agent := readEvent(t, kind(t, "pds"), airudder.ExamplePDSAgentStatus, opts)
	if agent.CalleeNumber == "" || agent.Call == nil ||
		agent.CalleeNumberHMAC != airudder.HashNumber(pii, agent.CalleeNumber) || agent.Call.CalleeNumberHMAC != agent.CalleeNumberHMAC {
		t.Errorf("PDS agent event: %q, its call %+v", agent.CalleeNumberHMAC, agent.Call)
	}
}
