package gc

import (
	"context"
	"iter"
)

// SessionLister lists the sessions that may hold manifest rows;
// *manifest.Store implements it. With it, a sweep that forgets dead rows
// through the head fence also reaches sessions that have rows but no
// session objects.
type SessionLister interface {
	// SessionIDs yields session ids in ascending order of "<sid>/".
	SessionIDs(ctx context.Context) iter.Seq2[string, error]
}

// sessionRef is a session to sweep; objects says whether it has keys under
// sessions/.
type sessionRef struct {
	id      string
	objects bool
}

// mergeSessions merges two listings of session ids, each in ascending order
// of "<sid>/" (the order of a delimited listing), into one, each id once:
// those of withObjects marked as having objects. rowsOnly may be nil. Were
// a backend to list in another order, a session would only be visited twice
// (once for its rows alone), never skipped.
func mergeSessions(withObjects, rowsOnly iter.Seq2[string, error]) iter.Seq2[sessionRef, error] {
	return func(yield func(sessionRef, error) bool) {
		nextA, stopA := iter.Pull2(withObjects)
		defer stopA()
		nextB := func() (string, error, bool) { return "", nil, false }
		if rowsOnly != nil {
			var stopB func()
			nextB, stopB = iter.Pull2(rowsOnly)
			defer stopB()
		}
		a, errA, okA := nextA()
		b, errB, okB := nextB()
		for okA || okB {
			if okA && errA != nil {
				yield(sessionRef{}, errA)
				return
			}
			if okB && errB != nil {
				yield(sessionRef{}, errB)
				return
			}
			var s sessionRef
			switch {
			case okA && (!okB || a+"/" <= b+"/"):
				s = sessionRef{id: a, objects: true}
				if okB && a == b {
					b, errB, okB = nextB()
				}
				a, errA, okA = nextA()
			default:
				s = sessionRef{id: b}
				b, errB, okB = nextB()
			}
			if !yield(s, nil) {
				return
			}
		}
	}
}
