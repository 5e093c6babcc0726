package store

// HoldCommitters occupies every committer of b, so that the next batch fills until it is full or its
// wait ends; release frees them.
func (b *InboxBatcher) HoldCommitters() (release func()) {
	for range b.opts.Committers {
		b.slots <- struct{}{}
	}
	return func() {
		for range b.opts.Committers {
			<-b.slots
		}
	}
}
