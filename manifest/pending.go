package manifest

import "sync"

// pendingStamps counts the commit stamps a Store's caller runs after
// returning the commit (BeginStamps), per session, so that the Store's own
// reads of rows wait for them: a process reads its own commits' stamps.
type pendingStamps struct {
	mu   sync.Mutex
	cond *sync.Cond
	n    map[string]int
	all  int
}

func newPendingStamps() *pendingStamps {
	p := &pendingStamps{n: map[string]int{}}
	p.cond = sync.NewCond(&p.mu)
	return p
}

// begin counts a stamp of sessionID in flight until the returned func is
// called (once).
func (p *pendingStamps) begin(sessionID string) func() {
	p.mu.Lock()
	p.n[sessionID]++
	p.all++
	p.mu.Unlock()
	var once sync.Once
	return func() {
		once.Do(func() {
			p.mu.Lock()
			if p.n[sessionID]--; p.n[sessionID] == 0 {
				delete(p.n, sessionID)
			}
			p.all--
			p.mu.Unlock()
			p.cond.Broadcast()
		})
	}
}

// wait returns once no stamp of sessionID ("": of any session) is in
// flight. Stamps are bounded by their caller's timeout, so waits are too.
func (p *pendingStamps) wait(sessionID string) {
	p.mu.Lock()
	defer p.mu.Unlock()
	for sessionID == "" && p.all > 0 || sessionID != "" && p.n[sessionID] > 0 {
		p.cond.Wait()
	}
}

// BeginStamps tells the Store that its caller stamps rows of sessionID
// after returning a commit (FinishCommit, run in the background) and
// returns the func to call once that FinishCommit returned. Until then the
// Store's reads of the session's rows (Row, HoldsRef, SessionRows and what
// uses them, Forget, ForgetSession) and its store-wide reads and scans
// (ListUncommitted, AllRefs, HasLiveRef, ForgetAgedUncommitted) wait for
// it, so a process reads the stamps of the commits it returned. Other
// processes may read such a row uncommitted meanwhile, as after a crash
// between a commit and its stamp: the published head is the source of
// truth, and the sweeper repairs from it (docs/protocol.md, "Dead intents
// (W2)").
func (s *Store) BeginStamps(sessionID string) (done func()) { return s.pending.begin(sessionID) }

// WaitStamps waits for every stamp begun with BeginStamps.
func (s *Store) WaitStamps() { s.pending.wait("") }
