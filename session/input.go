package session

import (
	"encoding/json"
	"fmt"

	"github.com/stowage-dev/stowage/internal/codec"
)

// The caller's JSON (docs/contract.md, "Conventions"). Every
// json.RawMessage a caller hands in (node events and bodies, agent frames,
// checkpoint turn state, queued work and turn input payloads) is checked
// once, before any I/O, with the decoder's own validator: one that is not
// a JSON value is ErrInvalidCommit, whatever path the value would take.
// The store then keeps the value in the text the head's JSON encoder
// writes (canonicalJSON), so a node reads back the same bytes whether its
// commit put it in the head or in a segment.

// checkJSON refuses raw, the caller's what, if it is not one JSON value.
// Empty is none.
func checkJSON(what string, raw json.RawMessage) error {
	if len(raw) == 0 || codec.ValidJSON(raw) {
		return nil
	}
	return fmt.Errorf("%w: %s is not valid JSON (%d bytes): pass one JSON value, or none", ErrInvalidCommit, what, len(raw))
}

// checkCommitJSON is checkJSON for every JSON value of c.
func checkCommitJSON(c *RuntimeCommit) error {
	for i := range c.Graph.Nodes {
		n := &c.Graph.Nodes[i]
		if err := checkJSON(fmt.Sprintf("the event of node %.64q", n.NodeID), n.Event); err != nil {
			return err
		}
		if err := checkJSON(fmt.Sprintf("the body of node %.64q", n.NodeID), n.Body); err != nil {
			return err
		}
	}
	if err := checkJSON("AgentFrames", c.AgentFrames); err != nil {
		return err
	}
	if cp := c.Checkpoint; cp != nil {
		ts := cp.TurnState
		for what, raw := range map[string]json.RawMessage{"checkpoint TokenUsage": ts.TokenUsage,
			"checkpoint LastPromptUsage": ts.LastPromptUsage, "checkpoint ProtocolTurnOptions": ts.ProtocolTurnOptions} {
			if err := checkJSON(what, raw); err != nil {
				return err
			}
		}
	}
	return nil // the outbox's payloads: checkDraft
}

// ownJSON returns a copy of raw, a valid JSON value (checkJSON), in its
// canonical text; nil stays nil.
func ownJSON(raw json.RawMessage) json.RawMessage {
	if raw == nil {
		return nil
	}
	return appendCanonicalJSON(make([]byte, 0, len(raw)), raw)
}

// jsonSpecial marks the bytes appendCanonicalJSON looks at; it copies
// every other byte as it is.
var jsonSpecial = func() (t [256]bool) {
	for _, c := range []byte(" \t\n\r\"\\<>&\xe2") {
		t[c] = true
	}
	return t
}()

// appendCanonicalJSON appends src, a valid JSON value, to dst as the
// head's JSON encoder writes a json.RawMessage: whitespace outside strings
// removed, and in strings <, > and & written \u003c, \u003e and \u0026,
// U+2028 and U+2029 written \u2028 and \u2029. Everything else (numbers
// of any size, escapes, string bytes that are not UTF-8) is kept as it is.
// The encoder leaves its result unchanged (TestCanonicalJSONIsTheEncoders),
// so a value reads back the same from a head and from a segment.
func appendCanonicalJSON(dst, src []byte) []byte {
	in, from := false, 0
	for i := 0; i < len(src); i++ {
		c, rep, skip := src[i], "", 0
		if !jsonSpecial[c] {
			continue
		}
		switch {
		case !in && (c == ' ' || c == '\t' || c == '\n' || c == '\r'):
		case c == '"':
			in = !in
			continue
		case !in:
			continue
		case c == '\\':
			i++ // the escaped byte (a quote does not end the string)
			continue
		case c == '<':
			rep = `\u003c`
		case c == '>':
			rep = `\u003e`
		case c == '&':
			rep = `\u0026`
		case c == 0xe2 && i+2 < len(src) && src[i+1] == 0x80 && (src[i+2] == 0xa8 || src[i+2] == 0xa9):
			rep, skip = `\u2028`, 2
			if src[i+2] == 0xa9 {
				rep = `\u2029`
			}
		default:
			continue
		}
		dst = append(append(dst, src[from:i]...), rep...)
		i += skip
		from = i + 1
	}
	return append(dst, src[from:]...)
}
