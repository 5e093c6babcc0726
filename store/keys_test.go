package store_test

import (
	"bytes"
	"context"
	"sync"
	"testing"

	"github.com/rudderhook/rudderhook/store"
	"github.com/rudderhook/rudderhook/store/storetest"
)

// Every process that shares a database gets the same installation key, made once, even when they all
// start together: workflow IDs hashed with it are the same on every replica and after every restart.
func TestInstallationKeyIsMadeOnceAndShared(t *testing.T) {
	t.Parallel()
	url := storetest.URL(t)
	ctx := context.Background()
	keys := make([][]byte, 8)
	var wg sync.WaitGroup
	for i := range keys {
		wg.Go(func() {
			db, err := store.Open(ctx, url) // a process of its own
			if err != nil {
				t.Error(err)
				return
			}
			defer db.Close()
			if keys[i], err = store.New(db).InstallationKey(ctx, store.KeyNumberIDs); err != nil {
				t.Error(err)
			}
		})
	}
	wg.Wait()
	for i, k := range keys {
		if len(k) != 32 || !bytes.Equal(k, keys[0]) {
			t.Fatalf("process %d got key %x, process 0 %x; want one 32-byte key", i, k, keys[0])
		}
	}
	db, err := store.Open(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s := store.New(db)
	if again, err := s.InstallationKey(ctx, store.KeyNumberIDs); err != nil || !bytes.Equal(again, keys[0]) {
		t.Errorf("after a restart: %x, %v; want the same key", again, err)
	}
	if other, err := s.InstallationKey(ctx, "another-purpose"); err != nil || bytes.Equal(other, keys[0]) {
		t.Errorf("another purpose got %x, %v; want a key of its own", other, err)
	}
}
