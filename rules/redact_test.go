package rules_test

import (
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/rules"
)

// Redact hides every header value and all of a url but its scheme and host, also through an anchor;
// what it gives still compiles to the same rules; and a document with nothing to hide comes back as it
// was, byte for byte.
func TestRedactHidesURLSecretsAndHeaderValues(t *testing.T) {
	t.Parallel()
	doc := `time_zone: Asia/Jakarta
rules:
  - id: crm-task
    when: call.intention_description == "Needs Follow Up"
    actions:
      - name: task
        type: webhook
        # the CRM's own endpoint
        url: "https://hook-user:hook-pass@hooks.example.com/services/T0/s3cr3tpath?token=qtok&bare-secret#frag-secret"
        headers: &h {Authorization: "Bearer hdr-secret", X-Api-Key: key-secret}
      - name: again
        type: webhook
        url: https://other.example.com
        headers: *h
`
	hidden := string(rules.Redact([]byte(doc)))
	for _, secret := range []string{"hook-user", "hook-pass", "s3cr3tpath", "qtok", "bare-secret", "frag-secret", "hdr-secret", "key-secret"} {
		if strings.Contains(hidden, secret) {
			t.Errorf("Redact left %q:\n%s", secret, hidden)
		}
	}
	for _, kept := range []string{"https://xxxxx@hooks.example.com/xxxxx?token=xxxxx&xxxxx#xxxxx", "Authorization: ••••",
		"X-Api-Key: ••••", "url: https://other.example.com\n", "# the CRM's own endpoint"} {
		if !strings.Contains(hidden, kept) {
			t.Errorf("Redact gave no %q:\n%s", kept, hidden)
		}
	}
	set, err := rules.Compile([]byte(hidden), rules.Options{})
	if err != nil || len(set.Rules) != 1 || len(set.Rules[0].Actions) != 2 {
		t.Fatalf("the hidden document does not compile to the same rules: %v", err)
	}
	if again := string(rules.Redact([]byte(hidden))); again != hidden {
		t.Errorf("Redact of a hidden document changed it again:\n%s", again)
	}
	plain := strings.ReplaceAll(doc, "        headers: *h\n", "")
	plain = plain[:strings.Index(plain, "      - name: task")] + "      - {name: team, type: notify, target: team_channel, text: hi}  # as written\n"
	if got := string(rules.Redact([]byte(plain))); got != plain {
		t.Errorf("a document with nothing to hide was rewritten:\n%s", got)
	}
}
