package bench

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText prints a result as an aligned table.
func WriteText(w io.Writer, r *Result) error {
	fmt.Fprintf(w, "store %s (%s), baseline %s\n", r.Store, r.Provider, r.Baseline)
	tw := tabwriter.NewWriter(w, 2, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "FIGURE\tSTOWAGE\tBASELINE\tRATIO\tTARGET\t\tBOUND\tBASELINE OP")
	for _, f := range r.Figures {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%.3f\t%s\t%s\t%s\t%s\n", f.Name, value(f.Stowage, f.Unit), value(f.Baseline, f.Unit),
			f.Ratio, target(f), verdict(f), bound(f), f.BaselineOp)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	for _, f := range r.Figures {
		if f.Note != "" {
			fmt.Fprintf(w, "  %s: %s%s\n", f.Name, f.Note, boundNote(f))
		}
	}
	return nil
}

// bound is f's Bound for a table cell ("-" when not measured).
func bound(f Figure) string {
	if f.Bound == 0 {
		return "-"
	}
	return fmt.Sprintf("%.3f", f.Bound)
}

// boundNote describes f's Bound after its note ("" when not measured).
func boundNote(f Figure) string {
	if f.Bound == 0 {
		return ""
	}
	return fmt.Sprintf("; bound %.2f: %s", f.Bound, f.BoundOp)
}

// WriteMarkdown prints results as one Markdown table, a column group per
// store.
func WriteMarkdown(w io.Writer, rs []*Result) error {
	if len(rs) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("| figure | target |")
	sep := "|---|---|"
	for _, r := range rs {
		fmt.Fprintf(&b, " %s: stowage | baseline | ratio |", r.Provider)
		sep += "--:|--:|--:|"
	}
	b.WriteString("\n" + sep + "\n")
	for _, name := range Figures() {
		var row strings.Builder
		found := false
		for _, r := range rs {
			f, ok := r.figure(name)
			if !ok {
				row.WriteString(" - | - | - |")
				continue
			}
			if !found {
				fmt.Fprintf(&b, "| `%s` (%s) | %s |", name, f.Unit, target(f))
				found = true
			}
			mark := ""
			if !f.Met {
				mark = " **missed**"
			}
			fmt.Fprintf(&row, " %s | %s | %.2f%s |", num(f.Stowage), num(f.Baseline), f.Ratio, mark)
		}
		if found {
			b.WriteString(row.String() + "\n")
		}
	}
	b.WriteString("\n")
	for _, r := range rs {
		fmt.Fprintf(&b, "%s (`%s`, baseline %s):\n\n", r.Provider, r.Store, r.Baseline)
		for _, f := range r.Figures {
			fmt.Fprintf(&b, "- `%s`: %s vs %s (%s). %s%s\n", f.Name, value(f.Stowage, f.Unit), value(f.Baseline, f.Unit), f.BaselineOp, f.Note, boundNote(f))
		}
		b.WriteString("\n")
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func (r *Result) figure(name string) (Figure, bool) {
	for _, f := range r.Figures {
		if f.Name == name {
			return f, true
		}
	}
	return Figure{}, false
}

func target(f Figure) string {
	switch f.Check {
	case RatioAtMost:
		return fmt.Sprintf("ratio <= %g", f.Target)
	case RatioAtLeast:
		return fmt.Sprintf("ratio >= %g", f.Target)
	}
	return fmt.Sprintf("<= %g %s", f.Target, f.Unit)
}

func verdict(f Figure) string {
	if f.Met {
		return "met"
	}
	return "MISSED"
}

func value(v float64, unit string) string { return num(v) + " " + unit }

func num(v float64) string {
	switch {
	case v >= 100:
		return fmt.Sprintf("%.0f", v)
	case v >= 10:
		return fmt.Sprintf("%.1f", v)
	}
	return fmt.Sprintf("%.2f", v)
}
