package attach_test

import (
	"encoding/json"
	"net/http"
	"sync"

	"github.com/stowage-dev/stowage/attach"
)

// pending holds the grants handed out, by upload id, until they are sealed.
var pending sync.Map

// grantHandlers is docs/attachments.md's "In a web service" example,
// verbatim.
func grantHandlers(a *attach.Store) *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /uploads", func(w http.ResponseWriter, r *http.Request) {
		var req struct {
			SHA256    string `json:"sha256"`
			Size      int64  `json:"size"`
			MediaType string `json:"media_type"`
		}
		if err := json.NewDecoder(r.Body).Decode(&req); err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		g, err := a.GrantPut(r.Context(), attach.GrantPutOptions{
			SHA256: req.SHA256, Size: req.Size, PutOptions: attach.PutOptions{MediaType: req.MediaType},
		})
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		pending.Store(g.UploadID, g) // the agent keeps the grant; the client gets the requests
		json.NewEncoder(w).Encode(map[string]any{"upload_id": g.UploadID, "put": g.Put, "parts": g.Parts, "part_size": g.PartSize})
	})
	mux.HandleFunc("POST /uploads/{id}/seal", func(w http.ResponseWriter, r *http.Request) {
		g, ok := pending.LoadAndDelete(r.PathValue("id"))
		if !ok {
			http.NotFound(w, r)
			return
		}
		ref, err := a.Seal(r.Context(), g.(attach.UploadGrant))
		if err != nil {
			http.Error(w, err.Error(), http.StatusConflict)
			return
		}
		json.NewEncoder(w).Encode(ref)
	})
	return mux
}

// The agent's HTTP service hands out grants and seals them; the bytes go
// from the client straight to the bucket.
func ExampleStore_GrantPut() {
	var a *attach.Store // attach.New(st.Manifest(), sessionID, nil) on an s3:// store
	srv := &http.Server{Addr: "127.0.0.1:8080", Handler: grantHandlers(a)}
	_ = srv // srv.ListenAndServe()
}
