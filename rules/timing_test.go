package rules

import (
	"testing"
	"time"
)

func TestWindow(t *testing.T) {
	w := &Window{Start: "08:00", End: "20:00", TimeZone: "Asia/Jakarta"}
	if err := w.check("UTC"); err != nil {
		t.Fatal(err)
	}
	jkt, _ := time.LoadLocation("Asia/Jakarta")
	at := func(d, h, m int) time.Time { return time.Date(2024, 3, d, h, m, 0, 0, jkt) }
	cases := []struct {
		in, want time.Time
	}{
		{at(11, 10, 0), at(11, 10, 0)}, // inside: now
		{at(11, 7, 59), at(11, 8, 0)},  // before opening: today's opening
		{at(11, 20, 0), at(12, 8, 0)},  // at closing: tomorrow
		{at(11, 23, 30), at(12, 8, 0)}, // night
		{at(11, 19, 59), at(11, 19, 59)} /* last minute */}
	for _, c := range cases {
		if got := w.Next(c.in); !got.Equal(c.want) {
			t.Errorf("Next(%v) = %v, want %v", c.in, got, c.want)
		}
	}
	if got := w.NextDay(at(11, 10, 0)); !got.Equal(at(12, 8, 0)) {
		t.Errorf("NextDay = %v", got)
	}
	if d := w.Day(time.Date(2024, 3, 11, 18, 0, 0, 0, time.UTC)); d != "2024-03-12" {
		t.Errorf("Day = %s (01:00 next day in Jakarta)", d)
	}

	weekdays := &Window{Start: "09:00", End: "17:00", Days: []string{"Mon", "TUE", "wed", "thu", "fri"}}
	if err := weekdays.check("Asia/Jakarta"); err != nil {
		t.Fatal(err)
	}
	// Saturday 16 March 2024 → Monday 18 March, 09:00.
	if got := weekdays.Next(at(16, 12, 0)); !got.Equal(at(18, 9, 0)) {
		t.Errorf("weekend Next = %v", got)
	}

	night := &Window{Start: "20:00", End: "06:00", TimeZone: "UTC"}
	if err := night.check("UTC"); err != nil {
		t.Fatal(err)
	}
	u := func(h int) time.Time { return time.Date(2024, 3, 11, h, 0, 0, 0, time.UTC) }
	if !night.Contains(u(23)) || !night.Contains(u(3)) || night.Contains(u(12)) {
		t.Error("a window across midnight")
	}
	if got := night.Next(u(12)); !got.Equal(u(20)) {
		t.Errorf("night Next(12:00) = %v", got)
	}
}

func TestParseDuration(t *testing.T) {
	for in, want := range map[string]time.Duration{"2h": 2 * time.Hour, "90m": 90 * time.Minute, "1d": 24 * time.Hour, "1d12h": 36 * time.Hour, "0s": 0} {
		if got, err := ParseDuration(in); err != nil || got != want {
			t.Errorf("%s = %v, %v", in, got, err)
		}
	}
	for _, in := range []string{"", "soon", "-1h", "xd", "1d-2h"} {
		if _, err := ParseDuration(in); err == nil {
			t.Errorf("%q: want an error", in)
		}
	}
}
