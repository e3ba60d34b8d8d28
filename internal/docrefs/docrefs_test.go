package docrefs

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"
)

// generated are document names the repository mentions as outputs of its
// commands, not as documents to read.
var generated = []string{"bench-results.md"}

var (
	docName = regexp.MustCompile(`(?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-]+\.md\b`)
	// docSections matches `doc.md, "Section"` and lists of further sections
	// (`, "B" and "C"`).
	docSections = regexp.MustCompile(`((?:[A-Za-z0-9_.-]+/)*[A-Za-z0-9_-]+\.md),? ("[^"\n]+"(?:(?:,| and|, and) "[^"\n]+")*)`)
	quoted      = regexp.MustCompile(`"([^"\n]+)"`)
	// sectionNumber is a section cited by number, which stops meaning
	// anything the day the document is reorganised.
	sectionNumber = regexp.MustCompile(`\.md,? (?:§|section |sec\. ?)\d|\b[a-z]+ §\d|§ ?\d`)
	mdLink        = regexp.MustCompile(`\[[^\]\n]*\]\(([^)\s]+)\)`)
	heading       = regexp.MustCompile(`(?m)^#{1,6} +(.+?) *#*$`)
	// ticket is an issue-tracker key (ABC-123); SHA-256 is not one.
	ticket = regexp.MustCompile(`\b([A-Z][A-Z0-9]+)-[0-9]{2,}\b`)
	// goComment joins wrapped line comments so a citation may span lines.
	goComment = regexp.MustCompile(`\s*\n\s*// ?`)
	mdWrap    = regexp.MustCompile(`\s*\n\s*`)
)

var notTickets = []string{"SHA", "CRC", "UTF", "ISO", "RFC"}

// outside are fragments of paths outside the repository (built so that
// this file does not contain them).
var outside = []string{"/" + "work/", "../" + "shared", "design-" + "notes", "s3-" + "facts", "prior-" + "art"}

type file struct {
	path string // slash-separated, relative to the root
	text string // wrapped comments and paragraphs joined
	raw  string
}

func repoRoot(t *testing.T) string {
	t.Helper()
	dir, err := os.Getwd()
	if err != nil {
		t.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Fatal("no go.mod above the test directory")
		}
		dir = parent
	}
}

// sources returns every .go and .md file under root except this test.
func sources(t *testing.T, root string) []file {
	t.Helper()
	var out []file
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && p != root && strings.HasPrefix(d.Name(), ".") {
			return filepath.SkipDir
		}
		ext := filepath.Ext(p)
		if d.IsDir() || (ext != ".go" && ext != ".md") {
			return nil
		}
		rel, _ := filepath.Rel(root, p)
		rel = filepath.ToSlash(rel)
		if rel == "internal/docrefs/docrefs_test.go" {
			return nil
		}
		b, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		f := file{path: rel, raw: string(b)}
		if ext == ".go" {
			f.text = goComment.ReplaceAllString(f.raw, " ")
		} else {
			f.text = mdWrap.ReplaceAllString(f.raw, " ")
		}
		out = append(out, f)
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// resolve finds the document name cites from file at: relative to the
// citing file's directory (a markdown link, or a test opening
// ../../docs/x.md), or to the root.
func resolve(root, at, name string) (string, bool) {
	cands := []string{filepath.ToSlash(filepath.Join(filepath.Dir(at), name)), name}
	for _, c := range cands {
		if st, err := os.Stat(filepath.Join(root, filepath.FromSlash(c))); err == nil && !st.IsDir() {
			return filepath.ToSlash(filepath.Clean(c)), true
		}
	}
	return "", false
}

// headings returns the headings of a markdown document.
func headings(t *testing.T, root, doc string) []string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(root, filepath.FromSlash(doc)))
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	inFence := false
	for _, line := range strings.Split(string(b), "\n") {
		if strings.HasPrefix(line, "```") {
			inFence = !inFence
		}
		if m := heading.FindStringSubmatch(line); m != nil && !inFence {
			out = append(out, strings.ReplaceAll(m[1], "`", ""))
		}
	}
	return out
}

// slug is GitHub's anchor for a heading.
func slug(h string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(h) {
		switch {
		case r == ' ':
			b.WriteByte('-')
		case r == '-' || r == '_' || r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || r > 127:
			b.WriteRune(r)
		}
	}
	return b.String()
}

