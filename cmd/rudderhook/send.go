package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"time"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/airudder"
)

func sendCmd() *cobra.Command {
	var target, source, key, token string
	cmd := &cobra.Command{
		Use:   "send [FILE]",
		Short: "Sign and POST a call-completion callback as Airudder would (default: the API page's example)",
		Long: `send posts FILE (or, without one, the example of Airudder's API page) to a receiver, with Sign
recomputed as md5(TaskID + key). It prints the response status and body, and exits non-zero when the
receiver refused the callback. A FILE that is not a JSON object is sent as it is, unsigned.`,
		Args: cobra.MaximumNArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			body := airudder.ExampleCallCompleted
			if len(args) == 1 {
				b, err := os.ReadFile(args[0])
				if err != nil {
					return err
				}
				body = b
			}
			signed, err := airudder.Resign(body, key)
			if err != nil {
				fmt.Fprintf(os.Stderr, "warning: %v; sending the file unsigned, as it is\n", err)
				signed = body
			}
			if target == "" {
				target = "http://127.0.0.1:8080/webhooks/" + url.PathEscape(source) + "/call-completed"
			}
			if token != "" {
				u, err := url.Parse(target)
				if err != nil {
					return err
				}
				q := u.Query()
				q.Set("token", token)
				u.RawQuery = q.Encode()
				target = u.String()
			}
			req, err := http.NewRequestWithContext(cmd.Context(), http.MethodPost, target, bytes.NewReader(signed))
			if err != nil {
				return err
			}
			req.Header.Set("Content-Type", "application/json")
			req.Header.Set("User-Agent", "Airudder")
			resp, err := (&http.Client{Timeout: 30 * time.Second}).Do(req)
			if err != nil {
				return fmt.Errorf("post to %s: %w (is `rudderhook dev` running?)", target, err)
			}
			defer resp.Body.Close()
			respBody, _ := io.ReadAll(resp.Body)
			fmt.Printf("%s\n%s\n", resp.Status, bytes.TrimSpace(respBody))
			if resp.StatusCode >= 300 {
				return fmt.Errorf("the receiver answered %s", resp.Status)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&target, "url", "", "receiver URL (default http://127.0.0.1:8080/webhooks/{source}/call-completed)")
	f.StringVar(&source, "source", "airudder", "source name, used in the default URL")
	f.StringVar(&key, "key", airudder.DefaultKey, "Sign key of the source")
	f.StringVar(&token, "token", "", "the source's URL token, if it has one (added as ?token=)")
	return cmd
}
