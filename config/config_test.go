package config_test

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/rudderhook/rudderhook/config"
)

func TestDefaults(t *testing.T) {
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.DatabaseURL != "postgres://postgres@127.0.0.1:5432/rudderhook?sslmode=disable" ||
		cfg.Temporal.Address != "127.0.0.1:7233" || cfg.Temporal.Namespace != "default" || cfg.MaxBodyBytes != 2<<20 {
		t.Errorf("defaults = %+v", cfg)
	}
	src := cfg.Sources["airudder"]
	if len(cfg.Sources) != 1 || src == nil || len(src.Keys) != 1 || src.Keys[0] != "airudder" || src.RedialLocation != time.UTC {
		t.Errorf("default source = %+v", src)
	}
	if cfg.DatabaseURLSet {
		t.Error("DATABASE_URL counts as set when it was defaulted: dev would not run its private PostgreSQL")
	}
	for _, c := range []struct {
		environ []string
		set     bool
	}{
		{[]string{"DATABASE_URL=postgres://db.example/rudderhook"}, true},
		{[]string{"DATABASE_URL=postgres://postgres@127.0.0.1:5432/rudderhook?sslmode=disable"}, true}, // the default, but said
		{[]string{"DATABASE_URL="}, false},
	} {
		cfg, err := config.Load(c.environ, "")
		if err != nil {
			t.Fatal(err)
		}
		if cfg.DatabaseURLSet != c.set {
			t.Errorf("%v: DatabaseURLSet = %v, want %v", c.environ, cfg.DatabaseURLSet, c.set)
		}
	}
}