// problems checks one file and returns what is wrong with it.
func problems(t *testing.T, root string, f file) []string {
	var out []string
	bad := func(format string, args ...any) { out = append(out, f.path+": "+fmt.Sprintf(format, args...)) }
	for _, name := range docName.FindAllString(f.text, -1) {
		if slices.Contains(generated, filepath.Base(name)) {
			continue
		}
		if _, ok := resolve(root, f.path, name); !ok {
			bad("cites %s, which is not in the repository", name)
		}
	}
	if strings.HasSuffix(f.path, ".go") {
		for _, i := range regexp.MustCompile(`contract\.md`).FindAllStringIndex(f.text, -1) {
			if !strings.HasSuffix(f.text[:i[0]], "docs/") {
				bad("cites contract.md without its path (write docs/contract.md)")
			}
		}
	}
	for _, m := range sectionNumber.FindAllString(f.text, -1) {
		bad("cites a section by number (%q): cite it by name, as `doc.md, \"Section\"`", m)
	}
	for _, m := range docSections.FindAllStringSubmatch(f.text, -1) {
		doc, ok := resolve(root, f.path, m[1])
		if !ok {
			continue // reported above
		}
		hs := headings(t, root, doc)
		for _, q := range quoted.FindAllStringSubmatch(m[2], -1) {
			if !slices.ContainsFunc(hs, func(h string) bool { return strings.EqualFold(h, q[1]) }) {
				bad("cites section %q of %s, which has no such heading", q[1], doc)
			}
		}
	}
	if strings.HasSuffix(f.path, ".md") {
		for _, m := range mdLink.FindAllStringSubmatch(f.text, -1) {
			out = append(out, checkLink(t, root, f.path, m[1])...)
		}
	}
	for _, m := range ticket.FindAllStringSubmatch(f.text, -1) {
		if !slices.Contains(notTickets, m[1]) {
			bad("cites ticket %s, which is not in the repository", m[0])
		}
	}
	for _, o := range outside {
		if strings.Contains(f.raw, o) {
			bad("mentions %q, outside the repository", o)
		}
	}
	return out
}

// checkLink checks one markdown link target of file at.
func checkLink(t *testing.T, root, at, target string) []string {
	if strings.Contains(target, "://") || strings.HasPrefix(target, "mailto:") {
		return nil
	}
	path, anchor, _ := strings.Cut(target, "#")
	doc := at
	if path != "" {
		doc = filepath.ToSlash(filepath.Join(filepath.Dir(at), path))
		if _, err := os.Stat(filepath.Join(root, filepath.FromSlash(doc))); err != nil {
			return []string{fmt.Sprintf("%s: link %s: %s is not in the repository", at, target, doc)}
		}
	}
	if anchor == "" || !strings.HasSuffix(doc, ".md") {
		return nil
	}
	if !slices.ContainsFunc(headings(t, root, doc), func(h string) bool { return slug(h) == anchor }) {
		return []string{fmt.Sprintf("%s: link %s: %s has no heading with anchor #%s", at, target, doc, anchor)}
	}
	return nil
}

func TestDocumentReferencesResolve(t *testing.T) {
	root := repoRoot(t)
	files := sources(t, root)
	if len(files) < 50 {
		t.Fatalf("found only %d .go and .md files under %s", len(files), root)
	}
	for _, f := range files {
		for _, p := range problems(t, root, f) {
			t.Error(p)
		}
	}
}

// TestCheckerCatches shows that each rule fails on what it is meant to
// catch.
func TestCheckerCatches(t *testing.T) {
	root := repoRoot(t)
	cases := []struct{ path, text string }{
		{"x/a.go", "// see contract" + ".md section 3"},
		{"x/a.go", "// see docs/contract" + ".md, \"No such section\""},
		{"x/a.go", "// see docs/contract" + ".md, \"Owner death\" and \"Nope\""},
		{"x/a.go", "// see missing" + ".md"},
		{"x/a.go", "// clock (FIG" + "-1259)"},
		{"docs/a.md", "[x](contract" + ".md#no-such-anchor)"},
		{"docs/a.md", "[x](../nowhere" + ".md)"},
		{"README.md", "see `contract" + ".md`"},
		{"x/a.go", "// from " + outside[0] + "x"},
	}
	for _, c := range cases {
		f := file{path: c.path, raw: c.text, text: c.text}
		if len(problems(t, root, f)) == 0 {
			t.Errorf("%s: %q passed the check", c.path, c.text)
		}
	}
	good := []struct{ path, text string }{
		{"x/a.go", "// see docs/contract" + ".md, \"Owner death\"; SHA-256"},
		{"x/a.go", "// see docs/contract" + ".md, \"Session\n// commit store\""},
		{"docs/a.md", "[x](contract" + ".md#owner-death), [y](protocol" + ".md#sweeping)"},
	}
	for _, c := range good {
		text := goComment.ReplaceAllString(c.text, " ")
		if p := problems(t, root, file{path: c.path, raw: c.text, text: text}); len(p) != 0 {
			t.Errorf("%s: %q: %v", c.path, c.text, p)
		}
	}
}
