package daemon

import (
	"encoding/json"
	"net/http"

	"github.com/migrate-dev/migrate/api"
	"github.com/migrate-dev/migrate/internal/buildinfo"
)

func (d *Daemon) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /v1/version", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, api.Version{Version: buildinfo.String(), Node: d.cfg.Name})
	})
	mux.HandleFunc("GET /v1/nodes", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, d.Nodes())
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusNotFound, api.Error{Error: "no such API route: " + r.Method + " " + r.URL.Path})
	})
	return mux
}

// Nodes is the cluster as this daemon sees it.
func (d *Daemon) Nodes() []api.Node {
	ms := d.cluster.Members()
	out := make([]api.Node, 0, len(ms))
	for _, m := range ms {
		out = append(out, api.Node{
			Name:         m.Name,
			Address:      m.Address,
			State:        string(m.State),
			QUICAddr:     m.Meta.QUICAddr,
			Load1:        m.Meta.Load1,
			MemAvailable: m.Meta.MemAvailable,
			Procs:        m.Meta.Procs,
			Version:      m.Meta.Version,
			Self:         m.Name == d.cfg.Name,
			Since:        m.Since,
		})
	}
	return out
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
