package main

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/rudderhook/rudderhook/airudder"
	"github.com/rudderhook/rudderhook/config"
	"github.com/rudderhook/rudderhook/ingest"
	"github.com/rudderhook/rudderhook/rules"
	"github.com/rudderhook/rudderhook/store"
)

// sinkTargets points every target that the rules file names but the laptop has not configured at the
// dev sink, so that `dev` with the example rules runs its webhooks end to end. The sink is dev itself,
// on whatever address it listens: such a target may reach a private network (allow_private), and a
// listener on every address (0.0.0.0, ::) is reached on loopback.
func sinkTargets(cfg *config.Config, log *slog.Logger) {
	if cfg.RulesFile == "" {
		return
	}
	doc, err := os.ReadFile(cfg.RulesFile)
	if err != nil {
		return
	}
	set, err := rules.Compile(doc, rules.Options{URLs: cfg.RuleURLs()})
	if err != nil {
		return // the watcher reports it
	}
	addr := cfg.HTTPAddr
	if host, port, err := net.SplitHostPort(addr); err == nil {
		if ip, err := netip.ParseAddr(host); host == "" || err == nil && ip.IsUnspecified() {
			addr = net.JoinHostPort("127.0.0.1", port)
		}
	}
	for _, r := range set.Rules {
		for _, a := range r.Actions {
			if a.Target == "" || cfg.Targets[a.Target] != nil {
				continue
			}
			cfg.Targets[a.Target] = &config.Target{Name: a.Target, URL: "http://" + addr + "/dev/sink/" + a.Target, AllowPrivate: true}
			log.Info("target not configured; sending it to the dev sink (GET /dev/sink shows what arrived)", "target", a.Target)
		}
	}
}

func rulesCmd(g *globals) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "rules",
		Short: "Check follow-up rules and try them on calls before switching them on",
	}
	cmd.AddCommand(rulesLintCmd(g), rulesTestCmd(g))
	return cmd
}

// compileFile compiles a rules file, checking target names against the configuration when it loads.
func compileFile(g *globals, path string) (*rules.Set, *config.Config, error) {
	doc, err := os.ReadFile(path)
	if err != nil {
		return nil, nil, err
	}
	cfg, err := config.Load(os.Environ(), g.configFile)
	opts := rules.Options{}
	if err == nil {
		opts.URLs = cfg.RuleURLs()
		if len(cfg.Targets) > 0 {
			opts.Targets = cfg.TargetNames()
		}
	}
	set, err := rules.Compile(doc, opts)
	if err != nil {
		return nil, cfg, fmt.Errorf("%s: %w", path, err)
	}
	return set, cfg, nil
}

func rulesLintCmd(g *globals) *cobra.Command {
	return &cobra.Command{
		Use:   "lint FILE",
		Short: "Check a rules file: YAML, conditions (type-checked), actions, timing, templates and targets",
		Long: `lint checks a rules file the way rudderhook will when it loads it, and lists every problem with its rule,
line and column. Target names are checked against the configured targets when there are any.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, _, err := compileFile(g, args[0])
			if err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			actions := 0
			for _, r := range set.Rules {
				actions += len(r.Actions)
			}
			fmt.Fprintf(w, "%s: %d rules, %d actions, time zone %s: OK\n", args[0], len(set.Rules), actions, set.TimeZone)
			for _, r := range set.Rules {
				state := ""
				if !r.Enabled {
					state = " (disabled)"
				}
				names := make([]string, len(r.Actions))
				for i, a := range r.Actions {
					names[i] = a.Name + " (" + a.Type + ")"
				}
				fmt.Fprintf(w, "  %s%s\n    when %s\n    then %s\n", r.ID, state, r.When, strings.Join(names, ", "))
			}
			return nil
		},
	}
}

func rulesTestCmd(g *globals) *cobra.Command {
	var callFile, callID, source string
	var asJSON bool
	cmd := &cobra.Command{
		Use:   "test FILE [--call FILE.json | --call-id ID]",
		Short: "Show which rules match a call and the follow-ups they would plan (nothing is sent)",
		Long: `test evaluates a rules file against a call and prints the rules that match and the actions they would
take: targets, rendered bodies and texts, and when they would run. The call is a callback body (or one
element of its Details) from --call, a stored call from --call-id (needs DATABASE_URL), or by default the
example of Airudder's API page. Times are planned as of when the call was received.`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			set, cfg, err := compileFile(g, args[0])
			if err != nil {
				return err
			}
			calls, err := callsToTest(cmd.Context(), cfg, callFile, callID, source)
			if err != nil {
				return err
			}
			var plans []rules.Plan
			for _, c := range calls {
				plans = append(plans, set.Plan(c.ReceivedCall, c.WorkflowID, c.ReceivedAt))
			}
			w := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(w)
				enc.SetIndent("", "  ")
				return enc.Encode(plans)
			}
			for i, c := range calls {
				printPlan(w, c, plans[i])
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&callFile, "call", "", "a callback body, or one element of Details, as JSON")
	f.StringVar(&callID, "call-id", "", "the ID of a stored call")
	f.StringVar(&source, "source", "airudder", "the source the call came from")
	f.BoolVar(&asJSON, "json", false, "print the plans as JSON")
	return cmd
}

