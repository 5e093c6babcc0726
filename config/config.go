// Package config is rudderhook's configuration: environment variables for what differs per deployment
// (addresses, credentials) and one optional YAML file for what is shaped like data (sources and targets;
// the follow-up rules have a file of their own, RUDDERHOOK_RULES_FILE).
// Only cmd calls Load, handing it the environment; no other package reads the environment.
package config

import (
	"bytes"
	"cmp"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/netip"
	"net/url"
	"os"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/caarlos0/env/v11"
	"gopkg.in/yaml.v3"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/egress"
)

// Config is everything the processes need. Zero values mean "use the default".
type Config struct {
	DatabaseURL string `env:"DATABASE_URL" envDefault:"postgres://postgres@127.0.0.1:5432/rudderhook?sslmode=disable"`
	// DatabaseURLSet says DATABASE_URL was given rather than defaulted: then `dev` uses it or fails, and
	// never runs a private server instead.
	DatabaseURLSet bool `env:"-"`
	Temporal       Temporal
	AdminToken     string `env:"RUDDERHOOK_ADMIN_TOKEN"`
	HTTPAddr       string `env:"RUDDERHOOK_HTTP_ADDR" envDefault:"127.0.0.1:8080"`
	ConfigFile     string `env:"RUDDERHOOK_CONFIG"`
	MaxBodyBytes   int64  `env:"RUDDERHOOK_MAX_BODY_BYTES" envDefault:"2097152"`
	// TrustedProxies are the CIDRs whose X-Forwarded-For the receiver believes when it checks allowlists.
	TrustedProxies []string      `env:"RUDDERHOOK_TRUSTED_PROXIES" envSeparator:","`
	LogLevel       string        `env:"RUDDERHOOK_LOG_LEVEL" envDefault:"info"`
	LogFormat      string        `env:"RUDDERHOOK_LOG_FORMAT" envDefault:"text"`
	ShutdownGrace  time.Duration `env:"RUDDERHOOK_SHUTDOWN_GRACE" envDefault:"20s"`
	// MetricsAddr, when set, is where `worker` serves /metrics and /healthz (serve and dev have them on
	// their API).
	MetricsAddr string `env:"RUDDERHOOK_METRICS_ADDR"`
	// DebugAddr, when set, is where serve, worker and dev serve Go's profiler (/debug/pprof/). It has no
	// authentication: bind it to a loopback or otherwise private address.
	DebugAddr string `env:"RUDDERHOOK_DEBUG_ADDR"`
	// InboxMaxAttempts and InboxMaxAge bound how long the relay retries an inbox entry before it becomes a
	// dead letter (listed by GET /v1/inbox?state=dead, replayed by POST /v1/inbox/{id}/replay).
	InboxMaxAttempts int           `env:"RUDDERHOOK_INBOX_MAX_ATTEMPTS" envDefault:"100"`
	InboxMaxAge      time.Duration `env:"RUDDERHOOK_INBOX_MAX_AGE" envDefault:"72h"`
	// Ack is when a callback is answered 200: once committed to the PostgreSQL inbox (AckInbox, the
	// default: as fast as a plain database receiver, and the relay starts the workflows) or once Temporal
	// has accepted its workflow starts (AckTemporal). A source's ack: overrides it.
	Ack string `env:"RUDDERHOOK_ACK" envDefault:"inbox"`
	// RelayConcurrency bounds the workflow starts the inbox relay of one process makes at once.
	RelayConcurrency int `env:"RUDDERHOOK_RELAY_CONCURRENCY" envDefault:"16"`
	// OutboundAllowLoopback lets rule URLs and targets reach this machine (127.0.0.0/8, ::1), for local
	// testing: `dev` sets it, and tests whose fake CRMs listen on loopback. Otherwise a rule's url: may
	// reach only public addresses, and a target private ones only with allow_private (see egress).
	OutboundAllowLoopback bool `env:"RUDDERHOOK_OUTBOUND_ALLOW_LOOPBACK"`
	// RecordingsBucket is where archive_recording follow-ups put call recordings: a Go CDK bucket URL,
	// file:///dir or s3://bucket?region=… (gs:// and azblob:// in builds that link their drivers). Empty:
	// recordings are not archived, and those follow-ups fail saying so (dev uses .rudderhook/recordings).
	RecordingsBucket string `env:"RUDDERHOOK_RECORDINGS_BUCKET"`
	// RecordingsMaxBytes refuses a recording larger than this (200 MiB by default).
	RecordingsMaxBytes int64 `env:"RUDDERHOOK_RECORDINGS_MAX_BYTES" envDefault:"209715200"`

	// Sources are the named receivers, from the file and environment; the built-in default is one
	// source "airudder" with key "airudder".
	Sources map[string]*Source `env:"-"`
	// Targets are the endpoints that rules name (a CRM, a team channel), from the file and environment.
	Targets map[string]*Target `env:"-"`
	// RulesFile, when set, is loaded as the follow-up rules at start and again whenever it changes.
	RulesFile string `env:"RUDDERHOOK_RULES_FILE"`
	Airudder  Airudder

	// Users may sign in to the rules page (/ui/), each with their own token, from the file's users: and
	// RUDDERHOOK_USERS ("name:role:sha256,…").
	Users    []User `env:"-"`
	UsersEnv string `env:"RUDDERHOOK_USERS"`
	// SessionKey signs the rules page's session cookies; replicas behind one address need the same. When
	// empty, each process makes its own, and sessions end when it stops.
	SessionKey string        `env:"RUDDERHOOK_SESSION_KEY"`
	SessionTTL time.Duration `env:"RUDDERHOOK_SESSION_TTL" envDefault:"12h"`
	// PIIKey, when set, keys the hash that the CalleeNumber search attribute holds instead of the number
	// (airudder.NumberKeys.Search): the same on every serve and dev, and on whoever runs `rudderhook pii
	// hash`. Temporal's search attributes are never encrypted.
	PIIKey string `env:"RUDDERHOOK_PII_KEY"`
	// Numbers are the keys that hide phone numbers in workflow IDs and search attributes, set by
	// UseNumberKeys once the installation's key is read from PostgreSQL.
	Numbers airudder.NumberKeys `env:"-"`
	// ExpectationsSweep is how often the worker's schedule marks re-calls overdue whose call did not
	// complete by their deadline (0: never; see reconcile.go).
	ExpectationsSweep time.Duration `env:"RUDDERHOOK_EXPECTATIONS_SWEEP" envDefault:"5m"`
}

