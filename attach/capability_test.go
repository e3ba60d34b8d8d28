package attach_test

import (
	"reflect"
	"testing"

	"github.com/stowage-dev/stowage"
	"github.com/stowage-dev/stowage/attach"
	"github.com/stowage-dev/stowage/manifest"
	"github.com/stowage-dev/stowage/objstore"
	"github.com/stowage-dev/stowage/session"
)

// TestHandlesExposeNothingStoreWide: a session's two capabilities, its
// *session.Store and *attach.Store (docs/protocol.md, "Tenant isolation"),
// hand out nothing of the operator's: no exported method returns, and no
// exported field holds, the stowage.Store, a manifest.Store or an object
// store, through which a tenant would reach every session's rows and bytes.
func TestHandlesExposeNothingStoreWide(t *testing.T) {
	operators := []reflect.Type{
		reflect.TypeFor[*stowage.Store](),
		reflect.TypeFor[*manifest.Store](),
		reflect.TypeFor[session.HeadRefs](),
	}
	objects := reflect.TypeFor[objstore.Store]()
	storeWide := func(typ reflect.Type) bool {
		for _, o := range operators {
			if typ == o || typ.Kind() == reflect.Pointer && typ.Elem() == o {
				return true
			}
		}
		return typ.Implements(objects) || typ.Kind() != reflect.Interface && reflect.PointerTo(typ).Implements(objects)
	}
	for _, handle := range []reflect.Type{reflect.TypeFor[*attach.Store](), reflect.TypeFor[*session.Store]()} {
		for i := range handle.NumMethod() {
			m := handle.Method(i)
			for j := range m.Type.NumOut() {
				if out := m.Type.Out(j); storeWide(out) {
					t.Errorf("%v.%s returns %v: a tenant holding the handle reaches every session", handle, m.Name, out)
				}
			}
		}
		for i := range handle.Elem().NumField() {
			if f := handle.Elem().Field(i); f.IsExported() && storeWide(f.Type) {
				t.Errorf("%v has the exported field %s of type %v", handle, f.Name, f.Type)
			}
		}
	}
}
