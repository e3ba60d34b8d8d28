package objstoretest_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"iter"
	"os"
	"os/exec"
	"strings"
	"testing"

	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/objstore/memstore"
	"github.com/stowage-dev/stowage/objstore/objstoretest"
)

// A mutant is memstore with one contract violation, and the cases that must
// catch it.
type mutant struct {
	name  string
	cases []string
	wrap  func(objstore.Store) objstore.Store
}

var mutants = []mutant{
	{"unconditional-put", []string{"CreateOnlyRace", "CompareAndSwapRace", "StaleETag", "IfMatchMissing"},
		func(s objstore.Store) objstore.Store { return unconditionalPut{s} }},
	{"ignores-cancel", []string{"CancelledPut", "CancelledUpload"},
		func(s objstore.Store) objstore.Store { return ignoresCancel{s} }},
	{"list-loses-entry", []string{"ManyKeys"},
		func(s objstore.Store) objstore.Store { return listLosesEntry{s} }},
	{"unconditional-delete", []string{"ConditionalDelete"},
		func(s objstore.Store) objstore.Store { return unconditionalDelete{s} }},
	{"upload-ends-at-unexpected-eof", []string{"UploadReadError"},
		objstoretest.EndsAtUnexpectedEOF},
	{"upload-size-doubled", []string{"UploadSize"},
		func(s objstore.Store) objstore.Store { return uploadSizeDoubled{s} }},
	{"upload-size-of-gone-upload-is-zero", []string{"UploadSize"},
		func(s objstore.Store) objstore.Store { return uploadSizeGoneIsZero{s} }},
}

type unconditionalPut struct{ objstore.Store }

func (m unconditionalPut) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	var o objstore.PutOptions
	if opts != nil {
		o = *opts
	}
	o.IfNoneMatch, o.IfMatch = false, ""
	return m.Store.Put(ctx, key, data, &o)
}

type ignoresCancel struct{ objstore.Store }

func (m ignoresCancel) Put(ctx context.Context, key string, data []byte, opts *objstore.PutOptions) (objstore.ObjectInfo, error) {
	return m.Store.Put(context.WithoutCancel(ctx), key, data, opts)
}

func (m ignoresCancel) Upload(ctx context.Context, key string, body io.Reader, opts *objstore.UploadOptions) (objstore.ObjectInfo, error) {
	return m.Store.Upload(context.WithoutCancel(ctx), key, body, opts)
}

type listLosesEntry struct{ objstore.Store }

func (m listLosesEntry) List(ctx context.Context, prefix string, opts *objstore.ListOptions) iter.Seq2[objstore.ObjectInfo, error] {
	return func(yield func(objstore.ObjectInfo, error) bool) {
		i := 0
		for info, err := range m.Store.List(ctx, prefix, opts) {
			if i++; i == 1001 { // a page boundary mishandled
				continue
			}
			if !yield(info, err) {
				return
			}
		}
	}
}

type unconditionalDelete struct{ objstore.Store }

func (m unconditionalDelete) Delete(ctx context.Context, key string, _ *objstore.DeleteOptions) error {
	return m.Store.Delete(ctx, key, nil)
}

type uploadSizeDoubled struct{ objstore.Store }

func (m uploadSizeDoubled) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	n, err := m.Store.UploadSize(ctx, key, uploadID)
	return 2 * n, err
}

type uploadSizeGoneIsZero struct{ objstore.Store }

func (m uploadSizeGoneIsZero) UploadSize(ctx context.Context, key, uploadID string) (int64, error) {
	n, err := m.Store.UploadSize(ctx, key, uploadID)
	if errors.Is(err, objstore.ErrNotExist) {
		return 0, nil
	}
	return n, err
}

const mutantEnv = "OBJSTORETEST_MUTANT"

// TestSuiteCatchesMutants runs the suite on each mutant in a child process
// and requires the named cases to fail there: the suite's checks can fail.
func TestSuiteCatchesMutants(t *testing.T) {
	if os.Getenv(mutantEnv) != "" {
		t.Skip("inside a mutant run")
	}
	for _, m := range mutants {
		t.Run(m.name, func(t *testing.T) {
			run := fmt.Sprintf("^TestMutant$/^(%s)$", strings.Join(m.cases, "|"))
			cmd := exec.CommandContext(t.Context(), os.Args[0], "-test.run="+run, "-test.count=1", "-test.v")
			cmd.Env = append(os.Environ(), mutantEnv+"="+m.name)
			out, err := cmd.CombinedOutput()
			if err == nil {
				t.Fatalf("the suite passed a store with %s:\n%s", m.name, out)
			}
			for _, c := range m.cases {
				if !strings.Contains(string(out), "--- FAIL: TestMutant/"+c+" ") {
					t.Errorf("case %s did not catch %s:\n%s", c, m.name, out)
				}
			}
		})
	}
}

// TestMutant is the child process of TestSuiteCatchesMutants.
func TestMutant(t *testing.T) {
	name := os.Getenv(mutantEnv)
	if name == "" {
		t.Skip("run by TestSuiteCatchesMutants")
	}
	for _, m := range mutants {
		if m.name == name {
			objstoretest.Run(t, objstoretest.Harness{New: func(t *testing.T) objstore.Store {
				s := memstore.New(nil)
				t.Cleanup(func() { s.Close() })
				return m.wrap(s)
			}})
			return
		}
	}
	t.Fatalf("unknown mutant %q", name)
}