// Acknowledgement modes (RUDDERHOOK_ACK, a source's ack:).
const (
	AckInbox    = "inbox"    // answer once the body is committed to the PostgreSQL inbox
	AckTemporal = "temporal" // answer once Temporal has accepted the workflow starts
)

// Roles of the people who sign in to the rules page.
const (
	RoleViewer = "viewer" // sees the rules, their history and what a draft would do
	RoleEditor = "editor" // and switches rules on and restores earlier versions
)

// User is a person who may sign in to the rules page. Only the SHA-256 of their token is configured
// (`rudderhook users add` makes a token and prints its hash).
type User struct {
	Name        string `yaml:"name"`
	Role        string `yaml:"role"`
	TokenSHA256 string `yaml:"token_sha256"`
}

// Airudder is how to reach Airudder's open API, for re-calls and cancels.
type Airudder struct {
	BaseURL string `env:"AIRUDDER_BASE_URL" envDefault:"https://api.airudder.com"`
	// BaseURLSet says AIRUDDER_BASE_URL was given: without it, `dev` runs a fake Airudder of its own.
	BaseURLSet bool   `env:"-"`
	AppKey     string `env:"AIRUDDER_APP_KEY"`
	AppSecret  string `env:"AIRUDDER_APP_SECRET"`
	// TimeZone is the Airudder account's zone, in which times sent to Airudder (createinstance's
	// end_time) are written (empty: the rules' time_zone), and redial times that Airudder sends without
	// a zone are read, for sources that name no redial_time_zone of their own.
	TimeZone string `env:"AIRUDDER_TIME_ZONE"`
	// CancelContactPath is the workflow family's path that cancels one number's remaining calls in a
	// task; Airudder documents the API by title only, so the default is a guess (see package airudder).
	CancelContactPath string `env:"AIRUDDER_CANCEL_CONTACT_PATH"`
	// PDSBase is where the predictive dialer's API lives: a path under BaseURL or a URL of its own.
	PDSBase string `env:"AIRUDDER_PDS_BASE"`
	// PDSAppKey and PDSAppSecret are the predictive dialer's credentials when they differ from the
	// workflow family's.
	PDSAppKey    string `env:"AIRUDDER_PDS_APP_KEY"`
	PDSAppSecret string `env:"AIRUDDER_PDS_APP_SECRET"`

	// Location is TimeZone, resolved by Load (nil when TimeZone is empty).
	Location *time.Location `env:"-"`
}

// ClientOptions are the Airudder client's settings that this configuration gives.
func (a *Airudder) ClientOptions() []airudder.ClientOption {
	opts := []airudder.ClientOption{airudder.WithPDSBase(a.PDSBase), airudder.WithCancelContactPath(a.CancelContactPath)}
	if a.Location != nil {
		opts = append(opts, airudder.WithLocation(a.Location))
	}
	if a.PDSAppKey != "" || a.PDSAppSecret != "" {
		opts = append(opts, airudder.WithPDSCredentials(a.PDSAppKey, a.PDSAppSecret))
	}
	return opts
}

// Target is an endpoint that rules send to by name, so that URLs and secrets stay out of the rules.
type Target struct {
	Name string `yaml:"-"`
	URL  string `yaml:"url"`
	// Secret signs webhooks (Standard Webhooks): "whsec_" and base64, or any other string used as is.
	Secret string `yaml:"secret"`
	// AllowPrivate lets the target be on a private network or this machine (RFC 1918, ULA, shared
	// address space, loopback): the operator says the URL is meant to be inside. Without it a target, like
	// a rule's url:, may reach only public addresses. Link-local and metadata addresses stay refused.
	AllowPrivate bool `yaml:"allow_private"`
}

