package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/airudder"
)

func sendCmd() *cobra.Command {
	var target, source, key, token, kind string
	kinds := strings.Join(airudder.KindRoutes(), ", ")
	cmd := &cobra.Command{
		Use:   "send [FILE]",
		Short: "Sign and POST a callback as Airudder would (default: the call-completion example of Airudder's API page)",
		Long: `send posts FILE, or without one the examples of the callback kind (--kind, default call-completed), to a
receiver at /webhooks/{source}/{kind}, or /webhooks/{source}/{token}/{kind} with --token. Kinds that Airudder
signs get their Sign recomputed as md5(TaskID + key); the others are sent as they are. send prints each
response's status and body, and exits non-zero when the receiver refused one. A FILE that is not a JSON
object is sent as it is, unsigned.

Kinds (with FILE, also a generic kind that the source lists):
` + kindTable(),
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			k, ok := airudder.KindByRoute(kind)
			if !ok {
				if len(args) == 0 {
					return fmt.Errorf("--kind %q: not a kind with an example; use one of %s, or give a FILE for a source's generic kind", kind, kinds)
				}
				generic, err := airudder.GenericKind(kind, nil)
				if err != nil {
					return fmt.Errorf("--%w; the kinds with a type are %s", err, kinds)
				}
				k = generic
			}
			examples := k.Examples
			if len(args) == 1 {
				b, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				examples = []airudder.Example{{Name: args[0], Body: b}}
			}
			to, err := receiverURL(target, source, token, k.Route)
			if err != nil {
				return err
			}
			var failed []string
			for _, ex := range examples {
				body := ex.Body
				if k.Signed {
					signed, err := airudder.Resign(body, key)
					if err != nil {
						fmt.Fprintf(os.Stderr, "warning: %v; sending %s unsigned, as it is\n", err, ex.Name)
						signed = body
					}
					body = signed
				}
				if len(examples) > 1 {
					fmt.Printf("%s: ", ex.Name)
				}
				status, err := post(cmd, to, body)
				if err != nil {
					return err
				}
				if status >= 300 {
					failed = append(failed, ex.Name)
				}
			}
			if len(failed) > 0 {
				return errors.New("the receiver refused " + strings.Join(failed, ", "))
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kind, "kind", airudder.KindCallCompleted, "callback kind: "+kinds+" (or, with FILE, a source's generic kind)")
	f.StringVar(&target, "url", "", "receiver URL (default http://127.0.0.1:8080/webhooks/{source}[/{token}]/{kind})")
	f.StringVar(&source, "source", "airudder", "source name, used in the default URL")
	f.StringVar(&key, "key", airudder.DefaultKey, "Sign key of the source, for the kinds that are signed")
	f.StringVar(&token, "token", "", "the source's URL token, if it has one (in the default URL's path; added as ?token= to --url)")
	return cmd
}

// post sends one body as Airudder does and prints the answer; it returns the status code.
func post(cmd *cobra.Command, target string, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, target, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "Airudder")
	resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
	if err != nil {
		return 0, fmt.Errorf("post to %s: %w (is `rudderhook dev` running?)", target, err)
	}
	defer resp.Body.Close()
	respBody, _ := io.ReadAll(resp.Body)
	fmt.Printf("%s\n%s\n", resp.Status, bytes.TrimSpace(respBody))
	return resp.StatusCode, nil
}

// kindTable lists the kinds for the help text: route, whether signed, its examples.
func kindTable() string {
	var b strings.Builder
	for _, k := range airudder.Kinds() {
		signed := "unsigned"
		if k.Signed {
			signed = "signed"
		}
		names := make([]string, len(k.Examples))
		for i, ex := range k.Examples {
			names[i] = ex.Name
		}
		fmt.Fprintf(&b, "  %-22s %-9s examples: %s\n", k.Route, signed, strings.Join(names, ", "))
	}
	return b.String()
}

// defaultReceiver is where `rudderhook dev` listens.
const defaultReceiver = "http://127.0.0.1:8080"

// receiverURL is where send posts: target as given (with ?token= when there is a token), or by default
// the receiver's URL of the kind, /webhooks/{source}/{kind}, or /webhooks/{source}/{token}/{kind}.
func receiverURL(target, source, token, route string) (string, error) {
	if target == "" {
		target = defaultReceiver + "/webhooks/" + url.PathEscape(source)
		if token != "" {
			target += "/" + url.PathEscape(token)
		}
		return target + "/" + url.PathEscape(route), nil
	}
	if token == "" {
		return target, nil
	}
	u, err := url.Parse(target)
	if err != nil {
		return "", fmt.Errorf("--url: %w", err)
	}
	q := u.Query()
	q.Set("token", token)
	u.RawQuery = q.Encode()
	return u.String(), nil
}