func TestFileAndEnvironment(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	yaml := `
sources:
  acme-collections:
    keys: [old, new]
    redial_time_zone: Asia/Jakarta
    allow_ips: [10.1.0.0/16, 192.0.2.7]
    rate_per_second: 20
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{
		"RUDDERHOOK_CONFIG=" + path,
		"RUDDERHOOK_SOURCE_ACME_COLLECTIONS_KEYS=rotated, newest",
		"RUDDERHOOK_SOURCE_TELESALES_KEYS=ts",
		"RUDDERHOOK_SOURCE_TELESALES_TOKEN=s3cret",
		"DATABASE_URL=postgres://db/x",
	}, "")
	if err != nil {
		t.Fatal(err)
	}
	acme := cfg.Sources["acme-collections"]
	if acme == nil || strings.Join(acme.Keys, ",") != "rotated,newest" || acme.RedialLocation.String() != "Asia/Jakarta" ||
		len(acme.AllowedNets) != 2 || acme.AllowedNets[1].String() != "192.0.2.7/32" || acme.Burst != 20 || acme.MaxBodyBytes != 2<<20 {
		t.Errorf("acme = %+v", acme)
	}
	if ts := cfg.Sources["telesales"]; ts == nil || ts.Keys[0] != "ts" || ts.Token != "s3cret" {
		t.Errorf("telesales = %+v", ts)
	}
	if _, ok := cfg.Sources["airudder"]; ok {
		t.Errorf("the built-in source stays only when nothing else is configured")
	}
	if cfg.DatabaseURL != "postgres://db/x" {
		t.Errorf("DATABASE_URL = %s", cfg.DatabaseURL)
	}
}

func TestBadConfigurationIsRefusedWithReasons(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bad.yaml")
	_ = os.WriteFile(path, []byte("sources:\n  Bad Name:\n    keys: [k]\n  nokeys: {}\n  tz:\n    keys: [k]\n    redial_time_zone: Mars/Olympus\n"), 0o600)
	_, err := config.Load(nil, path)
	if err == nil {
		t.Fatal("want an error")
	}
	for _, want := range []string{`"Bad Name"`, `"nokeys": no Sign keys`, "Mars/Olympus"} {
		if !strings.Contains(err.Error(), want) {
			t.Errorf("error %q does not mention %s", err, want)
		}
	}
	_ = os.WriteFile(path, []byte("sourcez: {}\n"), 0o600)
	if _, err := config.Load(nil, path); err == nil || !strings.Contains(err.Error(), "sourcez") {
		t.Errorf("unknown key: err = %v", err)
	}
}

func TestTenantFormatsAreCheckedAtLoad(t *testing.T) {
	path := filepath.Join(t.TempDir(), "formats.yaml")
	good := "sources:\n  id:\n    keys: [k]\n    date_layouts: [\"02/01/2006\", \"2 Jan 2006\"]\n    decimal_separator: \",\"\n    max_calls_per_body: 20\n"
	_ = os.WriteFile(path, []byte(good), 0o600)
	cfg, err := config.Load(nil, path)
	if err != nil {
		t.Fatal(err)
	}
	opts := cfg.Sources["id"].ParseOptions()
	if len(opts.DateLayouts) != 2 || opts.DecimalSeparator != "," || opts.MaxCalls != 20 {
		t.Errorf("parse options = %+v", opts)
	}
	if cfg, _ := config.Load(nil, ""); cfg.Sources["airudder"].MaxCallsPerBody != config.DefaultMaxCallsPerBody {
		t.Errorf("default cap = %d", cfg.Sources["airudder"].MaxCallsPerBody)
	}
	for yaml, want := range map[string]string{
		"date_layouts: [\"dd/mm/yyyy\"]":                           "date_layouts",
		"date_layouts: [\"15:04\"]":                                "date_layouts",
		"decimal_separator: \";\"":                                 "decimal_separator",
		"thousands_separator: \"_\"":                               "thousands_separator",
		"decimal_separator: \",\"\n    thousands_separator: \",\"": "both",
		"max_calls_per_body: -1":                                   "max_calls_per_body",
	} {
		_ = os.WriteFile(path, []byte("sources:\n  id:\n    keys: [k]\n    "+yaml+"\n"), 0o600)
		if _, err := config.Load(nil, path); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v, want one about %s", yaml, err, want)
		}
	}
}

func TestIsEnvVar(t *testing.T) {
	for name, want := range map[string]bool{
		"DATABASE_URL": true, "TEMPORAL_API_KEY": true, "RUDDERHOOK_ADMIN_TOKEN": true,
		"RUDDERHOOK_SOURCE_ACME_KEYS": true, "TEMPORAL_ADRESS": false, "RUDDERHOOK_SOURCE_ACME_KEY": false, "Sources": false,
	} {
		if got := config.IsEnvVar(name); got != want {
			t.Errorf("IsEnvVar(%s) = %v", name, got)
		}
	}
}

func TestTargets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	_ = os.WriteFile(path, []byte("targets:\n  crm:\n    url: https://crm.example/hooks\n    secret: whsec_c2VjcmV0\n"), 0o600)
	cfg, err := config.Load([]string{"RUDDERHOOK_TARGET_TEAM_CHANNEL_URL=https://hooks.slack.example/x", "RUDDERHOOK_TARGET_CRM_SECRET=rotated"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if crm := cfg.Targets["crm"]; crm == nil || crm.URL != "https://crm.example/hooks" || crm.Secret != "rotated" {
		t.Errorf("crm = %+v", crm)
	}
	if tc := cfg.Targets["team_channel"]; tc == nil || tc.URL != "https://hooks.slack.example/x" {
		t.Errorf("team_channel = %+v", cfg.Targets)
	}
	if !cfg.TargetNames()["crm"] || cfg.Airudder.BaseURL != "https://api.airudder.com" {
		t.Errorf("names %v, airudder %+v", cfg.TargetNames(), cfg.Airudder)
	}
	if _, err := config.Load([]string{"RUDDERHOOK_TARGET_CRM_SECRET=x"}, ""); err == nil || !strings.Contains(err.Error(), `target "crm": url`) {
		t.Errorf("a target without a URL: %v", err)
	}
}

// Targets reach public addresses only, like a rule's url:, unless the operator says allow_private for
// one (in the file or the environment); loopback for all of them only when RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK
// says so. Nothing reaches a metadata address.
func TestTargetsReachPrivateAddressesOnlyWhenConfigured(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	_ = os.WriteFile(path, []byte("targets:\n  crm:\n    url: https://10.0.0.5/hooks\n    allow_private: true\n  chat:\n    url: https://10.0.0.6/x\n"), 0o600)
	cfg, err := config.Load([]string{"RUDDERHOOK_TARGET_SIDECAR_URL=http://127.0.0.1:9000/", "RUDDERHOOK_TARGET_SIDECAR_ALLOW_PRIVATE=true"}, path)
	if err != nil {
		t.Fatal(err)
	}
	for name, refused := range map[string]bool{"crm": false, "sidecar": false, "chat": true} {
		tg := cfg.Targets[name]
		if err := tg.Policy(cfg.RuleURLs()).CheckURL(tg.URL); (err != nil) != refused {
			t.Errorf("target %s (allow_private %v): %v", name, tg.AllowPrivate, err)
		}
	}
	if err := cfg.Targets["crm"].Policy(cfg.RuleURLs()).CheckURL("http://169.254.169.254/"); err == nil {
		t.Error("allow_private let a target reach the metadata address")
	}
	if err := cfg.RuleURLs().CheckURL("http://127.0.0.1:9000/"); err == nil {
		t.Error("a rule URL may reach loopback by default")
	}
	cfg, err = config.Load([]string{"RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK=true", "RUDDERHOOK_TARGET_CRM_URL=http://127.0.0.1:9000/"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RuleURLs().CheckURL("http://127.0.0.1:9000/") != nil || cfg.Targets["crm"].Policy(cfg.RuleURLs()).CheckURL(cfg.Targets["crm"].URL) != nil ||
		cfg.RuleURLs().CheckURL("http://10.0.0.5/") == nil {
		t.Errorf("RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK: %+v", cfg.RuleURLs())
	}
	if _, err := config.Load([]string{"RUDDERHOOK_TARGET_CRM_URL=http://x/", "RUDDERHOOK_TARGET_CRM_ALLOW_PRIVATE=yes please"}, ""); err == nil {
		t.Error("ALLOW_PRIVATE took a value that is not a boolean")
	}
}

// TestREADMEDocumentsEveryVariable keeps the configuration table in step with what Load reads.
func TestREADMEDocumentsEveryVariable(t *testing.T) {
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range config.EnvVarNames() {
		if !strings.Contains(string(readme), "`"+name+"`") {
			t.Errorf("README.md does not document %s", name)
		}
	}
}

func TestAirudderAccountZone(t *testing.T) {
	cfg, err := config.Load([]string{"AIRUDDER_TIME_ZONE=Asia/Jakarta", "AIRUDDER_CANCEL_CONTACT_PATH=/service/cloud/workflow/cancel"}, "")
	if err != nil || cfg.Airudder.Location == nil || cfg.Airudder.Location.String() != "Asia/Jakarta" || len(cfg.Airudder.ClientOptions()) != 3 {
		t.Errorf("airudder = %+v, %v", cfg.Airudder, err)
	}
	if cfg, _ := config.Load(nil, ""); cfg.Airudder.Location != nil {
		t.Errorf("without AIRUDDER_TIME_ZONE the rules' zone is used, not %v", cfg.Airudder.Location)
	}
	if _, err := config.Load([]string{"AIRUDDER_TIME_ZONE=Mars/Olympus"}, ""); err == nil || !strings.Contains(err.Error(), "AIRUDDER_TIME_ZONE") {
		t.Errorf("bad zone: err = %v", err)
	}
}

func TestAdminTokenMustBeLongAndNotThePlaceholder(t *testing.T) {
	for token, ok := range map[string]bool{
		"":                 false,
		"short":            false,
		config.Placeholder: false,
		"CHANGE-ME-CHANGE-ME-CHANGE-ME-CHANGE-ME": false,
		strings.Repeat("a", 31):                   false,
		strings.Repeat("a", 32):                   true,
	} {
		if err := config.CheckAdminToken(token); (err == nil) != ok {
			t.Errorf("CheckAdminToken(%q) = %v, want ok %v", token, err, ok)
		}
	}
	cfg, err := config.Load([]string{"RUDDERHOOK_SOURCE_ACME_KEYS=own-key", "RUDDERHOOK_SOURCE_OLD_KEYS=airudder,new"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(cfg.DefaultKeySources(), ","); got != "old" {
		t.Errorf("sources with the default key = %q, want old", got)
	}
}

func TestUsersFromFileAndEnvironment(t *testing.T) {
	hash := strings.Repeat("ab", 32)
	other := strings.Repeat("cd", 32)
	path := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(path, []byte("users:\n  - {name: Ana, role: editor, token_sha256: "+strings.ToUpper(hash)+"}\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"RUDDERHOOK_USERS=Vic:viewer:" + other, "RUDDERHOOK_SESSION_KEY=" + strings.Repeat("k", 32)}, path)
	if err != nil {
		t.Fatal(err)
	}
	want := []config.User{{Name: "Ana", Role: "editor", TokenSHA256: hash}, {Name: "Vic", Role: "viewer", TokenSHA256: other}}
	if !reflect.DeepEqual(cfg.Users, want) || cfg.SessionTTL != 12*time.Hour {
		t.Errorf("users = %+v, ttl %v", cfg.Users, cfg.SessionTTL)
	}
	for env, msg := range map[string]string{
		"RUDDERHOOK_USERS=Ana:admin:" + hash:                           `role "admin" is not viewer or editor`,
		"RUDDERHOOK_USERS=Ana:editor:secret-token":                     "token_sha256 must be the 64 hex digits",
		"RUDDERHOOK_USERS=Ana:editor:" + hash + ",Ana:viewer:" + other: `user "Ana" is listed twice`,
		"RUDDERHOOK_USERS=Ana:editor:" + hash + ",Bo:viewer:" + hash:   "another user has the same token",
		"RUDDERHOOK_USERS=just-a-token":                                "is not name:role:token_sha256",
		"RUDDERHOOK_SESSION_KEY=short":                                 "at least 32 characters",
		"RUDDERHOOK_PII_KEY=short-pii-key":                             "RUDDERHOOK_PII_KEY must be at least 32 characters",
	} {
		_, err := config.Load([]string{env}, "")
		if err == nil || !strings.Contains(err.Error(), msg) {
			t.Errorf("%s: %v, want %q", env, err, msg)
		}
		if err != nil && (strings.Contains(err.Error(), "secret-token") || strings.Contains(err.Error(), "just-a-token") || strings.Contains(err.Error(), "short-pii-key")) {
			t.Errorf("%s: the error repeats what may be a token: %v", env, err)
		}
	}
}

func TestAckModes(t *testing.T) {
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Ack != config.AckInbox || cfg.Sources["airudder"].Ack != config.AckInbox || cfg.RelayConcurrency != 16 {
		t.Errorf("default ack %q (source %q), relay concurrency %d", cfg.Ack, cfg.Sources["airudder"].Ack, cfg.RelayConcurrency)
	}
	path := filepath.Join(t.TempDir(), "ack.yaml")
	_ = os.WriteFile(path, []byte("sources:\n  direct:\n    keys: [k]\n    ack: temporal\n  queued:\n    keys: [k]\n"), 0o600)
	cfg, err = config.Load([]string{"RUDDERHOOK_ACK=temporal", "RUDDERHOOK_RELAY_CONCURRENCY=4"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Sources["direct"].Ack != config.AckTemporal || cfg.Sources["queued"].Ack != config.AckTemporal || cfg.RelayConcurrency != 4 {
		t.Errorf("ack: direct %q, queued %q, relay %d", cfg.Sources["direct"].Ack, cfg.Sources["queued"].Ack, cfg.RelayConcurrency)
	}
	_ = os.WriteFile(path, []byte("sources:\n  direct:\n    keys: [k]\n    ack: inbox\n"), 0o600)
	if cfg, err = config.Load([]string{"RUDDERHOOK_ACK=temporal"}, path); err != nil || cfg.Sources["direct"].Ack != config.AckInbox {
		t.Errorf("a source's ack: overrides RUDDERHOOK_ACK: %v, %+v", err, cfg)
	}
	for env, want := range map[string]string{"RUDDERHOOK_ACK=queue": "RUDDERHOOK_ACK", "RUDDERHOOK_RELAY_CONCURRENCY=0": "RUDDERHOOK_RELAY_CONCURRENCY"} {
		if _, err := config.Load([]string{env}, ""); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: err = %v", env, err)
		}
	}
	_ = os.WriteFile(path, []byte("sources:\n  direct:\n    keys: [k]\n    ack: later\n"), 0o600)
	if _, err := config.Load(nil, path); err == nil || !strings.Contains(err.Error(), `source "direct": ack`) {
		t.Errorf("a bad ack: %v", err)
	}
}

func TestSourceKinds(t *testing.T) {
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	yaml := `
sources:
  acme:
    keys: [k]
    token: t0ken
    kinds:
      - waba-status
      - {name: chatbot-end, key_fields: [session.id, "items[0].id"]}
  plain:
    keys: [k]
`
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load([]string{"RUDDERHOOK_CONFIG=" + path, "RUDDERHOOK_SOURCE_ENV_KEYS=k",
		"RUDDERHOOK_SOURCE_ENV_ALLOW_IPS=10.0.0.0/8", "RUDDERHOOK_SOURCE_ENV_KINDS=node-push=a.b+c, waba-status"}, "")
	if err != nil {
		t.Fatal(err)
	}
	acme := cfg.Sources["acme"]
	if k, ok := acme.Kind("chatbot-end"); !ok || strings.Join(k.KeyFields, ",") != "session.id,items[0].id" || k.Signed || k.On[0] != "chatbot_end" {
		t.Errorf("acme chatbot-end = %+v, %v", k, ok)
	}
	if _, ok := acme.Kind("waba-status"); !ok {
		t.Error("acme takes no waba-status")
	}
	if k, ok := acme.Kind("pds"); !ok || !k.Typed {
		t.Errorf("acme pds = %+v, %v", k, ok)
	}
	if _, ok := acme.Kind("chatbot-start"); ok {
		t.Error("acme takes a kind it does not list")
	}
	if !acme.TakesUnsigned() || cfg.Sources["plain"].TakesUnsigned() || !cfg.Sources["env"].TakesUnsigned() {
		t.Errorf("TakesUnsigned: acme %v, plain %v, env %v", acme.TakesUnsigned(), cfg.Sources["plain"].TakesUnsigned(), cfg.Sources["env"].TakesUnsigned())
	}
	if k, ok := cfg.Sources["env"].Kind("node-push"); !ok || strings.Join(k.KeyFields, ",") != "a.b,c" {
		t.Errorf("env node-push = %+v, %v", k, ok)
	}
	if hint := cfg.Sources["plain"].UnsignedHint(); !strings.Contains(hint, "RUDDERHOOK_SOURCE_PLAIN_TOKEN") {
		t.Errorf("hint = %q", hint)
	}
}

func TestSourceKindsRefused(t *testing.T) {
	for name, kinds := range map[string]string{
		"built-in":  "[pds]",
		"bad name":  "[Waba_Status]",
		"twice":     "[a-b, a-b]",
		"bad field": "[{name: a-b, key_fields: ['a..b']}]",
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "rudderhook.yaml")
			if err := os.WriteFile(path, []byte("sources:\n  s:\n    keys: [k]\n    kinds: "+kinds+"\n"), 0o600); err != nil {
				t.Fatal(err)
			}
			if _, err := config.Load([]string{"RUDDERHOOK_CONFIG=" + path}, ""); err == nil || !strings.Contains(err.Error(), "kinds") {
				t.Errorf("err = %v", err)
			}
		})
	}
}

// Redial times come without a zone: a source's redial_time_zone says which, else AIRUDDER_TIME_ZONE
// (the account's zone, in which Airudder writes them), else UTC, which is named as a guess so that
// serve, worker and dev warn of it.
func TestRedialTimesAreReadInTheSourcesZoneElseTheAccounts(t *testing.T) {
	for _, tc := range []struct {
		name    string
		environ []string
		zone    string
		guessed bool
	}{
		{"neither", nil, "UTC", true},
		{"the account's", []string{"AIRUDDER_TIME_ZONE=Asia/Jakarta"}, "Asia/Jakarta", false},
		{"the source's", []string{"RUDDERHOOK_SOURCE_AIRUDDER_REDIAL_TZ=Asia/Makassar"}, "Asia/Makassar", false},
		{"the source's before the account's", []string{"AIRUDDER_TIME_ZONE=Asia/Jakarta", "RUDDERHOOK_SOURCE_AIRUDDER_REDIAL_TZ=Asia/Makassar"},
			"Asia/Makassar", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cfg, err := config.Load(append([]string{"RUDDERHOOK_SOURCE_AIRUDDER_KEYS=k"}, tc.environ...), "")
			if err != nil {
				t.Fatal(err)
			}
			if got := cfg.Sources["airudder"].ParseOptions().RedialLocation.String(); got != tc.zone {
				t.Errorf("redial zone %s, want %s", got, tc.zone)
			}
			if guessed := cfg.RedialZoneGuessed(); (len(guessed) > 0) != tc.guessed || (tc.guessed && guessed[0] != "airudder") {
				t.Errorf("RedialZoneGuessed = %v, want a guess: %t", guessed, tc.guessed)
			}
		})
	}
}

func TestRecordingsSettings(t *testing.T) {
	cfg, err := config.Load(nil, "")
	if err != nil {
		t.Fatal(err)
	}
	if cfg.RecordingsBucket != "" || cfg.RecordingsMaxBytes != 200<<20 || len(cfg.ArchiveSources()) != 0 {
		t.Errorf("defaults: bucket %q, max %d, archive sources %v", cfg.RecordingsBucket, cfg.RecordingsMaxBytes, cfg.ArchiveSources())
	}
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	if err := os.WriteFile(path, []byte("sources:\n  pds:\n    keys: [k]\n    archive_recordings: true\n  other:\n    keys: [k]\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err = config.Load([]string{"RUDDERHOOK_RECORDINGS_BUCKET=s3://rec?region=ap-southeast-3", "RUDDERHOOK_RECORDINGS_MAX_BYTES=1048576",
		"RUDDERHOOK_SOURCE_THIRD_KEYS=k", "RUDDERHOOK_SOURCE_THIRD_ARCHIVE_RECORDINGS=true"}, path)
	if err != nil {
		t.Fatal(err)
	}
	if got := cfg.ArchiveSources(); !reflect.DeepEqual(got, map[string]bool{"pds": true, "third": true}) ||
		cfg.RecordingsBucket != "s3://rec?region=ap-southeast-3" || cfg.RecordingsMaxBytes != 1<<20 {
		t.Errorf("archive sources %v, bucket %q, max %d", got, cfg.RecordingsBucket, cfg.RecordingsMaxBytes)
	}
	for _, env := range [][]string{{"RUDDERHOOK_SOURCE_X_KEYS=k", "RUDDERHOOK_SOURCE_X_ARCHIVE_RECORDINGS=always"}, {"RUDDERHOOK_RECORDINGS_MAX_BYTES=0"}} {
		if _, err := config.Load(env, ""); err == nil {
			t.Errorf("%v was taken", env)
		}
	}
}
