package inbox

// HoldCommitters occupies every committer of b, so that the next batch fills until it is full or its
// wait ends; release frees them.
func (b *Batcher) HoldCommitters() (release func()) {
	for range b.opts.Committers {
		b.slots <- struct{}{}
	}
	return func() {
		for range b.opts.Committers {
			<-b.slots
		}
	}
}

// Kept says how many callbacks, and how many body bytes, r keeps of what its receivers read.
func (r *Relay[T]) Kept() (entries, bytes int) { return r.kept.len() }
