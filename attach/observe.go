package attach

import "github.com/stowage-dev/stowage/observe"

// endPut ends a Put's operation: the attachment and its size if it was
// stored, and the outcome.
func endPut(op observe.Op, ref Ref, err error) {
	if err == nil {
		op.Attachment(ref.ID, ref.Size)
	}
	op.End(err)
}

// failGet ends a Get's operation that failed before its body was opened
// and returns err.
func failGet(op observe.Op, err error) error {
	op.End(err)
	return err
}
