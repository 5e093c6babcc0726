package config

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"github.com/rudderhook/rudderhook/airudder"
)

// Placeholders are the values deploy/ writes where a secret goes (deploy/k8s/secret.yaml): serve and
// worker refuse a secret setting that contains one (in any case), so that a template applied unedited
// never runs. deploy's tests hold every placeholder of those files to this list, and every secret of the
// template to being refused.
func Placeholders() []string { return []string{Placeholder} }

// IsPlaceholder reports whether a secret's value still holds one of deploy/'s placeholders.
func IsPlaceholder(v string) bool {
	v = strings.ToUpper(v)
	for _, p := range Placeholders() {
		if strings.Contains(v, strings.ToUpper(p)) {
			return true
		}
	}
	return false
}

// Process is a production command, for what it needs of the configuration.
type Process string

// The production commands. dev is not one: it keeps its conveniences (the default key, generated tokens)
// and says so in its banner.
const (
	Serve  Process = "serve"
	Worker Process = "worker"
)

// ProductionError is why a production command will not start: every problem, not only the first.
type ProductionError struct {
	Process  Process
	Problems []string
}

func (e *ProductionError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s will not start until each of these is fixed (`rudderhook dev` is the command for a laptop):", e.Process)
	for _, p := range e.Problems {
		b.WriteString("\n  - " + p)
	}
	return b.String()
}

// CheckProduction returns a *ProductionError when the configuration has any of ProductionProblems.
func (cfg *Config) CheckProduction(p Process) error {
	if problems := cfg.ProductionProblems(p); len(problems) > 0 {
		return &ProductionError{Process: p, Problems: problems}
	}
	return nil
}

// ProductionProblems says every reason the configuration must not run as p: a source that accepts
// Airudder's default Sign key, any secret setting that is still a placeholder of deploy/, and for serve
// an admin token that is missing or short. Each problem names the setting and how to fix it, never its
// value. Both commands check every secret, used or not: serve and worker of one deployment share their
// configuration, so a placeholder anywhere means the template was applied unedited.
func (cfg *Config) ProductionProblems(p Process) []string {
	var problems []string
	for _, name := range cfg.DefaultKeySources() {
		problems = append(problems, fmt.Sprintf("source %q accepts Airudder's default Sign key %q, which anyone can read in Airudder's documentation "+
			"(it is the built-in source's key when no source is configured): set the key configured in Airudder for this integration "+
			"(keys: in the config file, or RUDDERHOOK_SOURCE_%s_KEYS)", name, airudder.DefaultKey, envName(name)))
	}
	for _, s := range cfg.secrets() {
		if IsPlaceholder(s.value) {
			problems = append(problems, fmt.Sprintf("%s is still a placeholder of deploy/ (%s): %s", s.setting, Placeholder, s.fix))
		}
	}
	if p == Serve && !IsPlaceholder(cfg.AdminToken) {
		if err := CheckAdminToken(cfg.AdminToken); err != nil {
			problems = append(problems, err.Error())
		}
	}
	return problems
}

// secret is one setting that holds a secret, named as an operator sets it, with how to set it right.
type secret struct{ setting, value, fix string }

const randomFix = "set a random one (`openssl rand -hex 32`)"

// secrets lists every setting that holds a secret (or, as DATABASE_URL and a target's URL may, carries one).
func (cfg *Config) secrets() []secret {
	out := []secret{
		{"RUDDERHOOK_ADMIN_TOKEN", cfg.AdminToken, randomFix},
		{"RUDDERHOOK_SESSION_KEY", cfg.SessionKey, randomFix + ", the same on every replica"},
		{"DATABASE_URL", cfg.DatabaseURL, "set the URL, with the password, of rudderhook's database"},
		{"TEMPORAL_API_KEY", cfg.Temporal.APIKey, "set the API key of the Temporal Cloud namespace, or unset it for a self-hosted cluster"},
		{"RUDDERHOOK_PAYLOAD_KEYS", cfg.Temporal.PayloadKeys, "set id:key pairs with keys from `openssl rand -base64 32`"},
		{"AIRUDDER_APP_KEY", cfg.Airudder.AppKey, "set the app key Airudder gave you"},
		{"AIRUDDER_APP_SECRET", cfg.Airudder.AppSecret, "set the app secret Airudder gave you"},
		{"AIRUDDER_PDS_APP_KEY", cfg.Airudder.PDSAppKey, "set the predictive dialer's app key, or unset it"},
		{"AIRUDDER_PDS_APP_SECRET", cfg.Airudder.PDSAppSecret, "set the predictive dialer's app secret, or unset it"},
	}
	for _, name := range cfg.SourceNames() {
		src, env := cfg.Sources[name], envName(name)
		for _, k := range src.Keys {
			out = append(out, secret{fmt.Sprintf("source %q: a Sign key", name), k,
				fmt.Sprintf("set the key configured in Airudder (keys: in the config file, or RUDDERHOOK_SOURCE_%s_KEYS)", env)})
		}
		out = append(out, secret{fmt.Sprintf("source %q: the URL token", name), src.Token,
			fmt.Sprintf("set a random one (`openssl rand -hex 32`) and put it in the callback URL given to Airudder (token: in the config file, or RUDDERHOOK_SOURCE_%s_TOKEN)", env)})
	}
	for _, name := range slices.Sorted(maps.Keys(cfg.Targets)) {
		t, env := cfg.Targets[name], envName(name)
		out = append(out,
			secret{fmt.Sprintf("target %q: the secret", name), t.Secret,
				fmt.Sprintf("set the secret the target verifies webhooks with (secret: in the config file, or RUDDERHOOK_TARGET_%s_SECRET)", env)},
			secret{fmt.Sprintf("target %q: the URL", name), t.URL,
				fmt.Sprintf("set the target's URL (url: in the config file, or RUDDERHOOK_TARGET_%s_URL)", env)})
	}
	return out
}
