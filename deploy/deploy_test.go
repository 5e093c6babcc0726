// Package deploy holds the container image, compose file and Kubernetes manifests. No Docker engine or
// cluster runs in CI, so these tests check the files by parsing them: every document is well-formed,
// every rudderhook container runs a real subcommand, and every setting it is given is one rudderhook reads.
package deploy

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rudderhook/rudderhook/config"
)

// subcommands are those of cmd/rudderhook; a container that runs anything else would exit at once.
var subcommands = map[string]bool{"dev": true, "serve": true, "worker": true, "migrate": true, "send": true, "rules": true, "codec": true}

func documents(t *testing.T, path string) []map[string]any {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	dec := yaml.NewDecoder(bytes.NewReader(b))
	var docs []map[string]any
	for {
		var doc map[string]any
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if doc != nil {
			docs = append(docs, doc)
		}
	}
}

func get(v any, path ...string) any {
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

func checkEnv(t *testing.T, where string, env map[string]any) {
	t.Helper()
	for name := range env {
		if !config.IsEnvVar(name) {
			t.Errorf("%s sets %s, which rudderhook does not read", where, name)
		}
	}
}

func TestComposeFile(t *testing.T) {
	docs := documents(t, "compose.yaml")
	if len(docs) != 1 {
		t.Fatalf("compose.yaml has %d documents", len(docs))
	}
	services, _ := get(docs[0], "services").(map[string]any)
	seen := map[string]bool{}
	for name, svc := range services {
		image, _ := get(svc, "image").(string)
		if !strings.HasPrefix(image, "rudderhook") {
			continue
		}
		cmd, _ := get(svc, "command").([]any)
		if len(cmd) == 0 || !subcommands[cmd[0].(string)] {
			t.Errorf("service %s runs %v", name, cmd)
			continue
		}
		seen[cmd[0].(string)] = true
		env, _ := get(svc, "environment").(map[string]any)
		checkEnv(t, "service "+name, env)
	}
	for _, want := range []string{"migrate", "serve", "worker"} {
		if !seen[want] {
			t.Errorf("no service runs rudderhook %s", want)
		}
	}
}

func TestKubernetesManifests(t *testing.T) {
	kustomization := documents(t, "k8s/kustomization.yaml")[0]
	seen := map[string]bool{}
	for _, r := range get(kustomization, "resources").([]any) {
		path := filepath.Join("k8s", r.(string))
		for _, doc := range documents(t, path) {
			kind, _ := doc["kind"].(string)
			name, _ := get(doc, "metadata", "name").(string)
			if kind == "" || name == "" || doc["apiVersion"] == nil {
				t.Errorf("%s: a document without apiVersion, kind or metadata.name", path)
				continue
			}
			where := path + " " + kind + "/" + name
			switch kind {
			case "ConfigMap":
				checkEnv(t, where, get(doc, "data").(map[string]any))
			case "Secret":
				data := get(doc, "stringData").(map[string]any)
				if file, ok := data["rudderhook.yaml"].(string); ok {
					checkSourcesFile(t, where, file)
					continue
				}
				checkEnv(t, where, data)
				// serve refuses to run with the placeholder admin token: whoever applies the manifest as
				// it is gets told to set a real one.
				if token, ok := data["RUDDERHOOK_ADMIN_TOKEN"].(string); ok && config.CheckAdminToken(token) == nil {
					t.Errorf("%s: serve would run with the admin token %q as it is", where, token)
				}
			case "Deployment", "Job":
				for _, c := range get(doc, "spec", "template", "spec", "containers").([]any) {
					args, _ := get(c, "args").([]any)
					if len(args) == 0 || !subcommands[args[0].(string)] {
						t.Errorf("%s runs %v", where, args)
						continue
					}
					seen[args[0].(string)] = true
					env := map[string]any{}
					for _, e := range asList(get(c, "env")) {
						env[get(e, "name").(string)] = get(e, "value")
					}
					checkEnv(t, where, env)
				}
			}
		}
	}
	for _, want := range []string{"migrate", "serve", "worker"} {
		if !seen[want] {
			t.Errorf("no manifest runs rudderhook %s", want)
		}
	}
}

func asList(v any) []any {
	l, _ := v.([]any)
	return l
}

// checkSourcesFile loads the sources file of a manifest as rudderhook would.
func checkSourcesFile(t *testing.T, where, content string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "rudderhook.yaml")
	if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := config.Load(nil, path); err != nil {
		t.Errorf("%s: %v", where, err)
	}
}

func TestDockerfileBuildsTheBinary(t *testing.T) {
	b, err := os.ReadFile("Dockerfile")
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`go build .* (\./cmd/\S+)`).FindSubmatch(b)
	if m == nil {
		t.Fatal("Dockerfile has no go build of ./cmd/…")
	}
	if _, err := os.Stat(filepath.Join("..", string(m[1]), "main.go")); err != nil {
		t.Errorf("Dockerfile builds %s: %v", m[1], err)
	}
	if !bytes.Contains(b, []byte("CGO_ENABLED=0")) {
		t.Error("the image is built with cgo; the distroless static base needs a static binary")
	}
}