// ArchiveSources are the sources that archive every recording (archive_recordings).
func (cfg *Config) ArchiveSources() map[string]bool {
	out := map[string]bool{}
	for name, s := range cfg.Sources {
		if s.ArchiveRecordings {
			out[name] = true
		}
	}
	return out
}

// RuleURLs is what a url: written in a rule may reach: public addresses, and loopback when
// OutboundAllowLoopback says so.
func (cfg *Config) RuleURLs() egress.Policy {
	return egress.Policy{AllowLoopback: cfg.OutboundAllowLoopback}
}

// Policy is what the target may reach: what a rule's url: may (ruleURLs, Config.RuleURLs), and
// private networks too when the target says allow_private.
func (t *Target) Policy(ruleURLs egress.Policy) egress.Policy {
	ruleURLs.AllowPrivate = t.AllowPrivate
	return ruleURLs
}

// Temporal is how to reach the Temporal cluster: a self-hosted frontend or Temporal Cloud.
type Temporal struct {
	Address   string `env:"TEMPORAL_ADDRESS" envDefault:"127.0.0.1:7233"`
	Namespace string `env:"TEMPORAL_NAMESPACE" envDefault:"default"`
	// TaskQueue is the task queue serve starts workflows on and worker polls; empty means rudderhook's
	// (workflows.TaskQueue). serve, worker and dev of one deployment need the same; another keeps a
	// second deployment in the same namespace (the bench's) from taking its tasks.
	TaskQueue string `env:"TEMPORAL_TASK_QUEUE"`
	// APIKey authenticates to Temporal Cloud (and turns TLS on).
	APIKey string `env:"TEMPORAL_API_KEY"`
	// TLS turns on TLS with the system roots; the file settings below imply it.
	TLS           bool   `env:"TEMPORAL_TLS"`
	TLSCertFile   string `env:"TEMPORAL_TLS_CERT"`
	TLSKeyFile    string `env:"TEMPORAL_TLS_KEY"`
	TLSCAFile     string `env:"TEMPORAL_TLS_CA"`
	TLSServerName string `env:"TEMPORAL_TLS_SERVER_NAME"`
	// UIURL is the base of the Temporal Web UI, for links from call records.
	UIURL string `env:"TEMPORAL_UI_URL" envDefault:"http://127.0.0.1:8233"`
	// PayloadKeys, when set, encrypt every payload rudderhook puts in Temporal: "id:base64key,…", the
	// first encrypting, all decrypting (see package codec).
	PayloadKeys string `env:"RUDDERHOOK_PAYLOAD_KEYS"`
}

// Source is one named receiver configuration: who may post to /webhooks/{name}/… and how to read it.
type Source struct {
	Name string `yaml:"-"`
	// Keys are the Sign keys; any of them verifies (several allow rotation).
	Keys []string `yaml:"keys"`
	// RedialTimeZone is the IANA zone of RedailCall times, which Airudder sends without one; empty means
	// AIRUDDER_TIME_ZONE (the account's zone), and UTC when that is empty too (warned at start).
	RedialTimeZone string `yaml:"redial_time_zone"`
	// Token, when set, must be in the callback URL (/webhooks/{source}/{token}/call-completed, or ?token=):
	// a second secret besides the Sign.
	Token string `yaml:"token"`
	// AllowIPs, when set, are the only client networks (CIDRs or addresses) that may post.
	AllowIPs []string `yaml:"allow_ips"`
	// RatePerSecond and Burst limit requests to this source; zero means no limit.
	RatePerSecond float64 `yaml:"rate_per_second"`
	Burst         int     `yaml:"burst"`
	// MaxBodyBytes overrides the global body limit for this source.
	MaxBodyBytes int64 `yaml:"max_body_bytes"`
	// MaxCallsPerBody caps the calls (elements of Details) one body may hold: each starts a workflow.
	// Default 100.
	MaxCallsPerBody int `yaml:"max_calls_per_body"`
	// DateLayouts are the tenant's date formats (Go layouts, e.g. "02/01/2006"), tried after YYYY-MM-DD.
	DateLayouts []string `yaml:"date_layouts"`
	// DecimalSeparator ("." or ",") and ThousandsSeparator (".", ",", " ", "'" or "none") are how the
	// tenant writes amounts; the defaults are "." and "," (or "." when the decimal separator is ",").
	DecimalSeparator   string `yaml:"decimal_separator"`
	ThousandsSeparator string `yaml:"thousands_separator"`
	// Ack overrides RUDDERHOOK_ACK for this source: inbox or temporal.
	Ack string `yaml:"ack"`
	// Reconcile, when its interval is set, backfills from Airudder's API the calls whose callbacks never
	// came to this source (see reconcile.go). Off by default.
	Reconcile Reconcile `yaml:"reconcile"`
	// Kinds are the generic callback kinds this source takes besides the built-in ones (WABA message
	// status, chatbot session end, custom API node push, …): each is received at
	// /webhooks/{source}[/{token}]/{name}, kept whole as JSON, and keyed by the values at its key_fields
	// (or a hash of the body). A kind not listed answers 404.
	Kinds []SourceKind `yaml:"kinds"`
	// ArchiveRecordings archives the recording of every call of this source that has one (a PDS call's
	// recLink), as if a rule said archive_recording: planned under rule source:archive-recordings.
	ArchiveRecordings bool `yaml:"archive_recordings"`

	// Resolved by Load.
	RedialLocation *time.Location `yaml:"-"`
	AllowedNets    []netip.Prefix `yaml:"-"`
	// GenericKinds are Kinds, checked, by route name.
	GenericKinds map[string]airudder.Kind `yaml:"-"`
	// Numbers are Config.Numbers, for reading this source's callbacks (set by UseNumberKeys).
	Numbers airudder.NumberKeys `yaml:"-"`
}

