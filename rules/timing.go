package rules

import (
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Window is a calling window: the hours of the day (and, optionally, the weekdays) in a time zone when an
// action may run. A window whose end is before its start spans midnight (20:00–06:00).
//
// Its methods are pure functions of their arguments, so workflow code may call them.
type Window struct {
	Start    string   `json:"start" yaml:"start"`
	End      string   `json:"end" yaml:"end"`
	Days     []string `json:"days,omitempty" yaml:"days"`
	TimeZone string   `json:"time_zone,omitempty" yaml:"time_zone"`
}

var weekdays = map[string]time.Weekday{
	"sun": time.Sunday, "mon": time.Monday, "tue": time.Tuesday, "wed": time.Wednesday,
	"thu": time.Thursday, "fri": time.Friday, "sat": time.Saturday,
}

// check validates the window and fills in the zone.
func (w *Window) check(defaultZone string) error {
	if w.TimeZone == "" {
		w.TimeZone = defaultZone
	}
	if _, err := time.LoadLocation(w.TimeZone); err != nil {
		return fmt.Errorf("time_zone %q: %v", w.TimeZone, err)
	}
	s, err := clock(w.Start)
	if err != nil {
		return fmt.Errorf("start: %v", err)
	}
	e, err := clock(w.End)
	if err != nil {
		return fmt.Errorf("end: %v", err)
	}
	if s == e {
		return fmt.Errorf("start and end are both %s: the window would be empty", w.Start)
	}
	for i, d := range w.Days {
		w.Days[i] = strings.ToLower(d)
		if _, ok := weekdays[w.Days[i]]; !ok {
			return fmt.Errorf("days: %q is not one of mon, tue, wed, thu, fri, sat, sun", d)
		}
	}
	return nil
}

// Contains reports whether t is inside the window.
func (w *Window) Contains(t time.Time) bool {
	loc, _ := time.LoadLocation(w.TimeZone)
	local := t.In(loc)
	start, _ := clock(w.Start)
	end, _ := clock(w.End)
	m := local.Hour()*60 + local.Minute()
	day := local
	if start < end {
		if m < start || m >= end {
			return false
		}
	} else { // spans midnight: an early-morning time belongs to the window that opened the day before
		if m >= end && m < start {
			return false
		}
		if m < end {
			day = local.AddDate(0, 0, -1)
		}
	}
	return w.allowsDay(day.Weekday())
}

// Next returns t if t is inside the window, otherwise the window's next opening after t.
func (w *Window) Next(t time.Time) time.Time {
	if w.Contains(t) {
		return t
	}
	return w.openingAfter(t)
}

// NextDay returns the first opening of the window on a later local day than t's.
func (w *Window) NextDay(t time.Time) time.Time {
	loc, _ := time.LoadLocation(w.TimeZone)
	local := t.In(loc)
	midnight := time.Date(local.Year(), local.Month(), local.Day()+1, 0, 0, 0, 0, loc)
	return w.Next(midnight)
}

// Day is the local calendar day of t in the window's zone, as YYYY-MM-DD.
func (w *Window) Day(t time.Time) string {
	loc, _ := time.LoadLocation(w.TimeZone)
	return t.In(loc).Format(time.DateOnly)
}

func (w *Window) openingAfter(t time.Time) time.Time {
	loc, _ := time.LoadLocation(w.TimeZone)
	start, _ := clock(w.Start)
	local := t.In(loc)
	for i := 0; i <= 8; i++ {
		d := local.AddDate(0, 0, i)
		open := time.Date(d.Year(), d.Month(), d.Day(), start/60, start%60, 0, 0, loc)
		if !open.Before(t) && w.allowsDay(open.Weekday()) {
			return open
		}
	}
	return t // unreachable for a valid window: some weekday within 8 days is allowed
}

func (w *Window) allowsDay(d time.Weekday) bool {
	if len(w.Days) == 0 {
		return true
	}
	return slices.ContainsFunc(w.Days, func(s string) bool { return weekdays[s] == d })
}

// String is how the window reads in summaries: "08:00–20:00 Asia/Jakarta".
func (w *Window) String() string {
	s := w.Start + "–" + w.End + " " + w.TimeZone
	if len(w.Days) > 0 {
		s += " (" + strings.Join(w.Days, ",") + ")"
	}
	return s
}

// clock reads "HH:MM" as minutes after midnight.
func clock(s string) (int, error) {
	h, m, ok := strings.Cut(s, ":")
	hh, err1 := strconv.Atoi(h)
	mm, err2 := strconv.Atoi(m)
	if !ok || err1 != nil || err2 != nil || hh < 0 || hh > 23 || mm < 0 || mm > 59 || len(m) != 2 {
		return 0, fmt.Errorf("%q is not a time of day (HH:MM, 24-hour)", s)
	}
	return hh*60 + mm, nil
}

// At is a point in time relative to a date of the call: "the day before due_date at 09:00".
type At struct {
	Date       string `yaml:"date"`
	DaysBefore int    `yaml:"days_before"`
	DaysAfter  int    `yaml:"days_after"`
	Time       string `yaml:"time"`
	TimeZone   string `yaml:"time_zone"`
}

// atDates are the call's dates an `at` may refer to.
var atDates = map[string]func(*Call) time.Time{
	"due_date":        func(c *Call) time.Time { return c.DueDate },
	"borrowed_date":   func(c *Call) time.Time { return c.BorrowedDate },
	"call_start_time": func(c *Call) time.Time { return c.CallStartTime },
	"call_end_time":   func(c *Call) time.Time { return c.CallEndTime },
	"received_at":     func(c *Call) time.Time { return c.ReceivedAt },
}

func (a *At) check(defaultZone string) error {
	if _, ok := atDates[a.Date]; !ok {
		return fmt.Errorf("date %q is not one of due_date, borrowed_date, call_start_time, call_end_time, received_at", a.Date)
	}
	if a.DaysBefore < 0 || a.DaysAfter < 0 || (a.DaysBefore > 0 && a.DaysAfter > 0) {
		return fmt.Errorf("give days_before or days_after, a whole number of days, not both")
	}
	if a.Time == "" {
		a.Time = "09:00"
	}
	if _, err := clock(a.Time); err != nil {
		return fmt.Errorf("time: %v", err)
	}
	if a.TimeZone == "" {
		a.TimeZone = defaultZone
	}
	if _, err := time.LoadLocation(a.TimeZone); err != nil {
		return fmt.Errorf("time_zone %q: %v", a.TimeZone, err)
	}
	return nil
}

// resolve gives the moment for a call, or false when the call lacks the date. Dates such as DueDate are
// calendar days: "the day before" is counted in the at's zone, at its time of day.
func (a *At) resolve(c *Call) (time.Time, bool) {
	base := atDates[a.Date](c)
	if base.IsZero() {
		return time.Time{}, false
	}
	loc, _ := time.LoadLocation(a.TimeZone)
	m, _ := clock(a.Time)
	y, mo, d := base.Date() // dates are held at UTC midnight; times are read in UTC
	if a.Date == "call_start_time" || a.Date == "call_end_time" || a.Date == "received_at" {
		y, mo, d = base.In(loc).Date()
	}
	return time.Date(y, mo, d+a.DaysAfter-a.DaysBefore, m/60, m%60, 0, 0, loc), true
}

// Duration is a YAML duration: Go's forms ("90m", "2h30m") plus whole days ("1d", "2d12h").
type Duration time.Duration

func (d *Duration) UnmarshalYAML(unmarshal func(any) error) error {
	var s string
	if err := unmarshal(&s); err != nil {
		return err
	}
	v, err := ParseDuration(s)
	if err != nil {
		return err
	}
	*d = Duration(v)
	return nil
}

// ParseDuration reads "2h", "90m", "1d" or "1d12h".
func ParseDuration(s string) (time.Duration, error) {
	days := 0
	rest := s
	if i := strings.Index(s, "d"); i > 0 {
		n, err := strconv.Atoi(s[:i])
		if err != nil {
			return 0, fmt.Errorf("%q is not a duration (like 90m, 2h, 1d)", s)
		}
		days, rest = n, s[i+1:]
	}
	var d time.Duration
	if rest != "" || days == 0 {
		var err error
		if d, err = time.ParseDuration(rest); err != nil {
			return 0, fmt.Errorf("%q is not a duration (like 90m, 2h, 1d)", s)
		}
	}
	if d < 0 || days < 0 {
		return 0, fmt.Errorf("%q is negative", s)
	}
	return d + time.Duration(days)*24*time.Hour, nil
}

// Earliest is the first moment at or after t when the follow-up may run: t, or its window's next opening.
func (f *FollowUp) Earliest(t time.Time) time.Time {
	if f.Window != nil {
		return f.Window.Next(t)
	}
	return t
}

// InstanceEnd is when a new Airudder instance created by a re-call at t stops calling (createinstance's
// end_time): the recall's end_time, the next such time of day after t; by default the end of the calling
// window that t is in (or opens next); without a window, a day after t.
func (f *FollowUp) InstanceEnd(t time.Time) time.Time {
	if f.Recall != nil && f.Recall.EndTime != "" {
		loc := f.zone()
		m, _ := clock(f.Recall.EndTime)
		l := t.In(loc)
		end := time.Date(l.Year(), l.Month(), l.Day(), m/60, m%60, 0, 0, loc)
		if !end.After(t) {
			end = time.Date(l.Year(), l.Month(), l.Day()+1, m/60, m%60, 0, 0, loc)
		}
		return end
	}
	if f.Window != nil {
		return f.Window.Close(t)
	}
	return t.Add(24 * time.Hour)
}

// Close is when the window that t is in (or the next one to open after t) closes.
func (w *Window) Close(t time.Time) time.Time {
	loc, _ := time.LoadLocation(w.TimeZone)
	open := w.Next(t).In(loc)
	e, _ := clock(w.End)
	end := time.Date(open.Year(), open.Month(), open.Day(), e/60, e%60, 0, 0, loc)
	if !end.After(open) {
		end = time.Date(open.Year(), open.Month(), open.Day()+1, e/60, e%60, 0, 0, loc)
	}
	return end
}

// zone is the follow-up's own zone: its window's, else the rules'.
func (f *FollowUp) zone() *time.Location {
	zone := f.TimeZone
	if f.Window != nil {
		zone = f.Window.TimeZone
	}
	loc, err := time.LoadLocation(zone)
	if err != nil {
		return time.UTC
	}
	return loc
}

// CapDay is the day, YYYY-MM-DD, that a run at t counts against for the daily cap: in the window's zone,
// or the rules' zone when the action has no window.
func (f *FollowUp) CapDay(t time.Time) string {
	return t.In(f.zone()).Format(time.DateOnly)
}

// CapZone is the zone whose days a daily cap counts (CapDay's).
func (f *FollowUp) CapZone() string { return f.zone().String() }

// NextDay is when a follow-up stopped by the daily cap may try again: the next day's first opening.
func (f *FollowUp) NextDay(t time.Time) time.Time {
	if f.Window != nil {
		return f.Window.NextDay(t)
	}
	loc := f.zone()
	l := t.In(loc)
	return time.Date(l.Year(), l.Month(), l.Day()+1, 0, 0, 0, 0, loc)
}
