package devserver

import (
	"context"
	"log/slog"
	"sync/atomic"

	"go.temporal.io/server/common/log"
	"go.temporal.io/server/common/log/tag"
)

// slogLogger lets the embedded server log through rudderhook's slog logger, at min level and above: the
// server is chatty, and on a laptop only its warnings matter.
type slogLogger struct {
	l   *slog.Logger
	min slog.Level
	// stopping silences the warnings and errors ("context canceled", "task queue shutting down") that
	// every service logs while its peers shut down around it.
	stopping *atomic.Bool
}

func newLogger(l *slog.Logger, min slog.Level, stopping *atomic.Bool) log.Logger {
	return &slogLogger{l: l, min: min, stopping: stopping}
}

func (s *slogLogger) log(level slog.Level, msg string, tags []tag.Tag) {
	if level < s.min || s.stopping.Load() || !s.l.Enabled(context.Background(), level) {
		return
	}
	attrs := make([]any, 0, 2*len(tags))
	for _, t := range tags {
		attrs = append(attrs, t.Key(), t.Value())
	}
	s.l.Log(context.Background(), level, msg, attrs...)
}

func (s *slogLogger) Debug(msg string, tags ...tag.Tag)  { s.log(slog.LevelDebug, msg, tags) }
func (s *slogLogger) Info(msg string, tags ...tag.Tag)   { s.log(slog.LevelInfo, msg, tags) }
func (s *slogLogger) Warn(msg string, tags ...tag.Tag)   { s.log(slog.LevelWarn, msg, tags) }
func (s *slogLogger) Error(msg string, tags ...tag.Tag)  { s.log(slog.LevelError, msg, tags) }
func (s *slogLogger) DPanic(msg string, tags ...tag.Tag) { s.log(slog.LevelError, msg, tags) }
func (s *slogLogger) Panic(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(msg)
}
func (s *slogLogger) Fatal(msg string, tags ...tag.Tag) {
	s.log(slog.LevelError, msg, tags)
	panic(fatalError(msg))
}

// fatalError is what the server's Fatal panics with, so that Start can tell it from other panics.
type fatalError string

func (e fatalError) Error() string { return "Temporal server: " + string(e) }