// SourceKind is a generic kind a source takes: its route name and, optionally, the JSON fields (dot
// paths such as "message.id") whose values make an event's idempotency key. In YAML it is either a
// name alone ("waba-status") or {name: waba-status, key_fields: [message.id]}.
type SourceKind struct {
	Name      string   `yaml:"name"`
	KeyFields []string `yaml:"key_fields"`
}

// UnmarshalYAML takes a kind as a plain name or as a mapping.
func (k *SourceKind) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		return n.Decode(&k.Name)
	}
	type plain SourceKind
	return n.Decode((*plain)(k))
}

// RedialZoneGuessed names the sources whose redial times (RedailCall[].CallStartTime, which Airudder
// sends without a zone) are read as UTC only because nothing says otherwise: neither their
// redial_time_zone nor AIRUDDER_TIME_ZONE is set. serve, worker and dev warn of them at start: an
// account in Jakarta would have every redial counted seven hours off (a daily cap's day, a rule's time).
func (cfg *Config) RedialZoneGuessed() []string {
	if cfg.Airudder.Location != nil {
		return nil
	}
	var out []string
	for _, name := range cfg.SourceNames() {
		if cfg.Sources[name].RedialTimeZone == "" {
			out = append(out, name)
		}
	}
	return out
}

// TakesUnsigned reports whether the source may take callbacks that carry no Sign (list completion,
// status change, PDS, generic kinds): only when something else says who sent them, a URL token or an IP
// allowlist.
func (s *Source) TakesUnsigned() bool { return s.Token != "" || len(s.AllowIPs) > 0 }

// AllowLoopback makes the source take callbacks from this machine only (127.0.0.1 and ::1): what `dev`
// does, on a loopback address, for a source that says neither a URL token nor an allowlist, so that every
// kind can be tried on a laptop.
func (s *Source) AllowLoopback() {
	s.AllowIPs = []string{"127.0.0.1", "::1"}
	s.AllowedNets = []netip.Prefix{netip.MustParsePrefix("127.0.0.1/32"), netip.MustParsePrefix("::1/128")}
}

// UnsignedHint says how to let a source take unsigned callbacks, for errors and the dev banner.
func (s *Source) UnsignedHint() string {
	return fmt.Sprintf("give source %q a URL token (token: in the file, or RUDDERHOOK_SOURCE_%s_TOKEN) or an IP allowlist (allow_ips:, or RUDDERHOOK_SOURCE_%s_ALLOW_IPS)",
		s.Name, envName(s.Name), envName(s.Name))
}

// Routes are the route names of the kinds this source takes: every built-in kind, then its generic kinds
// in order.
func (s *Source) Routes() []string {
	return append(airudder.KindRoutes(), slices.Sorted(maps.Keys(s.GenericKinds))...)
}

// UnsignedRoutes are the route names of the kinds this source takes that carry no Sign.
func (s *Source) UnsignedRoutes() []string {
	var out []string
	for _, route := range s.Routes() {
		if k, _ := s.Kind(route); !k.Signed {
			out = append(out, route)
		}
	}
	return out
}

// Kind is the callback kind this source takes at that route: a built-in kind, or one of its generic
// kinds.
func (s *Source) Kind(route string) (airudder.Kind, bool) {
	if k, ok := airudder.KindByRoute(route); ok {
		return k, true
	}
	k, ok := s.GenericKinds[route]
	return k, ok
}

// file is the shape of the optional YAML file.
type file struct {
	Sources map[string]*Source `yaml:"sources"`
	Targets map[string]*Target `yaml:"targets"`
	Users   []User             `yaml:"users"`
}

