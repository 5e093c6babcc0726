package rules

import (
	"fmt"
	"maps"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Change is one difference between two versions of a rules document, as a reader wants it: a rule
// added, removed or changed, and for a change what changed ("reminder-call: at.time 09:00 → 10:00").
type Change struct {
	Rule    string   `json:"rule"`
	What    string   `json:"what"` // added, removed, changed; "" for the document's own settings
	Details []string `json:"details,omitempty"`
}

// Compare lists what changed from one rules document to the next, rule by rule (rules by their id,
// actions by their name). Documents that do not read as YAML compare as empty.
func Compare(before, after []byte) []Change {
	a, b := ruleMaps(before), ruleMaps(after)
	var out []Change
	if d := diffValues("", a.zone, b.zone); len(d) > 0 {
		out = append(out, Change{What: "", Details: []string{"time zone " + d[0]}})
	}
	for _, id := range a.order {
		if _, ok := b.rules[id]; !ok {
			out = append(out, Change{Rule: id, What: "removed"})
		}
	}
	for _, id := range b.order {
		old, ok := a.rules[id]
		if !ok {
			out = append(out, Change{Rule: id, What: "added"})
			continue
		}
		if d := diffValues("", keyActions(old), keyActions(b.rules[id])); len(d) > 0 {
			out = append(out, Change{Rule: id, What: "changed", Details: d})
		}
	}
	return out
}

type docRules struct {
	zone  any
	order []string
	rules map[string]map[string]any
}

func ruleMaps(src []byte) docRules {
	var doc struct {
		TimeZone any              `yaml:"time_zone"`
		Rules    []map[string]any `yaml:"rules"`
	}
	_ = yaml.Unmarshal(src, &doc)
	out := docRules{zone: doc.TimeZone, rules: map[string]map[string]any{}}
	for i, r := range doc.Rules {
		id := fmt.Sprint(r["id"])
		if r["id"] == nil {
			id = fmt.Sprintf("#%d", i+1)
		}
		out.order = append(out.order, id)
		out.rules[id] = r
	}
	return out
}

// keyActions keys a rule's actions by name (else type), so that a reordering is not a change.
func keyActions(r map[string]any) map[string]any {
	out := maps.Clone(r)
	delete(out, "id")
	list, ok := r["actions"].([]any)
	if !ok {
		return out
	}
	byName := map[string]any{}
	for i, a := range list {
		m, _ := a.(map[string]any)
		name := fmt.Sprint(m["name"])
		if m["name"] == nil {
			name = fmt.Sprint(m["type"])
			if i > 0 {
				name = fmt.Sprintf("%s-%d", name, i+1)
			}
		}
		byName[name] = a
	}
	out["actions"] = byName
	return out
}

// diffValues lists the differences of two decoded YAML values under a path: "at.time 09:00 → 10:00".
func diffValues(path string, a, b any) []string {
	am, aIsMap := a.(map[string]any)
	bm, bIsMap := b.(map[string]any)
	if aIsMap && bIsMap {
		keys := slices.Sorted(maps.Keys(am))
		for k := range bm {
			if _, ok := am[k]; !ok {
				keys = append(keys, k)
			}
		}
		var out []string
		for _, k := range keys {
			p := k
			if path == "actions" {
				p = "action " + k
			} else if path != "" {
				p = path + "." + k
			}
			out = append(out, diffValues(p, am[k], bm[k])...)
		}
		return out
	}
	as, bs := show(a), show(b)
	if as == bs {
		return nil
	}
	switch {
	case a == nil:
		return []string{strings.TrimSpace(path + " added: " + bs)}
	case b == nil:
		return []string{strings.TrimSpace(path + " removed (was " + as + ")")}
	}
	return []string{strings.TrimSpace(path + " " + as + " → " + bs)}
}

// show writes a decoded YAML value on one line.
func show(v any) string {
	switch v := v.(type) {
	case nil:
		return ""
	case string:
		return strings.Join(strings.Fields(v), " ")
	case map[string]any, []any:
		b, _ := yaml.Marshal(v)
		var flow any
		_ = yaml.Unmarshal(b, &flow)
		n := &yaml.Node{}
		_ = n.Encode(flow)
		setFlow(n)
		out, _ := yaml.Marshal(n)
		return strings.TrimSpace(string(out))
	default:
		return fmt.Sprint(v)
	}
}

func setFlow(n *yaml.Node) {
	if n.Kind == yaml.MappingNode || n.Kind == yaml.SequenceNode {
		n.Style = yaml.FlowStyle
	}
	for _, c := range n.Content {
		setFlow(c)
	}
}
