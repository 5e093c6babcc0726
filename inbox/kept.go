package inbox

import (
	"container/list"
	"sync"
	"time"
)

// KeptOptions bound what a relay keeps in memory of what its process's receivers read.
type KeptOptions struct {
	// MaxEntries is the most callbacks kept (default 4096).
	MaxEntries int
	// MaxBytes is the most body bytes kept (default 32 MiB), counted by the size of each body as the inbox
	// keeps it. What a read callback holds is about as much again: its raw pieces point into the body it
	// was read from, beside the typed fields.
	MaxBytes int
	// MaxAge is how long a callback is kept for its relay (default a minute): one that waits longer (the
	// relay is behind, or Temporal is down) is read again from its entry when its turn comes.
	MaxAge time.Duration
}

func (o KeptOptions) withDefaults() KeptOptions {
	o.MaxEntries = positiveOr(o.MaxEntries, 4096)
	o.MaxBytes = positiveOr(o.MaxBytes, 32<<20)
	o.MaxAge = positiveOr(o.MaxAge, time.Minute)
	return o
}

// kept is what the receivers of this process read of the callbacks they committed to the inbox, by entry
// ID, oldest first, bounded by KeptOptions: the relay of the same process starts an entry from it instead
// of reading its body again. Whatever it lacks (evicted, kept by another process, or before a restart)
// the relay reads from the entry.
type kept[T any] struct {
	opts  KeptOptions
	now   func() time.Time
	mu    sync.Mutex
	byID  map[int64]*list.Element
	order *list.List // of *keptEntry[T], oldest first
	bytes int
}

type keptEntry[T any] struct {
	id    int64
	v     T
	size  int
	since time.Time
}

func newKept[T any](opts KeptOptions) *kept[T] {
	return &kept[T]{opts: opts.withDefaults(), now: time.Now, byID: map[int64]*list.Element{}, order: list.New()}
}

// put keeps v, of size body bytes, for entry id, making room by evicting the oldest entries.
func (k *kept[T]) put(id int64, v T, size int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if size > k.opts.MaxBytes {
		return // never held: it would evict everything else and still not fit
	}
	if el, ok := k.byID[id]; ok {
		k.remove(el)
	}
	k.byID[id] = k.order.PushBack(&keptEntry[T]{id: id, v: v, size: size, since: k.now()})
	k.bytes += size
	for k.order.Len() > k.opts.MaxEntries || k.bytes > k.opts.MaxBytes {
		k.remove(k.order.Front())
	}
	k.expireLocked()
}

// get returns what is kept for entry id.
func (k *kept[T]) get(id int64) (T, bool) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.byID[id]; ok {
		return el.Value.(*keptEntry[T]).v, true
	}
	var zero T
	return zero, false
}

// forget drops entry id: it was handed over, or became a dead letter.
func (k *kept[T]) forget(id int64) {
	k.mu.Lock()
	defer k.mu.Unlock()
	if el, ok := k.byID[id]; ok {
		k.remove(el)
	}
}

// expire drops the entries kept longer than MaxAge.
func (k *kept[T]) expire() {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.expireLocked()
}

func (k *kept[T]) expireLocked() {
	cutoff := k.now().Add(-k.opts.MaxAge)
	for el := k.order.Front(); el != nil && el.Value.(*keptEntry[T]).since.Before(cutoff); el = k.order.Front() {
		k.remove(el)
	}
}

func (k *kept[T]) remove(el *list.Element) {
	e := k.order.Remove(el).(*keptEntry[T])
	delete(k.byID, e.id)
	k.bytes -= e.size
}

// len says how many entries and body bytes are kept.
func (k *kept[T]) len() (entries, bytes int) {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.order.Len(), k.bytes
}