var (
	sourceNameRE = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]{0,62}$`)
	sourceEnvRE  = regexp.MustCompile(`^RUDDERHOOK_SOURCE_([A-Z0-9_]+)_(KEYS|REDIAL_TZ|TOKEN|ALLOW_IPS|KINDS|ARCHIVE_RECORDINGS|RECONCILE_INTERVAL)$`)
	targetEnvRE  = regexp.MustCompile(`^RUDDERHOOK_TARGET_([A-Z0-9_]+)_(URL|SECRET|ALLOW_PRIVATE)$`)
)

// Load reads the configuration from environ (as os.Environ gives it) and the YAML file it names, if
// any. path, when not empty, overrides RUDDERHOOK_CONFIG.
func Load(environ []string, path string) (*Config, error) {
	vars := env.ToMap(environ)
	var cfg Config
	if err := env.ParseWithOptions(&cfg, env.Options{Environment: vars}); err != nil {
		return nil, fmt.Errorf("environment: %w", err)
	}
	cfg.DatabaseURLSet = vars["DATABASE_URL"] != ""
	cfg.Airudder.BaseURLSet = vars["AIRUDDER_BASE_URL"] != ""
	if path != "" {
		cfg.ConfigFile = path
	}
	cfg.Sources = map[string]*Source{}
	cfg.Targets = map[string]*Target{}
	if cfg.ConfigFile != "" {
		b, err := os.ReadFile(cfg.ConfigFile)
		if err != nil {
			return nil, fmt.Errorf("config file: %w", err)
		}
		var f file
		dec := yaml.NewDecoder(bytes.NewReader(b))
		dec.KnownFields(true)
		if err := dec.Decode(&f); err != nil && !errors.Is(err, io.EOF) { // an empty file is an empty configuration
			return nil, fmt.Errorf("config file %s: %w", cfg.ConfigFile, err)
		}
		for name, s := range f.Sources {
			if s == nil {
				s = &Source{}
			}
			cfg.Sources[name] = s
		}
		for name, t := range f.Targets {
			if t == nil {
				t = &Target{}
			}
			cfg.Targets[name] = t
		}
		cfg.Users = f.Users
	}
	users, err := parseUsers(cfg.UsersEnv)
	if err != nil {
		return nil, err
	}
	cfg.Users = append(cfg.Users, users...)
	if err := applySourceEnv(&cfg, vars); err != nil {
		return nil, err
	}
	if err := applyTargetEnv(&cfg, vars); err != nil {
		return nil, err
	}
	if len(cfg.Sources) == 0 {
		cfg.Sources[airudder.DefaultKey] = &Source{Keys: []string{airudder.DefaultKey}}
	}
	if err := cfg.resolve(); err != nil {
		return nil, err
	}
	return &cfg, nil
}

// applySourceEnv lets RUDDERHOOK_SOURCE_<NAME>_KEYS and friends create or override a source.
func applySourceEnv(cfg *Config, vars map[string]string) error {
	var problems []string
	eachNamed(vars, sourceEnvRE, cfg.Sources, func(s *Source, setting, v string) {
		switch setting {
		case "KEYS":
			s.Keys = splitList(v)
		case "REDIAL_TZ":
			s.RedialTimeZone = v
		case "TOKEN":
			s.Token = v
		case "ALLOW_IPS":
			s.AllowIPs = splitList(v)
		case "KINDS":
			s.Kinds = parseKinds(v)
		case "ARCHIVE_RECORDINGS":
			b, err := strconv.ParseBool(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("RUDDERHOOK_SOURCE_*_ARCHIVE_RECORDINGS=%q: write true or false", v))
			}
			s.ArchiveRecordings = b
		case "RECONCILE_INTERVAL":
			s.Reconcile.IntervalEnv = v
		}
	})
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// applyTargetEnv lets RUDDERHOOK_TARGET_<NAME>_URL, _SECRET and _ALLOW_PRIVATE create or override a
// target.
func applyTargetEnv(cfg *Config, vars map[string]string) error {
	var problems []string
	eachNamed(vars, targetEnvRE, cfg.Targets, func(t *Target, setting, v string) {
		switch setting {
		case "URL":
			t.URL = v
		case "SECRET":
			t.Secret = v
		case "ALLOW_PRIVATE":
			b, err := strconv.ParseBool(v)
			if err != nil {
				problems = append(problems, fmt.Sprintf("RUDDERHOOK_TARGET_*_ALLOW_PRIVATE=%q: write true or false", v))
			}
			t.AllowPrivate = b
		}
	})
	if len(problems) > 0 {
		return errors.New(strings.Join(problems, "; "))
	}
	return nil
}

// eachNamed calls set for every variable that re matches (groups: NAME, SETTING), with the entry of m
// that NAME names, created if missing. NAME is the entry's name upper-cased, with "-" written as "_".
// Variables are taken in sorted order, so the outcome does not depend on map iteration.
func eachNamed[T any](vars map[string]string, re *regexp.Regexp, m map[string]*T, set func(e *T, setting, v string)) {
	keys := make([]string, 0, len(vars))
	for k := range vars {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		sm := re.FindStringSubmatch(k)
		if sm == nil {
			continue
		}
		name := strings.ToLower(sm[1])
		for existing := range m {
			if strings.ReplaceAll(existing, "-", "_") == name {
				name = existing
			}
		}
		if m[name] == nil {
			m[name] = new(T)
		}
		set(m[name], sm[2], vars[k])
	}
}

func (cfg *Config) resolve() error {
	var problems []string
	cfg.Airudder.Location = nil
	if z := cfg.Airudder.TimeZone; z != "" {
		loc, err := time.LoadLocation(z)
		if err != nil {
			problems = append(problems, fmt.Sprintf("AIRUDDER_TIME_ZONE: %v", err))
		} else {
			cfg.Airudder.Location = loc
		}
	}
	if cfg.RecordingsMaxBytes <= 0 {
		problems = append(problems, fmt.Sprintf("RUDDERHOOK_RECORDINGS_MAX_BYTES=%d: a recording's cap must be positive", cfg.RecordingsMaxBytes))
	}
	for name, t := range cfg.Targets {
		t.Name = name
		if u, err := url.Parse(t.URL); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
			problems = append(problems, fmt.Sprintf("target %q: url %q is not an http(s) URL (set url: in the file or RUDDERHOOK_TARGET_%s_URL)", name, t.URL, envName(name)))
		}
	}
	for name, s := range cfg.Sources {
		s.Name = name
		if !sourceNameRE.MatchString(name) {
			problems = append(problems, fmt.Sprintf("source %q: a name is lower-case letters, digits, - and _", name))
		}
		s.Keys = slices.DeleteFunc(s.Keys, func(k string) bool { return k == "" })
		if len(s.Keys) == 0 {
			problems = append(problems, fmt.Sprintf("source %q: no Sign keys (set keys: in the file or RUDDERHOOK_SOURCE_%s_KEYS)", name, envName(name)))
		}
		// Airudder writes redial times in the account's zone, without saying which.
		s.RedialLocation = cmp.Or(cfg.Airudder.Location, time.UTC)
		if s.RedialTimeZone != "" {
			loc, err := time.LoadLocation(s.RedialTimeZone)
			if err != nil {
				problems = append(problems, fmt.Sprintf("source %q: redial_time_zone: %v", name, err))
			} else {
				s.RedialLocation = loc
			}
		}
		s.AllowedNets = nil
		for _, a := range s.AllowIPs {
			p, err := parsePrefix(a)
			if err != nil {
				problems = append(problems, fmt.Sprintf("source %q: allow_ips: %v", name, err))
				continue
			}
			s.AllowedNets = append(s.AllowedNets, p)
		}
		if s.MaxBodyBytes <= 0 {
			s.MaxBodyBytes = cfg.MaxBodyBytes
		}
		if s.RatePerSecond < 0 || s.Burst < 0 {
			problems = append(problems, fmt.Sprintf("source %q: rate_per_second and burst cannot be negative", name))
		}
		if s.RatePerSecond > 0 && s.Burst == 0 {
			s.Burst = max(1, int(s.RatePerSecond))
		}
		switch {
		case s.MaxCallsPerBody == 0:
			s.MaxCallsPerBody = DefaultMaxCallsPerBody
		case s.MaxCallsPerBody < 0:
			problems = append(problems, fmt.Sprintf("source %q: max_calls_per_body must be positive", name))
		}
		problems = append(problems, s.checkFormats()...)
		problems = append(problems, s.resolveKinds()...)
		problems = append(problems, s.Reconcile.resolve(name)...)
		if s.Ack == "" {
			s.Ack = cfg.Ack
		} else if !validAck(s.Ack) {
			problems = append(problems, fmt.Sprintf("source %q: ack must be %s or %s, not %q", name, AckInbox, AckTemporal, s.Ack))
		}
	}
	if !validAck(cfg.Ack) {
		problems = append(problems, fmt.Sprintf("RUDDERHOOK_ACK must be %s or %s, not %q", AckInbox, AckTemporal, cfg.Ack))
	}
	if cfg.RelayConcurrency < 1 {
		problems = append(problems, "RUDDERHOOK_RELAY_CONCURRENCY must be at least 1")
	}
	if cfg.InboxMaxAttempts < 1 || cfg.InboxMaxAge <= 0 {
		problems = append(problems, "RUDDERHOOK_INBOX_MAX_ATTEMPTS and RUDDERHOOK_INBOX_MAX_AGE must be positive")
	}
	if cfg.MaxBodyBytes <= 0 {
		problems = append(problems, "RUDDERHOOK_MAX_BODY_BYTES must be positive")
	}
	problems = append(problems, checkUsers(cfg.Users)...)
	if cfg.SessionKey != "" && len(cfg.SessionKey) < 32 {
		problems = append(problems, "RUDDERHOOK_SESSION_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)")
	}
	if cfg.PIIKey != "" && len(cfg.PIIKey) < 32 {
		problems = append(problems, "RUDDERHOOK_PII_KEY must be at least 32 characters (e.g. `openssl rand -hex 32`)")
	}
	if cfg.ExpectationsSweep < 0 {
		problems = append(problems, "RUDDERHOOK_EXPECTATIONS_SWEEP cannot be negative")
	}
	if cfg.SessionTTL <= 0 {
		problems = append(problems, "RUDDERHOOK_SESSION_TTL must be positive")
	}
	for _, p := range cfg.TrustedProxies {
		if _, err := parsePrefix(p); err != nil {
			problems = append(problems, fmt.Sprintf("RUDDERHOOK_TRUSTED_PROXIES: %v", err))
		}
	}
	if len(problems) > 0 {
		sort.Strings(problems)
		return errors.New("configuration: " + strings.Join(problems, "; "))
	}
	return nil
}

func validAck(mode string) bool { return mode == AckInbox || mode == AckTemporal }

// Placeholder is what deploy/ writes where a secret goes; a process must not run with it (see
// Placeholders, IsPlaceholder and ProductionProblems).
const Placeholder = "CHANGE-ME"

// minAdminTokenLength keeps the admin token out of reach of guessing (32 hex characters are 128 bits).
const minAdminTokenLength = 32

// CheckAdminToken says why a token may not guard the admin API: unset, shorter than 32 characters, or
// deploy/'s placeholder.
func CheckAdminToken(token string) error {
	switch {
	case token == "":
		return errors.New("RUDDERHOOK_ADMIN_TOKEN is not set: the admin API needs a token (e.g. `openssl rand -hex 32`)")
	case IsPlaceholder(token):
		return errors.New("RUDDERHOOK_ADMIN_TOKEN is still the placeholder " + Placeholder + " of deploy/: set a random one (e.g. `openssl rand -hex 32`)")
	case len(token) < minAdminTokenLength:
		return fmt.Errorf("RUDDERHOOK_ADMIN_TOKEN has %d characters; use at least %d (e.g. `openssl rand -hex 32`)", len(token), minAdminTokenLength)
	}
	return nil
}

// DefaultKeySources lists the sources that accept Airudder's default Sign key ("airudder"), which anyone
// who read Airudder's documentation knows.
func (cfg *Config) DefaultKeySources() []string {
	var out []string
	for _, name := range cfg.SourceNames() {
		if slices.Contains(cfg.Sources[name].Keys, airudder.DefaultKey) {
			out = append(out, name)
		}
	}
	return out
}

// DefaultMaxCallsPerBody is the cap on calls per body of a source that sets none.
const DefaultMaxCallsPerBody = 100

// checkFormats checks the source's date layouts and amount separators, so that a typo is found at start
// rather than as a parse note on every call.
func (s *Source) checkFormats() []string {
	var problems []string
	ref := time.Date(2031, time.November, 25, 0, 0, 0, 0, time.UTC) // every element differs: 2031, 11, 25
	for _, layout := range s.DateLayouts {
		if t, err := time.Parse(layout, ref.Format(layout)); err != nil || !t.Equal(ref) {
			problems = append(problems, fmt.Sprintf("source %q: date_layouts: %q is not a Go date layout with year, month and day (e.g. \"02/01/2006\")", s.Name, layout))
		}
	}
	if s.DecimalSeparator != "" && s.DecimalSeparator != "." && s.DecimalSeparator != "," {
		problems = append(problems, fmt.Sprintf("source %q: decimal_separator must be \".\" or \",\", not %q", s.Name, s.DecimalSeparator))
	}
	if t := s.ThousandsSeparator; t != "" && !slices.Contains([]string{".", ",", " ", "'", "none"}, t) {
		problems = append(problems, fmt.Sprintf("source %q: thousands_separator must be \".\", \",\", \" \", \"'\" or \"none\", not %q", s.Name, t))
	}
	if d, t := airudder.AmountSeparators(s.DecimalSeparator, s.ThousandsSeparator); d == t {
		problems = append(problems, fmt.Sprintf("source %q: decimal_separator and thousands_separator are both %q", s.Name, d))
	}
	return problems
}

// resolveKinds checks the source's generic kinds and keeps them by route.
func (s *Source) resolveKinds() []string {
	var problems []string
	s.GenericKinds = map[string]airudder.Kind{}
	for _, sk := range s.Kinds {
		k, err := airudder.GenericKind(sk.Name, sk.KeyFields)
		switch {
		case err != nil:
			problems = append(problems, fmt.Sprintf("source %q: kinds: %v", s.Name, err))
		case s.GenericKinds[k.Route].Route != "":
			problems = append(problems, fmt.Sprintf("source %q: kinds: %q is listed twice", s.Name, k.Route))
		default:
			s.GenericKinds[k.Route] = k
		}
	}
	return problems
}

// parseUsers reads RUDDERHOOK_USERS: "name:role:sha256" entries separated by commas.
func parseUsers(v string) ([]User, error) {
	var out []User
	for _, entry := range splitList(v) {
		parts := strings.Split(entry, ":")
		if len(parts) != 3 {
			return nil, fmt.Errorf("RUDDERHOOK_USERS: %q is not name:role:token_sha256", redactUser(entry))
		}
		out = append(out, User{Name: strings.TrimSpace(parts[0]), Role: strings.TrimSpace(parts[1]), TokenSHA256: strings.TrimSpace(parts[2])})
	}
	return out, nil
}

// redactUser keeps what a message may repeat of a malformed entry: not what may be a token.
func redactUser(entry string) string {
	name, _, ok := strings.Cut(entry, ":")
	if !ok {
		return "…"
	}
	return name + ":…"
}

var sha256Hex = regexp.MustCompile(`^[0-9a-f]{64}$`)

func checkUsers(users []User) []string {
	var problems []string
	seen := map[string]bool{}
	hashes := map[string]bool{}
	for i := range users {
		u := &users[i]
		u.TokenSHA256 = strings.ToLower(u.TokenSHA256)
		switch {
		case u.Name == "":
			problems = append(problems, fmt.Sprintf("users[%d]: a name is required", i))
		case seen[u.Name]:
			problems = append(problems, fmt.Sprintf("user %q is listed twice", u.Name))
		}
		seen[u.Name] = true
		if u.Role != RoleViewer && u.Role != RoleEditor {
			problems = append(problems, fmt.Sprintf("user %q: role %q is not %s or %s", u.Name, u.Role, RoleViewer, RoleEditor))
		}
		if !sha256Hex.MatchString(u.TokenSHA256) {
			problems = append(problems, fmt.Sprintf("user %q: token_sha256 must be the 64 hex digits of the token's SHA-256 (`rudderhook users add` prints it)", u.Name))
		} else if hashes[u.TokenSHA256] {
			problems = append(problems, fmt.Sprintf("user %q: another user has the same token", u.Name))
		}
		hashes[u.TokenSHA256] = true
	}
	return problems
}

// ParseOptions are the settings that reading this source's callbacks needs.
func (s *Source) ParseOptions() airudder.ParseOptions {
	return airudder.ParseOptions{
		RedialLocation: s.RedialLocation, DateLayouts: s.DateLayouts, MaxCalls: s.MaxCallsPerBody,
		DecimalSeparator: s.DecimalSeparator, ThousandsSeparator: s.ThousandsSeparator, Numbers: s.Numbers,
	}
}

// UseNumberKeys sets the keys that hide phone numbers (airudder.NumberKeys) for the configuration and
// every source: idKey, the installation's key that workflow IDs are hashed with (store.InstallationKey,
// read by the command that starts workflows), and the PII key, if set, for the CalleeNumber search
// attribute.
func (cfg *Config) UseNumberKeys(idKey []byte) {
	cfg.Numbers = cfg.SearchNumbers()
	cfg.Numbers.ID = idKey
	for _, s := range cfg.Sources {
		s.Numbers = cfg.Numbers
	}
}

// SearchNumbers are the keys of the CalleeNumber search attribute alone (the PII key, if set): what a
// process needs that starts workflows of subjects already stored, whose keys and IDs are made (the
// worker's bulk retries).
func (cfg *Config) SearchNumbers() airudder.NumberKeys {
	var k airudder.NumberKeys
	if cfg.PIIKey != "" {
		k.Search = []byte(cfg.PIIKey)
	}
	return k
}

// TargetNames are the configured targets, as rules compilation checks them.
func (cfg *Config) TargetNames() map[string]bool {
	out := map[string]bool{}
	for n := range cfg.Targets {
		out[n] = true
	}
	return out
}

// SourceNames lists the configured sources in order.
func (cfg *Config) SourceNames() []string { return slices.Sorted(maps.Keys(cfg.Sources)) }

func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		return p.Masked(), err
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parseKinds reads RUDDERHOOK_SOURCE_<NAME>_KINDS: kinds separated by commas, each a name, optionally
// with key fields after "=" separated by "+" ("waba-status=message.id,chatbot-end").
func parseKinds(v string) []SourceKind {
	var out []SourceKind
	for _, entry := range splitList(v) {
		name, fields, _ := strings.Cut(entry, "=")
		k := SourceKind{Name: strings.TrimSpace(name)}
		for _, f := range strings.Split(fields, "+") {
			if f = strings.TrimSpace(f); f != "" {
				k.KeyFields = append(k.KeyFields, f)
			}
		}
		out = append(out, k)
	}
	return out
}

func envName(source string) string { return strings.ToUpper(strings.ReplaceAll(source, "-", "_")) }

func splitList(v string) []string {
	var out []string
	for _, p := range strings.Split(v, ",") {
		if p = strings.TrimSpace(p); p != "" {
			out = append(out, p)
		}
	}
	return out
}

// IsEnvVar reports whether Load reads the environment variable name, so that deployment files can be
// checked for misspelt settings.
func IsEnvVar(name string) bool {
	return sourceEnvRE.MatchString(name) || targetEnvRE.MatchString(name) || slices.Contains(EnvVarNames(), name)
}

// EnvVarNames lists the fixed environment variables Load reads (besides RUDDERHOOK_SOURCE_<NAME>_* and
// RUDDERHOOK_TARGET_<NAME>_*).
func EnvVarNames() []string {
	var names []string
	var walk func(t reflect.Type)
	walk = func(t reflect.Type) {
		for i := range t.NumField() {
			f := t.Field(i)
			tag, _, _ := strings.Cut(f.Tag.Get("env"), ",")
			switch {
			case tag != "" && tag != "-":
				names = append(names, tag)
			case tag == "" && f.Type.Kind() == reflect.Struct:
				walk(f.Type)
			}
		}
	}
	walk(reflect.TypeFor[Config]())
	return names
}
