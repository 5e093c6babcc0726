package deploy

import (
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
)

// edited is what an operator puts where a placeholder was: a value nothing refuses.
const edited = "5eb1c0ffee5eb1c0ffee5eb1c0ffee5eb1c0ffee5eb1c0ffee5eb1c0ffee5eb1"

// replacePlaceholders puts edited wherever s holds one of config's placeholders, in any case.
func replacePlaceholders(s string) string {
	for _, p := range config.Placeholders() {
		s = regexp.MustCompile(`(?i)`+regexp.QuoteMeta(p)+`[-A-Z0-9]*`).ReplaceAllString(s, edited)
	}
	return s
}

// podConfig is what one container of the manifests reads, as the pod gives it: the ConfigMaps and
// Secrets of its envFrom, then its own env, and the files of its mounted Secrets, the one that
// RUDDERHOOK_CONFIG names written where Load can read it.
type podConfig struct {
	process string
	environ []string
	file    string // the sources file's content
}

// podConfigs reads every Deployment's container of the kustomization, with edit applied to every
// ConfigMap and Secret value.
func podConfigs(t *testing.T, edit func(string) string) []podConfig {
	t.Helper()
	maps := map[string]map[string]string{} // "ConfigMap/name" or "Secret/name" → key → value
	var containers []map[string]any
	var volumes [][]any
	for _, r := range get(documents(t, "k8s/kustomization.yaml")[0], "resources").([]any) {
		for _, doc := range documents(t, filepath.Join("k8s", r.(string))) {
			kind, _ := doc["kind"].(string)
			name, _ := get(doc, "metadata", "name").(string)
			switch kind {
			case "ConfigMap", "Secret":
				data := get(doc, "data")
				if kind == "Secret" {
					data = get(doc, "stringData")
				}
				m := map[string]string{}
				for k, v := range data.(map[string]any) {
					m[k] = edit(fmt.Sprint(v))
				}
				maps[kind+"/"+name] = m
			case "Deployment":
				spec := get(doc, "spec", "template", "spec")
				for _, c := range get(spec, "containers").([]any) {
					containers = append(containers, c.(map[string]any))
					volumes = append(volumes, asList(get(spec, "volumes")))
				}
			}
		}
	}
	var out []podConfig
	for i, c := range containers {
		pc := podConfig{process: asList(c["args"])[0].(string)}
		vars := map[string]string{}
		for _, from := range asList(c["envFrom"]) {
			for ref, kind := range map[string]string{"configMapRef": "ConfigMap", "secretRef": "Secret"} {
				if name, ok := get(from, ref, "name").(string); ok {
					for k, v := range maps[kind+"/"+name] {
						vars[k] = v
					}
				}
			}
		}
		for _, e := range asList(c["env"]) {
			vars[get(e, "name").(string)] = fmt.Sprint(get(e, "value"))
		}
		for k, v := range vars {
			pc.environ = append(pc.environ, k+"="+v)
		}
		for _, m := range asList(c["volumeMounts"]) {
			for _, v := range volumes[i] {
				if get(v, "name") != get(m, "name") {
					continue
				}
				secret := maps["Secret/"+get(v, "secret", "secretName").(string)]
				for _, item := range asList(get(v, "secret", "items")) {
					if path.Join(get(m, "mountPath").(string), get(item, "path").(string)) == vars["RUDDERHOOK_CONFIG"] {
						pc.file = secret[get(item, "key").(string)]
					}
				}
			}
		}
		if vars["RUDDERHOOK_CONFIG"] != "" && pc.file == "" {
			t.Fatalf("container %s: RUDDERHOOK_CONFIG %s is no file of a mounted Secret", c["name"], vars["RUDDERHOOK_CONFIG"])
		}
		out = append(out, pc)
	}
	return out
}