func callsToTest(ctx context.Context, cfg *config.Config, file, id, source string) ([]store.CallRecord, error) {
	now := time.Now().UTC()
	wrap := func(rcs []airudder.ReceivedCall) []store.CallRecord {
		out := make([]store.CallRecord, len(rcs))
		for i, rc := range rcs {
			out[i] = store.CallRecord{ReceivedCall: rc, WorkflowID: "call/" + rc.Source + "/" + rc.Key}
		}
		return out
	}
	switch {
	case file != "" && id != "":
		return nil, errors.New("give --call or --call-id, not both")
	case id != "":
		if cfg == nil {
			return nil, errors.New("--call-id needs the configuration (DATABASE_URL)")
		}
		db, err := openDatabase(ctx, cfg)
		if err != nil {
			return nil, err
		}
		defer db.Close()
		found, err := store.New(db).FindCalls(ctx, id)
		if err == nil && len(found) == 0 {
			err = fmt.Errorf("no stored call has the ID %q", id)
		}
		return found, err
	case file != "":
		body, err := os.ReadFile(file)
		if err != nil {
			return nil, err
		}
		src := &config.Source{Name: source, RedialLocation: time.UTC}
		if cfg != nil && cfg.Sources[source] != nil {
			src = cfg.Sources[source]
		}
		cc, err := ingest.ReadCallCompleted(asCallback(body), src, ingest.AlreadyVerified) // a file of the user's own: no Sign to check
		if err != nil {
			return nil, fmt.Errorf("%s: %w", file, err)
		}
		return wrap(cc.Received(source, now)), nil
	default:
		return wrap(airudder.ExampleCalls(source, now)), nil
	}
}

// asCallback accepts one element of Details as well as a whole callback.
func asCallback(body []byte) []byte {
	var probe map[string]json.RawMessage
	if json.Unmarshal(body, &probe) != nil {
		return body
	}
	if _, ok := probe["Details"]; ok {
		return body
	}
	return append(append([]byte(`{"Details":[`), bytes.TrimSpace(body)...), ']', '}')
}

func printPlan(w io.Writer, c store.CallRecord, p rules.Plan) {
	call := c.Call
	fmt.Fprintf(w, "Call %s (%s): intention %q %q, ring %s, case %s\n", c.Key, c.Source, call.Intention,
		call.IntentionDescription, call.RingType, call.CaseID)
	if len(p.Matched) == 0 {
		fmt.Fprintln(w, "  no rule matches")
	} else {
		fmt.Fprintf(w, "  matches: %s\n", strings.Join(p.Matched, ", "))
	}
	for _, fu := range p.FollowUps {
		fmt.Fprintf(w, "  - %s/%s: %s\n", fu.RuleID, fu.Action, fu.Summary)
		if fu.Skip != "" {
			fmt.Fprintf(w, "      skipped: %s\n", fu.Skip)
			continue
		}
		when := "not before " + fu.NotBefore.Format(time.RFC3339)
		if fu.Window != nil {
			when += ", inside " + fu.Window.String()
		}
		if fu.MaxPerDay > 0 {
			when += fmt.Sprintf(", at most %d a day per callee", fu.MaxPerDay)
		}
		fmt.Fprintf(w, "      when: %s\n", when)
		switch {
		case fu.Webhook != nil:
			var pretty bytes.Buffer
			_ = json.Indent(&pretty, bytes.TrimSpace(fu.Webhook.Body), "        ", "  ")
			fmt.Fprintf(w, "      body: %s\n", pretty.String())
		case fu.Notify != nil:
			fmt.Fprintf(w, "      text: %s\n", fu.Notify.Text)
		case fu.Recall != nil:
			fmt.Fprintf(w, "      re-call %s via %s, variables %v\n", fu.Recall.Callee, cmp.Or(fu.Recall.WorkflowID, "new instance of "+fu.Recall.TemplateID), fu.Recall.Variables)
		}
	}
	for _, e := range p.Errors {
		fmt.Fprintf(w, "  ! %s\n", e.String())
	}
}
