package inbox

import (
	"testing"
	"time"
)

// What a relay keeps of what its receivers read is bounded by count, by bytes and by age, the oldest
// going first; a callback larger than the whole bound is never kept.
func TestKeptIsBounded(t *testing.T) {
	now := time.Unix(1_700_000_000, 0)
	k := newKept[string](KeptOptions{MaxEntries: 3, MaxBytes: 100, MaxAge: time.Minute})
	k.now = func() time.Time { return now }
	has := func(ids ...int64) {
		t.Helper()
		want := map[int64]bool{}
		for _, id := range ids {
			want[id] = true
		}
		for id := int64(1); id <= 10; id++ {
			if _, ok := k.get(id); ok != want[id] {
				t.Errorf("entry %d kept: %v, want %v", id, ok, want[id])
			}
		}
	}
	for id := int64(1); id <= 4; id++ {
		k.put(id, "v", 10)
	}
	has(2, 3, 4) // by count
	k.put(5, "v", 75)
	has(3, 4, 5) // by bytes: 10 + 10 + 10 + 75 > 100 drops the oldest
	if n, b := k.len(); n != 3 || b != 95 {
		t.Errorf("len = %d, %d bytes; want 3, 95", n, b)
	}
	k.put(6, "v", 101)
	has(3, 4, 5) // larger than the bound: not kept, and nothing evicted for it
	k.forget(4)
	has(3, 5)
	now = now.Add(30 * time.Second)
	k.put(7, "v", 1)
	now = now.Add(31 * time.Second)
	k.expire()
	has(7) // 3 and 5 are older than a minute
	if n, b := k.len(); n != 1 || b != 1 {
		t.Errorf("len = %d, %d bytes; want 1, 1", n, b)
	}
}
