package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/openurl"
)

const attachUsage = `Usage: stowage attach --store URL --session SESSION <action> [flags]

Direct transfer (docs/attachments.md): a client sends or fetches an
attachment's bytes straight to or from the bucket through presigned
requests; this process moves none of them.

  grant-put --sha256 HEX --size N [--media-type T] [--label L] [--expires D]
            [--multipart-threshold N] [--part-size N]
                 record the upload intent and print the grant (JSON): the
                 presigned PUT, or the parts of a multipart upload
  seal [GRANT.json|-]
                 verify the bytes the client sent through a grant (read from
                 the file, or stdin) and record the session's ref; prints
                 the ref (JSON, as inspect refs --json: id, size,
                 media_type, label, metadata; committed_at once committed)
  grant-get --id HEX [--filename NAME] [--expires D]
                 print a presigned GET (JSON) of an attachment the session
                 holds a committed ref to
  curl GRANT.json FILE
                 print the curl commands that send FILE through a grant, as a
                 client would (for trying it by hand: ... | sh)
`

// attachFlags are the flags of every attach action.
type attachFlags struct {
	session, sha256, mediaType, label, id, filename string
	size, threshold, partSize                       int64
	expires                                         time.Duration
}

func runAttach(ctx context.Context, e *env, args []string) int {
	fs := e.newFlags("attach", attachUsage)
	store := e.storeFlag(fs)
	var f attachFlags
	fs.StringVar(&f.session, "session", "", "the session `ID`")
	fs.StringVar(&f.sha256, "sha256", "", "grant-put: the SHA-256 (`HEX`) the bytes must hash to")
	fs.Int64Var(&f.size, "size", -1, "grant-put: the exact size in `BYTES`")
	fs.StringVar(&f.mediaType, "media-type", "", "grant-put: the attachment's media `TYPE`")
	fs.StringVar(&f.label, "label", "", "grant-put: a `LABEL` for the ref")
	fs.Int64Var(&f.threshold, "multipart-threshold", 0, "grant-put: above this many `BYTES`, a multipart upload (0: 64 MiB)")
	fs.Int64Var(&f.partSize, "part-size", 0, "grant-put: multipart part size in `BYTES` (0: 16 MiB)")
	fs.StringVar(&f.id, "id", "", "grant-get: the attachment `ID` (SHA-256 hex)")
	fs.StringVar(&f.filename, "filename", "", "grant-get: the download file `NAME`")
	fs.DurationVar(&f.expires, "expires", attach.DefaultGrantExpiry, "how long the presigned requests are valid")
	if code, ok := e.parse(fs, args); !ok {
		return code
	}
	rest := fs.Args()
	if len(rest) > 0 && rest[0] == "curl" {
		return e.curl(rest[1:]) // opens no store
	}
	switch {
	case *store == "":
		return e.usageErr("attach", "--store (or STOWAGE_STORE) is required")
	case f.session == "":
		return e.usageErr("attach", "--session is required")
	case len(rest) == 0:
		fs.Usage()
		return exitUsage
	}
	action, rest := rest[0], rest[1:]
	do := map[string]func(context.Context, *attach.Store, []string, *attachFlags) (any, error){
		"grant-put": grantPut,
		"seal":      seal,
		"grant-get": grantGet,
	}[action]
	if do == nil {
		return e.usageErr("attach", "unknown action %q (want grant-put, seal, grant-get or curl)", action)
	}
	// Every action presigns: a store that cannot is refused before
	// anything is created (a file store's directory, its marker).
	if err := e.canPresign(ctx, *store); err != nil {
		return e.fail("attach "+action, err)
	}
	st, err := e.open(ctx, *store, e.quietLogger(), false)
	if err != nil {
		return e.fail("attach", err)
	}
	defer st.Close()
	a, err := attach.New(st.Manifest(), f.session, nil)
	if err != nil {
		return e.fail("attach", err)
	}
	out, err := do(ctx, a, rest, &f)
	if err != nil {
		if ue, ok := err.(usageError); ok {
			return e.usageErr("attach "+action, "%s", ue.msg)
		}
		return e.fail("attach "+action, err)
	}
	enc := json.NewEncoder(e.stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(out); err != nil {
		return e.fail("attach "+action, err)
	}
	return exitOK
}

// canPresign opens the object store at url read-only and unprobed (no
// request, nothing created) and returns attach.ErrNoPresign unless it
// presigns requests.
func (e *env) canPresign(ctx context.Context, url string) error {
	objs, err := openurl.Open(ctx, url, &openurl.Options{ReadOnly: true, SkipProbe: true, Getenv: e.getenv, Logger: e.quietLogger()})
	if err != nil {
		return err
	}
	defer objs.Close()
	if _, ok := objstore.FindPresigner(objs); !ok {
		return attach.ErrNoPresign
	}
	return nil
}

func grantPut(ctx context.Context, a *attach.Store, args []string, f *attachFlags) (any, error) {
	switch {
	case len(args) > 0:
		return nil, usageError{fmt.Sprintf("unexpected arguments %q", args)}
	case f.sha256 == "" || f.size < 0:
		return nil, usageError{"--sha256 and --size are required"}
	}
	return a.GrantPut(ctx, attach.GrantPutOptions{
		PutOptions: attach.PutOptions{MediaType: f.mediaType, Label: f.label},
		SHA256:     f.sha256, Size: f.size, Expires: f.expires,
		MultipartThreshold: f.threshold, PartSize: f.partSize,
	})
}

func seal(ctx context.Context, a *attach.Store, args []string, _ *attachFlags) (any, error) {
	if len(args) > 1 {
		return nil, usageError{fmt.Sprintf("unexpected arguments %q", args[1:])}
	}
	var r io.Reader = os.Stdin
	if len(args) == 1 && args[0] != "-" {
		file, err := os.Open(args[0])
		if err != nil {
			return nil, usageError{err.Error()}
		}
		defer file.Close()
		r = file
	}
	var g attach.UploadGrant
	if err := json.NewDecoder(r).Decode(&g); err != nil {
		return nil, usageError{fmt.Sprintf("reading the grant: %v", err)}
	}
	ref, err := a.Seal(ctx, g)
	if err != nil {
		return nil, err
	}
	return refRowOf(ref), nil
}

func grantGet(ctx context.Context, a *attach.Store, args []string, f *attachFlags) (any, error) {
	switch {
	case len(args) > 0:
		return nil, usageError{fmt.Sprintf("unexpected arguments %q", args)}
	case f.id == "":
		return nil, usageError{"--id is required"}
	}
	return a.GrantGet(ctx, f.id, attach.GrantGetOptions{Expires: f.expires, Filename: f.filename})
}

// curl prints the curl commands that send file through the grant in
// grantFile: one PUT, or one per part (each cut from the file with tail and
// head). It opens no store.
func (e *env) curl(args []string) int {
	if len(args) != 2 {
		return e.usageErr("attach curl", "want GRANT.json FILE")
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return e.usageErr("attach curl", "%v", err)
	}
	var g attach.UploadGrant
	if err := json.Unmarshal(data, &g); err != nil {
		return e.usageErr("attach curl", "reading the grant: %v", err)
	}
	file := shellQuote(args[1])
	if g.Put != nil {
		fmt.Fprintln(e.stdout, curlLine(*g.Put, "@"+file))
		return exitOK
	}
	for i, part := range g.Parts {
		off := int64(i) * g.PartSize
		n := min(g.PartSize, g.Size-off)
		fmt.Fprintf(e.stdout, "tail -c +%d %s | head -c %d | %s\n", off+1, file, n, curlLine(part, "@-"))
	}
	return exitOK
}

// curlLine is a curl command sending req with the body data (curl's
// --data-binary syntax) and every signed header.
func curlLine(req objstore.PresignedRequest, data string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "curl -sS --fail-with-body -o /dev/null -X %s", req.Method)
	keys := slices.Sorted(maps.Keys(req.Header))
	for _, k := range keys {
		if strings.EqualFold(k, "Content-Length") {
			continue // curl sends the body's length
		}
		for _, v := range req.Header[k] {
			fmt.Fprintf(&b, " -H %s", shellQuote(k+": "+v))
		}
	}
	fmt.Fprintf(&b, " --data-binary %s %s", data, shellQuote(req.URL))
	return b.String()
}

// shellQuote quotes s for a POSIX shell.
func shellQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'" }
