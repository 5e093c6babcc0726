package main

import (
	"bytes"
	"log/slog"
	"strings"
	"testing"

	"github.com/rudderhook/rudderhook/config"
)

// serve, worker and dev warn at start when redial times will be read as UTC only because no zone is
// configured, and say nothing once AIRUDDER_TIME_ZONE (or the source's redial_time_zone) is set.
func TestRedialZoneWarnsWhenNoneIsSet(t *testing.T) {
	for _, tc := range []struct {
		environ []string
		warns   bool
	}{
		{nil, true},
		{[]string{"AIRUDDER_TIME_ZONE=Asia/Jakarta"}, false},
		{[]string{"RUDDERHOOK_SOURCE_AIRUDDER_REDIAL_TZ=Asia/Jakarta"}, false},
	} {
		cfg, err := config.Load(append([]string{"RUDDERHOOK_SOURCE_AIRUDDER_KEYS=k"}, tc.environ...), "")
		if err != nil {
			t.Fatal(err)
		}
		var out bytes.Buffer
		warnRedialZone(cfg, slog.New(slog.NewTextHandler(&out, nil)))
		if warned := strings.Contains(out.String(), "AIRUDDER_TIME_ZONE") && strings.Contains(out.String(), "airudder"); warned != tc.warns {
			t.Errorf("%v: logged %q, want a warning: %t", tc.environ, out.String(), tc.warns)
		}
	}
}
