package rules

import (
	"fmt"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Segment is a piece of a sentence: plain words, a value the rule names (shown emphasised), or CEL
// (shown as code).
type Segment struct {
	Text  string `json:"text"`
	Value bool   `json:"value,omitempty"`
	Code  bool   `json:"code,omitempty"`
}

// Sentence is a rule as a business reader reads it: "When the intention is Promise To Pay and the call
// has a due date → re-call through Airudder the day before the due date at 09:00, between 08:00 and
// 20:00". When is the condition; Then has one entry per action.
type Sentence struct {
	When []Segment   `json:"when"`
	Then [][]Segment `json:"then"`
}

// String is the sentence as plain text.
func (s Sentence) String() string {
	var b strings.Builder
	write := func(segs []Segment) {
		for _, g := range segs {
			b.WriteString(g.Text)
		}
	}
	write(s.When)
	b.WriteString(" → ")
	for i, t := range s.Then {
		if i > 0 {
			b.WriteString("; ")
		}
		write(t)
	}
	return b.String()
}

// sentence builds segments.
type sentence []Segment

func (s *sentence) words(format string, args ...any) {
	*s = append(*s, Segment{Text: fmt.Sprintf(format, args...)})
}
func (s *sentence) value(v string) { *s = append(*s, Segment{Text: v, Value: true}) }

// Describe says a compiled rule in words. A condition that is a conjunction of simple comparisons of
// known fields is read out; any other is shown as its CEL.
func Describe(set *Set, r *Rule) Sentence {
	kind, ok := KindByName(cmpOr(r.On, KindCallCompleted))
	if !ok { // a source's generic kind: its condition is read out as CEL
		kind = Kind{Name: r.On, Label: r.On, Variable: "event"}
	}
	var when sentence
	if conds, ok := ParseConditions(kind, r.When); ok {
		describeConditions(&when, kind, conds)
	} else {
		when.words("When ")
		when = append(when, Segment{Text: r.When, Code: true})
	}
	out := Sentence{When: when}
	for _, a := range r.Actions {
		out.Then = append(out.Then, describeAction(set, a))
	}
	return out
}

func describeConditions(s *sentence, kind Kind, conds []Condition) {
	if len(conds) == 0 {
		s.words("For every call")
		return
	}
	s.words("When ")
	for i, c := range conds {
		if i > 0 {
			s.words(" and ")
		}
		f, _ := kind.Field(c.Field)
		switch c.Op {
		case OpHas:
			s.words("the %s has %s %s", kind.Variable, article(f.Label), f.Label)
			continue
		case OpNotHas:
			s.words("the %s has no %s", kind.Variable, f.Label)
			continue
		case OpHasKey:
			s.words("the %s ", f.Label)
			s.value(c.Key)
			s.words(" is set")
			continue
		case OpKeyEquals:
			s.words("the %s ", f.Label)
			s.value(c.Key)
			s.words(" is ")
			s.value(c.Value)
			continue
		}
		s.words("the %s %s ", f.Label, opWords[c.Op])
		if c.Op == OpIn || c.Op == OpNotIn {
			for j, v := range c.Values {
				switch {
				case j == 0:
				case j == len(c.Values)-1 && c.Op == OpIn:
					s.words(" or ")
				default:
					s.words(", ")
				}
				s.value(v)
			}
			continue
		}
		v := c.Value
		if f.Type == FieldDuration {
			if d, err := time.ParseDuration(v); err == nil {
				v = durationWords(d)
			}
		}
		s.value(v)
	}
}

var opWords = map[string]string{
	OpEq: "is", OpNe: "is not", OpLt: "is less than", OpLe: "is at most", OpGt: "is more than", OpGe: "is at least",
	OpIn: "is", OpNotIn: "is none of", OpContains: "contains",
}

func article(word string) string {
	if word != "" && strings.ContainsRune("aeiouAEIOU", rune(word[0])) {
		return "an"
	}
	return "a"
}

func describeAction(set *Set, a *Action) []Segment {
	var s sentence
	switch a.Type {
	case TypeAirudderRecall:
		s.words("re-call through Airudder")
		switch {
		case a.templateID != "":
			s.words(" (template ")
			s.value(a.templateID)
			s.words(")")
		case a.airudderWorkflowID != "":
			s.words(" (into workflow ")
			s.value(a.airudderWorkflowID)
			s.words(")")
		}
	case TypeAirudderCancelContact:
		s.words("cancel the task's other calls to that number")
	case TypeWebhook:
		s.words("send it to ")
		s.value(EndpointLabel(a.Target, a.URL))
	case TypeNotify:
		s.words("message ")
		s.value(EndpointLabel(a.Target, a.URL))
	case TypeArchiveRecording:
		s.words("archive its recording")
	default:
		s.words("%s", a.Type)
	}
	switch {
	case a.At != nil:
		s.words(" %s the %s at ", daysWords(a.At), dateLabel(a.At.Date))
		s.value(a.At.Time)
		if a.Delay > 0 {
			s.words(", and not before ")
			s.value(durationWords(a.Delay))
			s.words(" after the call")
		}
	case a.Delay > 0:
		s.words(" ")
		s.value(durationWords(a.Delay))
		s.words(" after the call")
	case a.Window == nil:
		s.words(" at once")
	}
	if w := a.Window; w != nil {
		s.words(", between ")
		s.value(w.Start)
		s.words(" and ")
		s.value(w.End)
		if len(w.Days) > 0 {
			s.words(" on ")
			s.value(strings.Join(w.Days, ", "))
		}
		if w.TimeZone != set.TimeZone {
			s.words(" (%s)", w.TimeZone)
		}
	}
	if a.MaxPerDay > 0 {
		s.words(", at most ")
		s.value(strconv.Itoa(a.MaxPerDay))
		if a.ReachesPerson {
			s.words(" calls to the number a day")
		} else {
			s.words(" a day per callee")
		}
		if a.SkipWhenCapped {
			s.words(" (dropped beyond that)")
		} else {
			s.words(" (else the next day)")
		}
	}
	return s
}

// EndpointLabel names where a webhook or notification goes, for whoever reads the rules or what they did:
// its target, or only the host of its URL (an incoming-webhook URL carries its secret in the path, others
// in user info or a query token).
func EndpointLabel(target, rawURL string) string {
	if target != "" {
		return target
	}
	if u, err := url.Parse(rawURL); err == nil && u.Host != "" {
		return u.Host
	}
	return "a URL"
}

// Destination names where a planned follow-up goes, as EndpointLabel names it: its target, the host of
// its URL, or Airudder for a re-call or a cancel; "" for one planned as skipped.
func (f *FollowUp) Destination() string {
	switch {
	case f.Webhook != nil:
		return EndpointLabel(f.Webhook.Target, f.Webhook.URL)
	case f.Notify != nil:
		return EndpointLabel(f.Notify.Target, f.Notify.URL)
	case f.Recall != nil, f.Cancel != nil:
		return "Airudder"
	}
	return ""
}

func daysWords(at *At) string {
	switch {
	case at.DaysBefore == 1:
		return "the day before"
	case at.DaysBefore > 1:
		return fmt.Sprintf("%d days before", at.DaysBefore)
	case at.DaysAfter == 1:
		return "the day after"
	case at.DaysAfter > 1:
		return fmt.Sprintf("%d days after", at.DaysAfter)
	}
	return "on the day of"
}

func dateLabel(date string) string {
	if f, ok := Kinds()[0].Field(date); ok {
		return f.Label
	}
	return strings.ReplaceAll(date, "_", " ")
}

// durationWords says a duration as a person would: "2 hours", "1 day 12 hours", "90 minutes".
func durationWords(d time.Duration) string {
	if d < time.Minute {
		return plural(int(d/time.Second), "second")
	}
	var parts []string
	if days := int(d / (24 * time.Hour)); days > 0 {
		parts = append(parts, plural(days, "day"))
		d -= time.Duration(days) * 24 * time.Hour
	}
	if h := int(d / time.Hour); h > 0 {
		parts = append(parts, plural(h, "hour"))
		d -= time.Duration(h) * time.Hour
	}
	if m := int(d / time.Minute); m > 0 {
		parts = append(parts, plural(m, "minute"))
	}
	return strings.Join(parts, " ")
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// WhenText says a moment in the follow-up's own zone (its window's, else the rules'), with its calling
// window: "2024-03-19 09:00 Asia/Jakarta (calling window 08:00–20:00)". Workflows say it in their
// current details, and a dry run in its samples.
func (f *FollowUp) WhenText(t time.Time) string {
	loc := f.zone()
	s := t.In(loc).Format("2006-01-02 15:04") + " " + loc.String()
	if f.Window != nil {
		s += " (calling window " + f.Window.Start + "–" + f.Window.End + ")"
	}
	return s
}
