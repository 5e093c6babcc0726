package inbox

import (
	"context"
	"errors"
	"log/slog"
	"time"

	"github.com/lib/pq"

	"github.com/rudderhook/rudderhook/store"
)

// Listen wakes the relay: the returned channel receives whenever a commit to the inbox is notified
// (store.InboxChannel), and also when the listening connection is (re)established, since notifications
// sent while it was down are lost. Several notifications while the relay is busy come as one. It stops
// when ctx ends; polling stays the relay's fallback, so a listener that cannot connect only makes the
// relay slower.
func Listen(ctx context.Context, dsn string, log *slog.Logger) <-chan struct{} {
	wake := make(chan struct{}, 1)
	poke := func() {
		select {
		case wake <- struct{}{}:
		default:
		}
	}
	l := pq.NewListener(dsn, 100*time.Millisecond, 10*time.Second, func(ev pq.ListenerEventType, err error) {
		switch ev {
		case pq.ListenerEventConnected, pq.ListenerEventReconnected:
			poke()
		case pq.ListenerEventConnectionAttemptFailed, pq.ListenerEventDisconnected:
			log.Warn("inbox listener disconnected; the relay polls until it is back", "error", err)
		}
	})
	go func() {
		defer l.Close()
		// Listen blocks until the listener has a connection: here, so that a database down at start
		// delays the notifications, not the start.
		if err := l.Listen(store.InboxChannel); err != nil && !errors.Is(err, pq.ErrChannelAlreadyOpen) {
			log.Warn("cannot LISTEN for inbox notifications; the relay polls instead", "error", err)
		}
		ping := time.NewTicker(time.Minute)
		defer ping.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-l.Notify:
				poke() // a nil notification means a reconnect: poke too
			case <-ping.C:
				_ = l.Ping()
			}
		}
	}()
	return wake
}