// load loads a pod's configuration as rudderhook in it would.
func (pc podConfig) load(t *testing.T) *config.Config {
	t.Helper()
	file := ""
	if pc.file != "" {
		file = filepath.Join(t.TempDir(), "rudderhook.yaml")
		if err := os.WriteFile(file, []byte(pc.file), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err := config.Load(pc.environ, file)
	if err != nil {
		t.Fatalf("%s: %v", pc.process, err)
	}
	return cfg
}

// The manifests as shipped do not run: serve and worker refuse every secret of the template Secrets,
// each named; filled in (each placeholder replaced), they start. Every value of an environment Secret
// is a placeholder, so a secret added to the template without one fails here.
func TestKubernetesSecretIsRefusedUntilEdited(t *testing.T) {
	envSecrets := 0
	for _, doc := range documents(t, "k8s/secret.yaml") {
		if data, ok := get(doc, "stringData").(map[string]any); ok && data["rudderhook.yaml"] == nil {
			for k, v := range data {
				envSecrets++
				if !config.IsPlaceholder(fmt.Sprint(v)) {
					t.Errorf("k8s/secret.yaml: %s is %q, none of config.Placeholders(): a template's secret is a placeholder that serve and worker refuse", k, v)
				}
			}
		}
	}
	if envSecrets == 0 {
		t.Error("k8s/secret.yaml has no environment Secret")
	}
	pods := podConfigs(t, func(s string) string { return s })
	processes := map[string]bool{}
	for _, pc := range pods {
		p := config.Process(pc.process)
		if p != config.Serve && p != config.Worker {
			continue
		}
		processes[pc.process] = true
		problems := strings.Join(pc.load(t).ProductionProblems(p), "\n")
		for _, want := range placeholderSettings(t, pc) {
			if !strings.Contains(problems, want+" is still a placeholder of deploy/") {
				t.Errorf("%s starts with %s as the template has it; it refuses only:\n%s", p, want, problems)
			}
		}
	}
	if !processes["serve"] || !processes["worker"] {
		t.Fatalf("the manifests run %v; want serve and worker", processes)
	}
	for _, pc := range podConfigs(t, replacePlaceholders) {
		if p := config.Process(pc.process); p == config.Serve || p == config.Worker {
			if err := pc.load(t).CheckProduction(p); err != nil {
				t.Errorf("the template filled in: %v", err)
			}
		}
	}
}

// placeholderSettings are the settings of a pod that hold a placeholder, as ProductionProblems names
// them; it fails for a value of an environment Secret that is not a placeholder, and for a placeholder
// where it does not know the setting.
func placeholderSettings(t *testing.T, pc podConfig) []string {
	t.Helper()
	var out []string
	for _, kv := range pc.environ {
		k, v, _ := strings.Cut(kv, "=")
		if config.IsPlaceholder(v) {
			out = append(out, k)
		}
	}
	inEnv := len(out)
	var f struct {
		Sources map[string]struct {
			Keys  []string `yaml:"keys"`
			Token string   `yaml:"token"`
		} `yaml:"sources"`
		Targets map[string]struct{ URL, Secret string } `yaml:"targets"`
	}
	if err := yaml.Unmarshal([]byte(pc.file), &f); err != nil {
		t.Fatal(err)
	}
	for name, s := range f.Sources {
		if slices.ContainsFunc(s.Keys, config.IsPlaceholder) {
			out = append(out, fmt.Sprintf("source %q: a Sign key", name))
		}
		if config.IsPlaceholder(s.Token) {
			out = append(out, fmt.Sprintf("source %q: the URL token", name))
		}
	}
	for name, tg := range f.Targets {
		if config.IsPlaceholder(tg.Secret) {
			out = append(out, fmt.Sprintf("target %q: the secret", name))
		}
		if config.IsPlaceholder(tg.URL) {
			out = append(out, fmt.Sprintf("target %q: the URL", name))
		}
	}
	if n := len(regexp.MustCompile(`(?i)`+regexp.QuoteMeta(config.Placeholder)).FindAllString(pc.file, -1)); n > len(out)-inEnv {
		t.Errorf("the sources file has %d placeholders, in settings this test knows of %d: teach it the others", n, len(out)-inEnv)
	}
	if len(out) == 0 {
		t.Errorf("%s: no setting holds a placeholder; the template is expected to have some", pc.process)
	}
	return out
}

// A placeholder anywhere in deploy/ is one that config knows and refuses, and it stands only in the
// template Secret, whose every placeholder is refused (above).
func TestEveryPlaceholderOfTheDeployFilesIsKnown(t *testing.T) {
	loose := regexp.MustCompile(`(?i)\b(change|replace|fill|edit)[-_ ]?me\b[-A-Z0-9]*`)
	err := filepath.WalkDir(".", func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() || strings.HasSuffix(p, "_test.go") {
			return err
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		for _, m := range loose.FindAllString(string(b), -1) {
			if !config.IsPlaceholder(m) {
				t.Errorf("%s: %q looks like a placeholder that config.Placeholders() does not list, so serve would run with it", p, m)
			}
			if p != filepath.Join("k8s", "secret.yaml") {
				t.Errorf("%s: placeholder %q outside k8s/secret.yaml", p, m)
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// Compose publishes only serve beyond this host: Temporal's frontend and UI (no authentication, no TLS)
// and PostgreSQL bind a loopback address or nothing. serve's and worker's secrets must be given (${…:?}),
// and what they are given is checked: Airudder's default key is refused, a key of one's own starts.
func TestComposeKeepsTemporalLocalAndRequiresTheSignKey(t *testing.T) {
	services, _ := get(documents(t, "compose.yaml")[0], "services").(map[string]any)
	for _, name := range []string{"temporal", "temporal-ui"} {
		if services[name] == nil {
			t.Errorf("no service %s: this test looks for Temporal's frontend and UI under those names", name)
		}
	}
	for name, svc := range services {
		if cmd, _ := get(svc, "command").([]any); len(cmd) > 0 && cmd[0] == "serve" {
			continue
		}
		for _, port := range asList(get(svc, "ports")) {
			if host := hostIP(t, port); !isLoopback(host) {
				t.Errorf("service %s publishes %v on %q, beyond this host", name, port, host)
			}
		}
	}

	required := []string{"RUDDERHOOK_ADMIN_TOKEN", "RUDDERHOOK_SOURCE_AIRUDDER_KEYS"}
	for _, process := range []config.Process{config.Serve, config.Worker} {
		env := composeEnv(t, services, string(process))
		for _, name := range required {
			if !regexp.MustCompile(`^\$\{` + name + `:\?[^}]+\}$`).MatchString(env[name]) {
				t.Errorf("%s: %s is %q, not required with ${%s:?…}", process, name, env[name], name)
			}
		}
		shell := map[string]string{"RUDDERHOOK_ADMIN_TOKEN": edited, "RUDDERHOOK_SOURCE_AIRUDDER_KEYS": edited}
		if err := loadCompose(t, env, shell).CheckProduction(process); err != nil {
			t.Errorf("compose with a key of one's own: %v", err)
		}
		shell["RUDDERHOOK_SOURCE_AIRUDDER_KEYS"] = airudder.DefaultKey
		if err := loadCompose(t, env, shell).CheckProduction(process); err == nil || !strings.Contains(err.Error(), "default Sign key") {
			t.Errorf("compose with Airudder's default key: %v, want it refused", err)
		}
	}
}

// composeEnv is the environment of the service that runs the rudderhook command.
func composeEnv(t *testing.T, services map[string]any, command string) map[string]string {
	t.Helper()
	for _, svc := range services {
		if cmd, _ := get(svc, "command").([]any); len(cmd) > 0 && cmd[0] == command {
			env := map[string]string{}
			for k, v := range get(svc, "environment").(map[string]any) {
				env[k] = fmt.Sprint(v)
			}
			return env
		}
	}
	t.Fatalf("no compose service runs %s", command)
	return nil
}

var interpolation = regexp.MustCompile(`\$\{([A-Z0-9_]+)(?::([?-])([^}]*))?\}`)

// loadCompose interpolates a service's environment as compose does with the shell's variables (the
// forms ${NAME}, ${NAME:-default} and ${NAME:?error}) and loads it.
func loadCompose(t *testing.T, env, shell map[string]string) *config.Config {
	t.Helper()
	var environ []string
	for k, v := range env {
		v = interpolation.ReplaceAllStringFunc(v, func(m string) string {
			sm := interpolation.FindStringSubmatch(m)
			switch val := shell[sm[1]]; {
			case val != "":
				return val
			case sm[2] == "?":
				t.Fatalf("compose refuses to start without %s: %s", sm[1], sm[3])
			case sm[2] == "-":
				return sm[3]
			}
			return ""
		})
		if strings.Contains(v, "$") {
			t.Fatalf("%s=%s: an interpolation this test does not read", k, v)
		}
		environ = append(environ, k+"="+v)
	}
	cfg, err := config.Load(environ, "")
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// hostIP is the address a compose port is published on: "" (every interface) unless it says one.
func hostIP(t *testing.T, port any) string {
	t.Helper()
	switch p := port.(type) {
	case map[string]any: // long syntax
		ip, _ := p["host_ip"].(string)
		return ip
	case int: // CONTAINER_PORT alone: a random host port on every interface
		return ""
	case string: // [HOST_IP:][HOST_PORT:]CONTAINER_PORT[/PROTOCOL]
		if strings.HasPrefix(p, "[") { // [::1]:8233:8080
			return p[1:strings.Index(p, "]")]
		}
		if parts := strings.Split(p, ":"); len(parts) == 3 {
			return parts[0]
		}
		return ""
	}
	t.Fatalf("port %v: neither a string nor a mapping", port)
	return ""
}

func isLoopback(host string) bool {
	a, err := netip.ParseAddr(host)
	return err == nil && a.IsLoopback()
}
