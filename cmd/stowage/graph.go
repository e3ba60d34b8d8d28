package main

import (
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/session"
)

func (e *env) inspectGraph(ctx context.Context, st *stowage.Store, args []string, f *inspectFlags) error {
	sid, err := oneSession(args)
	if err != nil {
		return err
	}
	h, err := st.Session(sid)
	if err != nil {
		return err
	}
	scope := session.FullGraph()
	if f.active || f.leaf != "" {
		scope = session.ActivePath(f.leaf)
	}
	read, err := h.LoadSession(ctx, scope)
	if err != nil {
		return err
	}
	if read == nil {
		return fmt.Errorf("session %s: %w", sid, errNoSession)
	}
	if f.leaf != "" && !hasNode(read.Graph, f.leaf) {
		return usageError{fmt.Sprintf("--leaf %s: no such node in session %s", f.leaf, sid)}
	}
	switch {
	case f.json:
		return e.writeJSON(read.Graph)
	case f.dot:
		return writeDOT(e.stdout, sid, read.Graph)
	}
	fmt.Fprintf(e.stdout, "session %s, revision %d, %d nodes, leaf %s\n", sid, read.HeadRevision, len(read.Graph.Nodes), dash(read.Graph.LeafNodeID))
	return writeTree(e.stdout, read.Graph)
}

// hasNode reports whether the graph holds the node id.
func hasNode(g session.Graph, id string) bool {
	for _, n := range g.Nodes {
		if n.NodeID == id {
			return true
		}
	}
	return false
}

// children maps each node to its children in graph order; roots are the
// nodes whose parent is not in the graph.
func children(g session.Graph) (roots []int, kids map[string][]int) {
	present := make(map[string]bool, len(g.Nodes))
	for _, n := range g.Nodes {
		present[n.NodeID] = true
	}
	kids = map[string][]int{}
	for i, n := range g.Nodes {
		if n.ParentNodeID == "" || !present[n.ParentNodeID] {
			roots = append(roots, i)
			continue
		}
		kids[n.ParentNodeID] = append(kids[n.ParentNodeID], i)
	}
	return roots, kids
}

// writeTree prints the graph as a tree. A chain of only children stays at
// one depth, so a long conversation does not drift right; each branch is
// drawn one level deeper.
func writeTree(w io.Writer, g session.Graph) error {
	roots, kids := children(g)
	var walk func(i int, indent string)
	walk = func(i int, indent string) {
		for {
			n := g.Nodes[i]
			mark := " "
			if n.NodeID == g.LeafNodeID {
				mark = "*"
			}
			fmt.Fprintf(w, "%s%s %s\n", indent, mark, label(n))
			next := kids[n.NodeID]
			switch len(next) {
			case 0:
				return
			case 1:
				i = next[0]
				continue
			}
			for j, c := range next {
				branch, more := "├─", "│ "
				if j == len(next)-1 {
					branch, more = "└─", "  "
				}
				fmt.Fprintf(w, "%s  %s\n", indent, branch)
				walk(c, indent+"  "+more)
			}
			return
		}
	}
	for _, r := range roots {
		walk(r, "")
	}
	return nil
}

// writeDOT prints the graph in Graphviz DOT; the leaf is drawn bold.
func writeDOT(w io.Writer, sid string, g session.Graph) error {
	fmt.Fprintf(w, "digraph %s {\n  node [shape=box, fontname=\"monospace\"];\n", strconv.Quote(sid))
	for _, n := range g.Nodes {
		attrs := ""
		if n.NodeID == g.LeafNodeID {
			attrs = ", style=bold"
		}
		fmt.Fprintf(w, "  %s [label=%s%s];\n", strconv.Quote(n.NodeID), strconv.Quote(label(n)), attrs)
	}
	_, kids := children(g)
	for _, n := range g.Nodes {
		for _, c := range kids[n.NodeID] {
			fmt.Fprintf(w, "  %s -> %s;\n", strconv.Quote(n.NodeID), strconv.Quote(g.Nodes[c].NodeID))
		}
	}
	_, err := fmt.Fprintln(w, "}")
	return err
}

// label is a node's one-line description: id, kind and the start of its
// payload.
func label(n session.NodeRecord) string {
	var body string
	switch n.Kind {
	case session.PayloadPlugin:
		body = n.PluginType + " " + string(n.Body)
	default:
		body = string(n.Event)
	}
	body = strings.Join(strings.Fields(body), " ")
	if len(body) > 60 {
		body = strings.ToValidUTF8(body[:57], "") + "..."
	}
	return fmt.Sprintf("%s [%s] %s", n.NodeID, n.Kind, body)
}
