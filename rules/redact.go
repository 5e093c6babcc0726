package rules

import (
	"bytes"
	"net/url"
	"strings"

	"gopkg.in/yaml.v3"
)

// Redacted stands for a header value hidden from a reader of the rules who may not use them.
const Redacted = "••••"

// redactedURLPart stands for a hidden part of a URL. It is plain ASCII, so that a URL with hidden parts
// is still a URL (user info takes nothing else) and a draft made from the hidden document still compiles.
const redactedURLPart = "xxxxx"

// Redact is a rules document with the secrets a rule may carry hidden, for people who may read the rules
// but not use them (the viewers of the rules page): every value under a `headers:` key (an
// Authorization, an API key) and, in every `url:`, all but its scheme and host — the user info, the path
// (an incoming-webhook URL carries its secret there), every query value (a ?token=) and the fragment.
// Keys are hidden wherever they are in the document, so that an anchor defined in one action and used
// in another is hidden too. A document with nothing to hide is returned as it is; one that does hide
// something is written again (comments kept, indented by two). A document that does not read as YAML
// cannot be shown in part, so it is replaced by a comment saying so.
func Redact(src []byte) []byte {
	var root yaml.Node
	if err := yaml.Unmarshal(src, &root); err != nil {
		return []byte("# This document does not read as YAML, so it cannot be shown without the values it may hide.\n")
	}
	if !redactNode(&root, map[*yaml.Node]bool{}) {
		return src
	}
	var b bytes.Buffer
	enc := yaml.NewEncoder(&b)
	enc.SetIndent(2)
	if err := enc.Encode(&root); err != nil {
		return []byte("# This document cannot be shown without the values it may hide.\n")
	}
	_ = enc.Close()
	return b.Bytes()
}

// redactNode hides the values of `headers:` and `url:` keys under n, each node once, and reports whether
// it changed anything.
func redactNode(n *yaml.Node, seen map[*yaml.Node]bool) bool {
	if n == nil || seen[n] {
		return false
	}
	seen[n] = true
	changed := false
	if n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			v := resolve(n.Content[i+1])
			switch n.Content[i].Value {
			case "url":
				if v.Kind == yaml.ScalarNode {
					if hidden := RedactURL(v.Value); hidden != v.Value {
						v.Value, v.Style, changed = hidden, 0, true
					}
				}
			case "headers":
				if v.Kind == yaml.MappingNode {
					for j := 1; j < len(v.Content); j += 2 {
						h := resolve(v.Content[j])
						if h.Kind != yaml.ScalarNode || h.Value != Redacted {
							*h = yaml.Node{Kind: yaml.ScalarNode, Tag: "!!str", Value: Redacted, Anchor: h.Anchor,
								LineComment: h.LineComment, HeadComment: h.HeadComment, FootComment: h.FootComment}
							changed = true
						}
					}
				}
			}
		}
	}
	for _, c := range n.Content {
		changed = redactNode(c, seen) || changed
	}
	return redactNode(n.Alias, seen) || changed
}

// resolve is the node an alias stands for (n itself otherwise), so that hiding it hides every use.
func resolve(n *yaml.Node) *yaml.Node {
	for n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	return n
}

// RedactURL is a URL with all but its scheme and host hidden (see Redact): user info, path, query values
// and fragment each become "xxxxx", the query's names stay. A text that is not a URL with a host is
// hidden whole.
func RedactURL(raw string) string {
	u, err := url.Parse(raw)
	if err != nil || u.Host == "" {
		return redactedURLPart
	}
	out := u.Scheme + "://"
	if u.User != nil {
		out += redactedURLPart + "@"
	}
	out += u.Host
	if u.Path != "" && u.Path != "/" || u.RawPath != "" {
		out += "/" + redactedURLPart
	} else {
		out += u.Path
	}
	if u.RawQuery != "" || u.ForceQuery {
		params := strings.Split(u.RawQuery, "&")
		for i, p := range params {
			if name, _, ok := strings.Cut(p, "="); ok {
				params[i] = name + "=" + redactedURLPart
			} else if p != "" {
				params[i] = redactedURLPart // a bare value (?s3cr3t) may be the secret itself
			}
		}
		out += "?" + strings.Join(params, "&")
	}
	if u.Fragment != "" {
		out += "#" + redactedURLPart
	}
	return out
}
